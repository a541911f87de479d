#!/usr/bin/env python3
"""Independent checks of Curia's RFC 3161 time stamps and witness policies, written from
docs/receipt-format.md section 15 (15.1-15.3) alone, with asn1crypto and `cryptography`.

    python3 curia_rfc3161.py token TOKEN_OR_TSR CHECKPOINT TSA_CERT   # prints genTime; 0 / 1 / 2
    python3 curia_rfc3161.py policy POLICY SIGNED_CHECKPOINT          # 0 / 1 / 2

CHECKPOINT is the checkpoint text, or the signed note (only its text is stamped).
"""
import base64
import datetime
import hashlib
import re
import sys

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

MAX_TOKEN = 65536
MAX_CERT = 32768
SHA256 = "2.16.840.1.101.3.4.2.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"
SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
RSA_ENC = "1.2.840.113549.1.1.1"
SHA256_RSA = "1.2.840.113549.1.1.11"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
EKU = "2.5.29.37"
TIME_STAMPING = "1.3.6.1.5.5.7.3.8"


class Invalid(Exception):
    """The token or checkpoint does not verify (exit 1)."""


def checkpoint_text(data: bytes) -> bytes:
    """15.1: the note text (before the last blank line) of a signed note, or the whole text."""
    i = data.rfind(b"\n\n")
    text = data[: i + 1] if i >= 0 else data
    lines = text.split(b"\n")
    if not text.endswith(b"\n") or len(lines) < 4 or not lines[0]:
        raise ValueError("not a checkpoint text")
    return text


def load_cert(data: bytes) -> bytes:
    """The DER of a certificate given as PEM (first CERTIFICATE block) or DER."""
    if len(data) > MAX_CERT:
        raise ValueError("certificate too large")
    m = re.search(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", data, re.S)
    return base64.b64decode(b"".join(m.group(1).split())) if m else data


def token_of(data: bytes) -> bytes:
    """A TimeStampResp (status granted or grantedWithMods) or a bare token -> token DER."""
    if len(data) > MAX_TOKEN:
        raise Invalid("time stamp too large")
    outer = core.Sequence.load(data)
    if outer.contents[:1] == b"\x06":
        return data
    resp = tsp.TimeStampResp.load(data)
    status = resp["status"]["status"].native
    if status not in ("granted", "granted_with_mods"):
        raise Invalid("TSA status %s" % status)
    if not resp["time_stamp_token"]:
        raise Invalid("no token")
    return resp["time_stamp_token"].dump()


def parse_gen_time(raw: str) -> datetime.datetime:
    m = re.fullmatch(r"(\d{14})(\.\d*[1-9])?Z", raw)
    if not m:
        raise Invalid("genTime form")
    t = datetime.datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)
    if m.group(2):
        t += datetime.timedelta(microseconds=int((m.group(2)[1:] + "000000")[:6]))
    return t


def verify_token(token_der: bytes, text: bytes, cert_der: bytes) -> dict:
    """15.2 steps 1-7; returns {'gen_time': GeneralizedTime text, 'rfc3339': ...}."""
    cert = ax509.Certificate.load(cert_der)
    tbs = cert["tbs_certificate"]
    # 1. extended key usage: one extension, critical, timeStamping alone.
    ekus = [e for e in tbs["extensions"] if e["extn_id"].dotted == EKU]
    if len(ekus) != 1 or not ekus[0]["critical"].native:
        raise Invalid("extended key usage missing, repeated or not critical")
    if [p.dotted for p in ekus[0]["extn_value"].parsed] != [TIME_STAMPING]:
        raise Invalid("extended key usage is not timeStamping alone")
    # 2. SignedData with one signer over an encapsulated TSTInfo.
    ci = cms.ContentInfo.load(token_der)
    if ci["content_type"].dotted != SIGNED_DATA:
        raise Invalid("not SignedData")
    sd = ci["content"]
    if len(sd["signer_infos"]) != 1:
        raise Invalid("signer count")
    eci = sd["encap_content_info"]
    if eci["content_type"].dotted != TST_INFO or not eci["content"]:
        raise Invalid("not an encapsulated TSTInfo")
    tst_bytes = eci["content"].contents
    si = sd["signer_infos"][0]
    # 3. signer identifier.
    sid = si["sid"]
    if sid.name == "issuer_and_serial_number":
        if sid.chosen["issuer"].dump() != tbs["issuer"].dump() or sid.chosen["serial_number"].native != tbs["serial_number"].native:
            raise Invalid("signed by another certificate")
    elif sid.chosen.native != cert.key_identifier:
        raise Invalid("signed by another certificate")
    # 4. digest algorithm and signed attributes.
    if si["digest_algorithm"]["algorithm"].dotted != SHA256:
        raise Invalid("digest algorithm")
    attrs = si["signed_attrs"]
    if not attrs:
        raise Invalid("no signed attributes")
    by_type = {}
    for a in attrs:
        by_type.setdefault(a["type"].dotted, []).append(a["values"])
    for oid in (CONTENT_TYPE, MESSAGE_DIGEST):
        if len(by_type.get(oid, [])) != 1 or len(by_type[oid][0]) != 1:
            raise Invalid("attribute %s missing or repeated" % oid)
    if by_type[CONTENT_TYPE][0][0].dotted != TST_INFO:
        raise Invalid("content-type attribute")
    if by_type[MESSAGE_DIGEST][0][0].native != hashlib.sha256(tst_bytes).digest():
        raise Invalid("message-digest does not match the TSTInfo")
    if SIGNING_CERT_V2 in by_type:
        first = by_type[SIGNING_CERT_V2][0][0]["certs"][0]
        if first["hash_algorithm"]["algorithm"].dotted != SHA256:
            raise Invalid("ESSCertIDv2 hash algorithm")
        want = hashlib.sha256(cert_der).digest()
    elif SIGNING_CERT in by_type:
        first = by_type[SIGNING_CERT][0][0]["certs"][0]
        want = hashlib.sha1(cert_der).digest()
    else:
        raise Invalid("no signing-certificate attribute")
    if first["cert_hash"].native != want:
        raise Invalid("signing-certificate hash is not the TSA certificate's")
    if first["issuer_serial"].native is not None:
        iss = first["issuer_serial"]
        names = [g.chosen.dump() for g in iss["issuer"] if g.name == "directory_name"]
        if tbs["issuer"].dump() not in names or iss["serial_number"].native != tbs["serial_number"].native:
            raise Invalid("issuerSerial does not name the TSA certificate")
    # 5. signature over the signed attributes as a SET OF.
    signed = b"\x31" + attrs.dump()[1:]
    sig = si["signature"].native
    alg = si["signature_algorithm"]["algorithm"].dotted
    key = cx509.load_der_x509_certificate(cert_der).public_key()
    try:
        if alg in (RSA_ENC, SHA256_RSA) and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        elif alg == ECDSA_SHA256 and isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
            key.verify(sig, signed, ec.ECDSA(hashes.SHA256()))
        else:
            raise Invalid("unsupported signature algorithm %s" % alg)
    except InvalidSignature:
        raise Invalid("signature does not verify")
    # 6. TSTInfo.
    tst = tsp.TSTInfo.load(tst_bytes)
    if tst["version"].native != "v1":
        raise Invalid("TSTInfo version")
    mi = tst["message_imprint"]
    if mi["hash_algorithm"]["algorithm"].dotted != SHA256 or mi["hash_algorithm"]["parameters"].native is not None:
        raise Invalid("imprint algorithm")
    if mi["hashed_message"].native != hashlib.sha256(text).digest():
        raise Invalid("the token stamps other data")
    # 7. genTime within the certificate's validity.
    raw = tst["gen_time"].contents.decode("ascii")
    gen = parse_gen_time(raw)
    validity = tbs["validity"]
    if not validity["not_before"].native <= gen <= validity["not_after"].native:
        raise Invalid("genTime outside the TSA certificate's validity")
    return {"gen_time": raw, "rfc3339": "%s-%s-%sT%s:%s:%s%sZ" % (raw[0:4], raw[4:6], raw[6:8], raw[8:10], raw[10:12], raw[12:14], raw[14:-1])}


# ----- signed notes, cosignature/v1 and policies (docs/transparency.md 2 and 4, 15.3) -----

def key_id(name: str, typ: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def parse_vkey(vkey: str):
    name, kid, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if not re.fullmatch(r"[0-9a-f]{8}", kid) or len(raw) != 33 or raw[0] not in (1, 4):
        raise ValueError("bad vkey %r" % vkey)
    if bytes.fromhex(kid) != key_id(name, raw[0], raw[1:]):
        raise ValueError("key ID mismatch in %r" % vkey)
    return name, bytes.fromhex(kid), raw[0], raw[1:]


def parse_policy(data: bytes):
    text = data.decode("utf-8")
    logs, witnesses, groups, quorum, seen_quorum = [], {}, {}, None, False
    for n, line in enumerate(text.split("\n"), 1):
        line = line[:-1] if line.endswith("\r") else line
        f = line.replace("\t", " ").split()
        if not f or f[0].startswith("#"):
            continue
        kw = f[0]
        if kw == "log" and len(f) in (2, 3):
            k = parse_vkey(f[1])
            if k[2] != 1 or k in logs:
                raise ValueError("line %d: log key" % n)
            logs.append(k)
        elif kw == "witness" and len(f) in (3, 4):
            name, k = f[1], parse_vkey(f[2])
            if name == "none" or name in witnesses or name in groups or k[2] != 4:
                raise ValueError("line %d: witness" % n)
            if any(w[0] == k[0] and w[1] == k[1] for w in witnesses.values()):
                raise ValueError("line %d: two witnesses with one key" % n)
            witnesses[name] = k
        elif kw == "group" and len(f) >= 4:
            name, th, members = f[1], f[2], f[3:]
            if name == "none" or name in witnesses or name in groups or len(set(members)) != len(members):
                raise ValueError("line %d: group" % n)
            if any(m not in witnesses and m not in groups for m in members):
                raise ValueError("line %d: undefined member" % n)
            k = 1 if th == "any" else len(members) if th == "all" else int(th) if re.fullmatch(r"[1-9][0-9]*", th) else 0
            if not 1 <= k <= len(members):
                raise ValueError("line %d: threshold" % n)
            groups[name] = (k, members)
        elif kw == "quorum" and len(f) == 2:
            if seen_quorum or (f[1] != "none" and f[1] not in witnesses and f[1] not in groups):
                raise ValueError("line %d: quorum" % n)
            seen_quorum, quorum = True, f[1]
        else:
            raise ValueError("line %d: %r" % (n, line))
    if not seen_quorum:
        raise ValueError("no quorum line")
    return logs, witnesses, groups, quorum


def check_policy(policy, note: bytes) -> dict:
    """15.3: whether a signed checkpoint satisfies the policy; returns the cosigning witnesses."""
    logs, witnesses, groups, quorum = policy
    i = note.rfind(b"\n\n")
    if i < 0:
        raise Invalid("not a signed note")
    text, sigs = note[: i + 1], note[i + 2:]
    checkpoint_text(text)
    log_ok, cosigned = False, {}
    for line in sigs.decode("utf-8").split("\n")[:-1]:
        if not line.startswith("\u2014 "):
            raise Invalid("signature line")
        name, b64 = line[2:].split(" ", 1)
        raw = base64.b64decode(b64, validate=True)
        kid, sig = raw[:4], raw[4:]
        for k in logs:
            if (k[0], k[1]) == (name, kid):
                try:
                    ed25519.Ed25519PublicKey.from_public_bytes(k[3]).verify(sig, text)
                except InvalidSignature:
                    raise Invalid("invalid log signature")
                log_ok = True
        for wname, k in witnesses.items():
            if (k[0], k[1]) == (name, kid):
                if len(sig) != 72:
                    raise Invalid("cosignature length")
                ts = int.from_bytes(sig[:8], "big")
                msg = b"cosignature/v1\ntime %d\n" % ts + text
                try:
                    ed25519.Ed25519PublicKey.from_public_bytes(k[3]).verify(sig[8:], msg)
                except InvalidSignature:
                    raise Invalid("invalid cosignature by %s" % wname)
                cosigned.setdefault(wname, ts)
    if logs and not log_ok:
        raise Invalid("no signature by a log key of the policy")

    def ok(name):
        if name in witnesses:
            return name in cosigned
        k, members = groups[name]
        return sum(1 for m in members if ok(m)) >= k

    if quorum != "none" and not ok(quorum):
        raise Invalid("quorum %s not satisfied" % quorum)
    return cosigned


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == "token":
            tok = open(argv[2], "rb").read(MAX_TOKEN + 1)
            text = checkpoint_text(open(argv[3], "rb").read(65537))
            cert = load_cert(open(argv[4], "rb").read(MAX_CERT + 1))
        elif len(argv) == 4 and argv[1] == "policy":
            policy = parse_policy(open(argv[2], "rb").read(65537))
            note = open(argv[3], "rb").read(65537)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, ValueError) as e:
        print("unusable input: %s" % e, file=sys.stderr)
        return 2
    try:
        if argv[1] == "token":
            print("genTime: %s" % verify_token(token_of(tok), text, cert)["rfc3339"])
        else:
            print("witnesses: %s" % " ".join(sorted(check_policy(policy, note))))
        print("VALID")
        return 0
    except (Invalid, ValueError, KeyError, IndexError, TypeError) as e:
        print("INVALID: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
