#!/usr/bin/env python3
"""Independent verification of an upgraded receipt (docs/receipt-format.md section 15.4, with
14.1 for the deposit's leaf, 15.2 for the token and 15.3 for the policy), written from the spec:
the receipt checks of section 8 (curia_verify.py), then log_checkpoint, log_inclusion and, given a
TSA certificate, log_tsa.

    python3 curia_upgrade.py EVIDENCE RECEIPT GENESIS POLICY [TSA_CERT]    # exit 0 / 1 / 2
"""
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import curia_rfc3161 as r  # noqa: E402
import curia_verify as cv  # noqa: E402

HEADER = b"c2sp.org/tlog-proof@v1"
MAX_PROOF_TEXT = 65536 + 8192
MAX_TOKEN = 65536
MAX_CERT = 32768


def b64_canonical(s: str, what: str) -> bytes:
    """RFC 4648 standard, padded, canonical (re-encoding gives the same text)."""
    try:
        raw = base64.b64decode(s, validate=True)
    except ValueError:
        raise cv.Unusable("%s is not canonical standard base64" % what) from None
    if base64.b64encode(raw).decode() != s:
        raise cv.Unusable("%s is not canonical standard base64" % what)
    return raw


def parse_tlog_proof(data: bytes):
    """15.4: header, optional extra, index, 0..63 hashes, blank line, the signed checkpoint note."""
    if len(data) > MAX_PROOF_TEXT:
        raise cv.Unusable("tlog-proof is too large")
    lines, rest = [], data
    while True:
        i = rest.find(b"\n")
        if i < 0:
            raise cv.Unusable("tlog-proof ends before the blank line")
        line, rest = rest[:i], rest[i + 1:]
        if line == b"" and len(lines) >= 2:
            break
        lines.append(line)
    if lines[0] != HEADER:
        raise cv.Unusable("tlog-proof header")
    k = 1
    if lines[k].startswith(b"extra "):
        if len(b64_canonical(lines[k][6:].decode("ascii", "replace"), "extra")) > 4096:
            raise cv.Unusable("extra too large")
        k += 1
    if k >= len(lines):
        raise cv.Unusable("tlog-proof has no index line")
    m = re.fullmatch(rb"index (0|[1-9][0-9]*)", lines[k])
    if not m or int(m.group(1)) >= 2**64:
        raise cv.Unusable("tlog-proof index line")
    hashes = [b64_canonical(h.decode("ascii", "replace"), "proof hash") for h in lines[k + 1:]]
    if len(hashes) > 63 or any(len(h) != 32 for h in hashes):
        raise cv.Unusable("tlog-proof hashes")
    check_note(rest)
    return int(m.group(1)), hashes, rest


def check_note(note: bytes) -> None:
    """The signed note's syntax (docs/transparency.md 2) and its text a checkpoint (3)."""
    try:
        s = note.decode("utf-8")
    except UnicodeDecodeError:
        raise cv.Unusable("checkpoint note is not UTF-8") from None
    i = s.rfind("\n\n")
    if i < 0 or any(ord(c) < 0x20 and c != "\n" for c in s):
        raise cv.Unusable("checkpoint note syntax")
    text, sigs = s[: i + 1], s[i + 2:]
    if not sigs.endswith("\n") or any(not re.fullmatch("\u2014 [^ +]+ [A-Za-z0-9+/=]+", x) for x in sigs[:-1].split("\n")):
        raise cv.Unusable("checkpoint note signature lines")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or not re.fullmatch("0|[1-9][0-9]*", lines[1]) or "" in lines[3:]:
        raise cv.Unusable("checkpoint text")
    if len(b64_canonical(lines[2], "checkpoint root")) != 32:
        raise cv.Unusable("checkpoint root is not 32 bytes")


def parse_log_member(v) -> dict:
    if not isinstance(v, dict):
        raise cv.Unusable("log is not an object")
    extra = set(v) - {"proof", "tsa_token", "tsa_chain"}
    if extra:
        raise cv.Unusable("log: unknown field %s" % sorted(extra)[0])
    if not isinstance(v.get("proof"), str):
        raise cv.Unusable("log.proof is missing or not a string")
    index, hashes, note = parse_tlog_proof(v["proof"].encode("utf-8"))
    token = v.get("tsa_token")
    if token is not None:
        if not isinstance(token, str):
            raise cv.Unusable("log.tsa_token is not a string")
        token = b64_canonical(token, "log.tsa_token")
        if len(token) > MAX_TOKEN:
            raise cv.Unusable("log.tsa_token is too large")
    chain = v.get("tsa_chain", [])
    if not isinstance(chain, list) or len(chain) > 8:
        raise cv.Unusable("log.tsa_chain")
    for i, c in enumerate(chain):
        if not isinstance(c, str) or len(b64_canonical(c, "log.tsa_chain[%d]" % i)) > MAX_CERT:
            raise cv.Unusable("log.tsa_chain[%d]" % i)
    return {"index": index, "proof": hashes, "note": note, "token": token}


def deposit_leaf(rc) -> bytes:
    """14.1: SHA-256(0x00 || deposit ID || commitment); a batch item's commitment is its own."""
    c = rc.item["commitment"] if rc.item is not None else rc.tx["payload"]["commitment"]
    return cv.leaf_hash(rc.deposit_id + c)


def log_checks(rc, log: dict, policy, cert_der):
    """[(name, ok, detail)], the verified genTime (RFC 3339) or None."""
    checks, gen_time = [], None
    note = log["note"]
    i = note.rfind(b"\n\n")
    text = note[: i + 1] if i >= 0 else b""
    try:
        cosigned = r.check_policy(policy, note)
        checks.append(("log_checkpoint", True, "cosigned by " + ", ".join(sorted(cosigned))))
    except (r.Invalid, ValueError, KeyError, IndexError, UnicodeDecodeError) as e:
        checks.append(("log_checkpoint", False, str(e)))
    lines = text.split(b"\n")
    size, root = int(lines[1]), base64.b64decode(lines[2])
    err = cv.verify_inclusion(deposit_leaf(rc), log["index"], size, log["proof"], root)
    checks.append(("log_inclusion", err is None, err or "leaf %d of %d" % (log["index"], size)))
    if cert_der is not None:
        if log["token"] is None:
            checks.append(("log_tsa", False, "no time-stamp token"))
        else:
            try:
                gen_time = r.verify_token(r.token_of(log["token"]), text, cert_der)["rfc3339"]
                checks.append(("log_tsa", True, "genTime " + gen_time))
            except (r.Invalid, ValueError, KeyError, IndexError, TypeError) as e:
                checks.append(("log_tsa", False, str(e)))
    return checks, gen_time


def verify_upgraded(evidence, receipt: bytes, genesis: bytes, policy_bytes: bytes, cert_der):
    """(exit code, text). The receipt's own checks (section 8) are curia_verify's."""
    try:
        policy = r.parse_policy(policy_bytes)
        v = cv.load_json(receipt, "receipt", reject_duplicates=False)
        log = parse_log_member(v["log"]) if isinstance(v, dict) and "log" in v else None
    except (cv.Unusable, ValueError) as e:
        return 2, "UNUSABLE INPUT: %s\n" % e
    code, rep, text = cv.verify_data(evidence, receipt, genesis)
    if rep is None:
        return code, text
    rc = cv.parse_receipt(receipt)
    if log is None:
        checks, gen_time = [("log", False, "the receipt is not upgraded")], None
    else:
        checks, gen_time = log_checks(rc, log, policy, cert_der)
    out = [text, "Deposit log and witnesses (policy)"]
    out += ["  [%s] %-14s %s" % ("PASS" if ok else "FAIL", n, d) for n, ok, d in checks]
    out.append("  validators     %s" % cv.format_utc(rep.commit_time_ms))
    out.append("  TSA genTime    %s" % (gen_time or "none checked"))
    valid = rep.valid and all(ok for _, ok, _ in checks)
    out.append("POLICY VERDICT: %s" % ("VALID" if valid else "INVALID"))
    return (0 if valid else 1), "\n".join(out) + "\n"


def main(argv) -> int:
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    try:
        evidence = cv.hash_file(argv[1])
        receipt = cv.read_file(argv[2], "receipt", cv.MAX_RECEIPT_BYTES)
        genesis = cv.read_file(argv[3], "genesis", cv.MAX_GENESIS_BYTES)
        policy = cv.read_file(argv[4], "policy", 65536)
        cert = r.load_cert(cv.read_file(argv[5], "TSA certificate", MAX_CERT)) if len(argv) == 6 else None
    except (cv.Unusable, ValueError) as e:
        sys.stdout.write("UNUSABLE INPUT: %s\n" % e)
        return 2
    code, text = verify_upgraded(evidence, receipt, genesis, policy, cert)
    sys.stdout.write(text)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
