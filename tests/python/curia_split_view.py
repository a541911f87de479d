"""Independent checker of proofs of split view, written from docs/receipt-format.md section 16
(format 16.1, checks 16.3) and 14.2 (validator checkpoint signatures).

Usage: curia_split_view.py FILE GENESIS [VKEY...]
  FILE: a curia-split-view/v1 proof; GENESIS: the chain's genesis.json; VKEY: trusted witness
  cosignature/v1 vkeys. The validator set is the genesis set at every height (no membership
  history: use `curia log check-proof --membership` once the set changed).
Exit 0: proves a split view; 1: does not; 2: malformed file or unusable input.
"""
import hashlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import curia_rfc3161 as r  # noqa: E402
import curia_upgrade as up  # noqa: E402
import curia_verify as cv  # noqa: E402

MAX_FILE = 262144
MAX_CONSISTENCY = 63
MAX_FROM = 1024
FORMAT = "curia-split-view/v1"
KEYS = {"format", "first", "second", "prefix_root", "consistency", "first_from", "second_from"}
REQUIRED = KEYS - {"first_from", "second_from"}


class NotProven(Exception):
    pass


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list) -> bool:
    """RFC 9162 2.1.4.2."""
    if size1 > size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0 or not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path = [root1] + path
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


def hex32(v, what: str) -> bytes:
    if not isinstance(v, str) or not re.fullmatch("[0-9a-f]{64}", v):
        raise cv.Unusable("%s is not 64 lowercase hex digits" % what)
    return bytes.fromhex(v)


def parse_note(s: str, what: str):
    """(text, [(name, key_id, sig)], origin, size, root, extension lines); syntax per 14.2 / transparency 2-3."""
    b = s.encode("utf-8")
    if len(b) > 65536:
        raise cv.Unusable("%s: note too large" % what)
    try:
        up.check_note(b)
    except cv.Unusable as e:
        raise cv.Unusable("%s: %s" % (what, e)) from None
    i = s.rfind("\n\n")
    text, sigs = s[: i + 1], s[i + 2:]
    lines = sigs[:-1].split("\n")
    if len(lines) > 100:
        raise cv.Unusable("%s: too many signature lines" % what)
    out = []
    for line in lines:
        name, b64 = line[2:].split(" ", 1)
        raw = up.b64_canonical(b64, "%s signature" % what)
        if len(raw) < 5:
            raise cv.Unusable("%s: signature too short" % what)
        out.append((name, raw[:4], raw[4:]))
    tl = text[:-1].split("\n")
    size = int(tl[1])
    if size >= 1 << 64:
        raise cv.Unusable("%s: size does not fit 64 bits" % what)
    return text, out, tl[0], size, up.b64_canonical(tl[2], "root"), tl[3:]


def parse_file(data: bytes) -> dict:
    if len(data) > MAX_FILE:
        raise cv.Unusable("file larger than %d bytes" % MAX_FILE)
    try:
        v = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise cv.Unusable("not JSON") from None
    if not isinstance(v, dict) or set(v) - KEYS or REQUIRED - set(v):
        raise cv.Unusable("members are not those of 16.1")
    if v["format"] != FORMAT:
        raise cv.Unusable("format")
    for k in ("first_from", "second_from"):
        if k in v and (not isinstance(v[k], str) or len(v[k].encode()) > MAX_FROM):
            raise cv.Unusable(k)
    if not isinstance(v["first"], str) or not isinstance(v["second"], str):
        raise cv.Unusable("notes are not strings")
    first, second = parse_note(v["first"], "first"), parse_note(v["second"], "second")
    if first[3] > second[3]:
        raise cv.Unusable("first is larger than second")
    c = v["consistency"]
    if not isinstance(c, list) or len(c) > MAX_CONSISTENCY:
        raise cv.Unusable("consistency")
    return {"first": first, "second": second, "prefix_root": hex32(v["prefix_root"], "prefix_root"),
            "consistency": [hex32(h, "consistency") for h in c]}


def validator_power(note, spec) -> int:
    """14.2 steps 1-5 under the genesis set: the signing power, or NotProven."""
    text, sigs, origin, _, _, ext = note
    if origin != "curia/" + spec.chain_id.hex():
        raise NotProven("origin is not the chain's")
    if len(ext) != 1 or not re.fullmatch("height (0|[1-9][0-9]*)", ext[0]):
        raise NotProven("no height line")
    signed = set()
    for name, kid, sig in sigs:
        for i, v in enumerate(spec.validators):
            if v["name"] == name and r.key_id(name, 1, v["key"]) == kid:
                if len(sig) != 64 or cv.ed25519_verify_strict(v["key"], text.encode(), sig) is not None:
                    raise NotProven("invalid signature for key %s" % name)
                signed.add(i)
    power = sum(spec.validators[i]["power"] for i in signed)
    if power < spec.quorum_power:
        raise NotProven("quorum not met")
    return signed


def cosigned(note, w) -> bool:
    text, sigs = note[0], note[1]
    name, kid, _, key = w
    for n, k, sig in sigs:
        if n == name and k == kid and len(sig) == 72:
            t = int.from_bytes(sig[:8], "big")
            msg = b"cosignature/v1\ntime %d\n" % t + text.encode()
            if t < 1 << 63 and cv.ed25519_verify_strict(key, msg, sig[8:]) is None:
                return True
    return False


def check(data: bytes, genesis: bytes, vkeys: list):
    """(exit code, message)."""
    try:
        spec = cv.parse_genesis(genesis)
        ws = [r.parse_vkey(k) for k in vkeys]
        if any(w[2] != 4 for w in ws):
            raise cv.Unusable("a witness key is not a cosignature/v1 key")
        f = parse_file(data)
    except (cv.Unusable, ValueError) as e:
        return 2, "UNUSABLE: %s" % e
    a, b = f["first"], f["second"]
    if a[2] != "curia/" + spec.chain_id.hex() or b[2] != a[2]:
        return 1, "INVALID: not both of this chain's log"
    if not verify_consistency(a[3], b[3], f["prefix_root"], b[4], f["consistency"]):
        return 1, "INVALID: consistency proof does not verify"
    if f["prefix_root"] == a[4]:
        return 1, "INVALID: consistent"
    who = []
    try:
        both = validator_power(a, spec) & validator_power(b, spec)
        who += ["validator " + spec.validators[i]["name"] for i in sorted(both)]
        validators_ok = True
    except NotProven:
        validators_ok = False
    witnesses = [w[0] for w in ws if cosigned(a, w) and cosigned(b, w)]
    who += ["witness " + w for w in witnesses]
    if not validators_ok and not witnesses:
        return 1, "INVALID: nobody vouched for both"
    return 0, "VALID: " + ", ".join(who)


def main(argv) -> int:
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    try:
        data = cv.read_file(argv[1], "proof", MAX_FILE)
        genesis = cv.read_file(argv[2], "genesis", cv.MAX_GENESIS_BYTES)
    except (cv.Unusable, ValueError) as e:
        sys.stdout.write("UNUSABLE: %s\n" % e)
        return 2
    code, text = check(data, genesis, argv[3:])
    sys.stdout.write(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
