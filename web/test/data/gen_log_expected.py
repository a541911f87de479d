# Builds web/test/data/log-curia-verify.json: what `curia verify --json` answers for the
# receipt-log-* fixtures and tampered copies of them (mutations named as in log.test.mjs).
import copy, json, os, subprocess, sys, tempfile
C = sys.argv[1]
D = 'ledger/tests/data/golden'
def flip(h): return ('0' if h[0] != '0' else '1') + h[1:]
MUT = {
  'as-is': lambda r: None,
  'log_proof[0]-altered': lambda r: r['log_proof'].__setitem__(0, flip(r['log_proof'][0])),
  'log_index-xor-1': lambda r: r.__setitem__('log_index', r['log_index'] ^ 1),
  'log_proof-truncated': lambda r: r.__setitem__('log_proof', r['log_proof'][:-1]),
  'header.log_root-zeroed': lambda r: r['header'].__setitem__('log_root', '00' * 32),
  'header.log_size-plus-1': lambda r: r['header'].__setitem__('log_size', r['header']['log_size'] + 1),
  'version-1-without-log-fields': lambda r: (r.__setitem__('version', 1), r.pop('log_index'), r.pop('log_proof')),
  'empty-membership': lambda r: r.__setitem__('membership', []),
  'no-log_index': lambda r: r.pop('log_index'),
  'no-log_proof': lambda r: r.pop('log_proof'),
  'version-2': lambda r: r.__setitem__('version', 2),
  'version-4': lambda r: r.__setitem__('version', 4),
  'header-without-log_root': lambda r: r['header'].pop('log_root'),
  'header-without-log_size': lambda r: r['header'].pop('log_size'),
  'header-version-3': lambda r: r['header'].__setitem__('version', 3),
  'log_proof-short-hash': lambda r: r.__setitem__('log_proof', ['00']),
  'log_proof-not-array': lambda r: r.__setitem__('log_proof', r['log_proof'][0] if r['log_proof'] else '00'),
  'log_proof-65-hashes': lambda r: r.__setitem__('log_proof', ['00' * 32] * 65),
  'log_index-negative': lambda r: r.__setitem__('log_index', -1),
  'log_index-2^64': lambda r: r.__setitem__('log_index', 2 ** 64),
  'log_index-string': lambda r: r.__setitem__('log_index', '0'),
  'unknown-top-level-key': lambda r: r.__setitem__('log_extra', 1),
  'unknown-header-key': lambda r: r['header'].__setitem__('log_extra', 1),
}
out = {'comment': 'What `curia verify --json` (exit code, report) answers for the receipt-log-* fixtures of ledger/tests/data/golden and tampered copies (mutations: web/test/log.test.mjs). Regenerate with python3 web/test/data/gen_log_expected.py CURIA_BIN from the repository root.', 'cases': {}}
for n in ('single', 'salted', 'batch'):
    base = json.load(open(f'{D}/receipt-log-{n}.json'))
    for m, f in MUT.items():
        r = copy.deepcopy(base)
        f(r)
        with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as t:
            json.dump(r, t, indent=2)
        p = subprocess.run([C, 'verify', f'{D}/evidence-log-{n}.bin', '--receipt', t.name, '--genesis',
                            f'{D}/genesis-log.json', '--json'], capture_output=True, text=True)
        os.unlink(t.name)
        case = {'code': p.returncode}
        if p.returncode in (0, 1):
            case['report'] = json.loads(p.stdout)
        out['cases'][f'log-{n}/{m}'] = case
    # Under the genesis without the switch.
    p = subprocess.run([C, 'verify', f'{D}/evidence-log-{n}.bin', '--receipt', f'{D}/receipt-log-{n}.json',
                        '--genesis', f'{D}/genesis.json', '--json'], capture_output=True, text=True)
    case = {'code': p.returncode}
    if p.returncode in (0, 1):
        case['report'] = json.loads(p.stdout)
    out['cases'][f'log-{n}/plain-genesis'] = case
json.dump(out, open('web/test/data/log-curia-verify.json', 'w'), indent=1)
open('web/test/data/log-curia-verify.json', 'a').write('\n')
