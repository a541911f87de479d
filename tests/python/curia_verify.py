#!/usr/bin/env python3
"""Independent verifier of Curia receipts, written from docs/receipt-format.md (not from the Rust).

Usage: python3 curia_verify.py [--membership HISTORY] (EVIDENCE_FILE | --digest HEX) RECEIPT_FILE GENESIS_JSON

`--membership HISTORY` (a document of section 13.4, as `curia membership export` writes it) is
used only for a receipt that embeds no history: the entries in force at its height are taken from
it. A history for another chain, or one that cannot be read, is unusable input.

Prints every check and a verdict. Exit status: 0 valid, 1 invalid, 2 unusable input.
Only hashlib and the `cryptography` package are used; the ed25519 rules that `cryptography` does
not enforce (small-order keys and R, the cofactored equation of section 6.3) are implemented here.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

# ---------------------------------------------------------------------------------------------
# Limits (doc section 10)

MAX_NAME = 64
MAX_ADDRESS = 256
MAX_MEDIA_TYPE = 128
MAX_LABEL = 256
MAX_REFERENCE = 256
MAX_CASE_ID = 64
MAX_NOTE = 1024
MAX_BATCH_ITEMS = 10_000
MAX_BLOCK_TXS = 20_000
MAX_VALIDATORS = 128
MAX_APPROVALS = 128
MAX_POWER = 1 << 40
MAX_GENESIS_CLIENTS = 100_000
MAX_GENESIS_BYTES = 64 << 20
MAX_RECEIPT_BYTES = 1 << 20
MAX_PROOF_LEN = 64
HASH_CHUNK = 1 << 20  # evidence is streamed through SHA-256 in chunks of this size: no size limit

RECEIPT_MAGIC = b"CURIARCT"
RECEIPT_FORMAT = "curia-receipt"

TAG_GENESIS = "curia/v1/genesis"
TAG_VALIDATORS = "curia/v1/validators"
TAG_TX = "curia/v1/tx"
TAG_BATCH_ITEM = "curia/v1/batch-item"
TAG_SALTED = "curia/v1/salted"
TAG_HEADER = "curia/v1/header"
TAG_VOTE = "curia/v1/vote"
TAG_CERT = "curia/v1/cert"
TAG_MEMBERSHIP = "curia/v1/membership"

VALIDATOR_ROLES = {"court": 1, "notary": 2, "timesvc": 3, "mediation": 4, "forensic": 5}
VALIDATOR_ROLE_NAMES = {v: k for k, v in VALIDATOR_ROLES.items()}
CLIENT_ROLES = {"platform": 1, "judge": 2, "auditor": 3, "registrar": 4}
CLIENT_ROLE_NAMES = {v: k for k, v in CLIENT_ROLES.items()}


class Unusable(Exception):
    """Input that cannot be read at all (exit 2)."""


# ---------------------------------------------------------------------------------------------
# Hashing (doc section 2)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tagged(tag: str, *parts: bytes) -> bytes:
    t = tag.encode("ascii")
    assert 8 <= len(t) < 256
    h = hashlib.sha256(bytes([len(t)]) + t)
    for p in parts:
        h.update(p)
    return h.digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def merkle_root(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 6962 2.1)."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> Optional[str]:
    """RFC 9162 2.1.3.2. Returns None if the proof is valid, else the reason."""
    if len(proof) > MAX_PROOF_LEN:
        return f"proof has {len(proof)} hashes, more than the maximum {MAX_PROOF_LEN}"
    if index >= size:
        return f"index {index} out of range for tree size {size}"
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return "proof is too long for the position"
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return "proof is too short for the position"
    if r != root:
        return f"computed root {r.hex()} does not match expected root {root.hex()}"
    return None


# ---------------------------------------------------------------------------------------------
# ed25519 (doc section 6)

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(b: bytes) -> Optional[tuple[int, int]]:
    """Section 6.2: y reduced mod p (non-canonical accepted); even root, negated if the sign bit is set."""
    if len(b) != 32:
        return None
    n = int.from_bytes(b, "little")
    sign = n >> 255
    y = (n & ((1 << 255) - 1)) % P
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    # x = sqrt(u/v): candidate (u v^3)(u v^7)^((p-5)/8)
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    vx2 = (v * x * x) % P
    if vx2 == u:
        pass
    elif vx2 == (-u) % P:
        x = (x * SQRT_M1) % P
    else:
        return None
    if x & 1:
        x = P - x
    if sign:
        x = (-x) % P
    return (x, y)


def key_problem(b: bytes) -> Optional[str]:
    """Section 3.1 / 6.2: why a genesis or registry key is refused, or None if it is acceptable:
    it must decode, be canonically encoded (re-encoding the decoded point gives the same bytes:
    `y < p`, and no sign bit when `x = 0`), and not be of small order."""
    pt = decode_point(b)
    if pt is None:
        return "is not a curve point"
    n = int.from_bytes(b, "little")
    if (n & ((1 << 255) - 1)) >= P or (pt[0] == 0 and n >> 255):
        return "is not canonically encoded"
    if is_small_order(pt):
        return "is of small order"
    return None


def _point_add(p1: tuple[int, int, int, int], p2: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Addition in extended coordinates (X, Y, Z, T), as in RFC 8032 section 6."""
    a = (p1[1] - p1[0]) * (p2[1] - p2[0]) % P
    b = (p1[1] + p1[0]) * (p2[1] + p2[0]) % P
    c = 2 * p1[3] * p2[3] * D % P
    d = 2 * p1[2] * p2[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def is_small_order(pt: tuple[int, int]) -> bool:
    """Whether 8 * pt is the identity."""
    x, y = pt
    q = (x, y, 1, x * y % P)
    for _ in range(3):
        q = _point_add(q, q)
    return q[0] % P == 0 and (q[1] - q[2]) % P == 0


B_POINT = (
    15112221349535400772501151409588531511454012693041857206046113283949847762202,
    46316835694926478169428394003475163141307993866256225615783033603165251855960,
)


def _ext(pt: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y = pt
    return (x, y, 1, x * y % P)


def _neg(q: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return ((-q[0]) % P, q[1], q[2], (-q[3]) % P)


def _scalar_mul(n: int, q: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """n * q by double-and-add (variable time: only public values are multiplied here)."""
    acc = (0, 1, 1, 0)
    while n > 0:
        if n & 1:
            acc = _point_add(acc, q)
        q = _point_add(q, q)
        n >>= 1
    return acc


def _is_identity(q: tuple[int, int, int, int]) -> bool:
    return q[0] % P == 0 and (q[1] - q[2]) % P == 0


def _signature_prechecks(key: bytes, sig: bytes) -> tuple[Optional[str], Any, Any]:
    """Steps 1-3 of section 6.3 (6.4 shares them): the reason for a refusal, else None and the
    decoded key and R."""
    if len(key) != 32 or len(sig) != 64:
        return "wrong key or signature length", None, None
    if int.from_bytes(sig[32:], "little") >= L:
        return "non-canonical S (S >= L)", None, None
    a = decode_point(key)
    if a is None:
        return "key is not a curve point", None, None
    if is_small_order(a):
        return "key is of small order", None, None
    r = decode_point(sig[:32])
    if r is None:
        return "R is not a curve point", None, None
    if is_small_order(r):
        return "R is of small order", None, None
    n = int.from_bytes(sig[:32], "little")
    if (n & ((1 << 255) - 1)) >= P or (r[0] == 0 and n >> 255):
        return "R is not canonically encoded", None, None
    return None, a, r


def _openssl_verifies(key: bytes, msg: bytes, sig: bytes) -> bool:
    """RFC 8032's cofactorless check as OpenSSL does it (S < L; encode(S*B - k*A) == R bytes)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


def ed25519_verify(key: bytes, msg: bytes, sig: bytes) -> Optional[str]:
    """Section 6.3, cofactored verification: steps 1-3, then 8*(S*B - k*A - R) is the identity with
    k = SHA-512(R || A || M) mod L. Returns None if valid, else the reason.

    Fast path: where OpenSSL's cofactorless check passes, the cofactored equation holds too (it is
    that equation times 8). Otherwise the cofactored equation is computed here, in pure Python."""
    why, a, r = _signature_prechecks(key, sig)
    if why is not None:
        return why
    if _openssl_verifies(key, msg, sig):
        return None
    s = int.from_bytes(sig[32:], "little")
    k = int.from_bytes(hashlib.sha512(sig[:32] + key + msg).digest(), "little") % L
    q = _point_add(_scalar_mul(s, _ext(B_POINT)), _neg(_scalar_mul(k, _ext(a))))
    q = _point_add(q, _neg(_ext(r)))
    for _ in range(3):
        q = _point_add(q, q)
    if not _is_identity(q):
        return "signature equation does not hold"
    return None


def ed25519_verify_strict(key: bytes, msg: bytes, sig: bytes) -> Optional[str]:
    """Section 6.4, the cofactorless strict rule of signed notes (checkpoints, cosignatures):
    steps 1-3 of 6.3 and encode(S*B - k*A) == R bytes. Accepts a subset of ed25519_verify.
    Returns None if valid, else the reason."""
    why, _, _ = _signature_prechecks(key, sig)
    if why is not None:
        return why
    if not _openssl_verifies(key, msg, sig):
        return "signature equation does not hold"
    return None


# ---------------------------------------------------------------------------------------------
# Canonical encoding (doc section 1)


class Writer:
    def __init__(self) -> None:
        self.buf = bytearray()

    def u8(self, v: int) -> "Writer":
        self.buf += v.to_bytes(1, "big")
        return self

    def u16(self, v: int) -> "Writer":
        self.buf += v.to_bytes(2, "big")
        return self

    def u32(self, v: int) -> "Writer":
        self.buf += v.to_bytes(4, "big")
        return self

    def u64(self, v: int) -> "Writer":
        self.buf += v.to_bytes(8, "big")
        return self

    def fixed(self, b: bytes) -> "Writer":
        self.buf += b
        return self

    def str(self, s: str) -> "Writer":
        b = s.encode("utf-8")
        return self.u32(len(b)).fixed(b)

    def bytes(self) -> bytes:
        return bytes(self.buf)


class Reader:
    def __init__(self, buf: bytes, what: str) -> None:
        self.buf, self.pos, self.what = buf, 0, what

    def fail(self, reason: str) -> Unusable:
        return Unusable(f"cannot decode {self.what}: {reason} (at byte {self.pos})")

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise self.fail(f"truncated: need {n} more bytes, have {len(self.buf) - self.pos}")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def bool(self, name: str) -> bool:
        b = self.u8()
        if b not in (0, 1):
            raise self.fail(f"{name} byte {b} is neither 0 nor 1")
        return b == 1

    def str(self, name: str, limit: int) -> str:
        n = self.u32()
        if n > limit:
            raise self.fail(f"{name} length {n} exceeds limit {limit}")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{name} is not UTF-8") from None

    def option(self, f: Callable[[], Any]) -> Any:
        b = self.u8()
        if b == 0:
            return None
        if b == 1:
            return f()
        raise self.fail(f"option byte {b} is neither 0 nor 1")

    def list(self, name: str, limit: int, f: Callable[[], Any]) -> list:
        n = self.u32()
        if n > limit:
            raise self.fail(f"{name} count {n} exceeds limit {limit}")
        if n > len(self.buf) - self.pos:
            raise self.fail(f"{name} count {n} exceeds remaining input")
        return [f() for _ in range(n)]

    def finish(self) -> None:
        if self.pos != len(self.buf):
            raise self.fail(f"{len(self.buf) - self.pos} trailing bytes")


# ---------------------------------------------------------------------------------------------
# Strict JSON reading (doc sections 3.1, 7.1, 11)

HEX_RE = re.compile(r"[0-9a-fA-F]*\Z")
NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")
INT_RANGES = {"u8": 0xFF, "u16": 0xFFFF, "u32": 0xFFFF_FFFF, "u64": 0xFFFF_FFFF_FFFF_FFFF}


def _reject_constant(name: str) -> Any:
    raise Unusable(f"JSON constant {name} is not allowed")


class _NegativeZero:
    """`-0` in JSON: a float for serde_json, so never an integer (doc section 11)."""


def _parse_int(s: str) -> Any:
    return _NegativeZero() if s == "-0" else int(s)


def load_json(data: bytes, what: str, reject_duplicates: bool) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Unusable(f"bad {what} JSON: not UTF-8 ({e})") from None

    def pairs(items: list) -> dict:
        out: dict = {}
        for k, v in items:
            if reject_duplicates and k in out:
                raise Unusable(f"bad {what} JSON: duplicate field `{k}`")
            out[k] = v  # last occurrence wins
        return out

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=_reject_constant, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise Unusable(f"bad {what} JSON: {e}") from None
    except RecursionError:
        raise Unusable(f"bad {what} JSON: nested too deeply") from None


class Obj:
    """Reads fields of one JSON object, then rejects unknown keys."""

    def __init__(self, v: Any, where: str) -> None:
        if not isinstance(v, dict):
            raise Unusable(f"{where}: expected an object")
        self.v, self.where, self.seen = v, where, set()

    def has(self, k: str) -> bool:
        return k in self.v

    def raw(self, k: str, optional: bool = False) -> Any:
        self.seen.add(k)
        if k not in self.v:
            if optional:
                return None
            raise Unusable(f"{self.where}: missing field `{k}`")
        return self.v[k]

    def int(self, k: str, ty: str) -> int:
        x = self.raw(k)
        if not isinstance(x, int) or isinstance(x, bool):
            raise Unusable(f"{self.where}.{k}: expected an integer ({ty})")
        if x < 0 or x > INT_RANGES[ty]:
            raise Unusable(f"{self.where}.{k}: {x} is out of range for {ty}")
        return x

    def bool(self, k: str) -> bool:
        x = self.raw(k)
        if not isinstance(x, bool):
            raise Unusable(f"{self.where}.{k}: expected a boolean")
        return x

    def str(self, k: str) -> str:
        x = self.raw(k)
        if not isinstance(x, str):
            raise Unusable(f"{self.where}.{k}: expected a string")
        try:
            x.encode("utf-8")
        except UnicodeEncodeError:
            raise Unusable(f"{self.where}.{k}: not valid Unicode") from None
        return x

    def hex(self, k: str, n: int) -> bytes:
        return parse_hex(self.raw(k), n, f"{self.where}.{k}")

    def obj(self, k: str) -> "Obj":
        return Obj(self.raw(k), f"{self.where}.{k}")

    def list(self, k: str) -> list:
        x = self.raw(k)
        if not isinstance(x, list):
            raise Unusable(f"{self.where}.{k}: expected an array")
        return x

    def done(self) -> None:
        extra = set(self.v) - self.seen
        if extra:
            raise Unusable(f"{self.where}: unknown field `{sorted(extra)[0]}`")


def parse_hex(x: Any, n: int, where: str) -> bytes:
    if not isinstance(x, str):
        raise Unusable(f"{where}: expected a hex string")
    if not HEX_RE.match(x) or len(x) % 2:
        raise Unusable(f"{where}: bad hex")
    if len(x) != 2 * n:
        raise Unusable(f"{where}: expected {n} bytes, got {len(x) // 2}")
    return bytes.fromhex(x)


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def check_limit(s: str, limit: int, where: str) -> None:
    if utf8_len(s) > limit:
        raise Unusable(f"{where} length {utf8_len(s)} exceeds limit {limit}")


def is_name(s: str) -> bool:
    return bool(NAME_RE.match(s)) and s.isascii()


# ---------------------------------------------------------------------------------------------
# Genesis (doc section 3)


@dataclass
class Spec:
    chain_name: str
    genesis_time_ms: int
    validators: list[dict]
    clients: list[dict]
    canonical: bytes
    chain_id: bytes
    validators_hash: bytes
    total_power: int
    log_in_header: bool = False  # doc 3.1: headers commit to the deposit log (header version 4)

    @property
    def quorum_power(self) -> int:
        return self.total_power * 2 // 3 + 1


def genesis_canonical(version: int, chain_name: str, time_ms: int, validators: list[dict],
                      clients: list[dict], max_block_txs: int, max_batch_items: int,
                      log_in_header: bool = False) -> bytes:
    w = Writer().u16(version).str(chain_name).u64(time_ms)
    w.u32(len(validators))
    for v in validators:
        w.str(v["name"]).u8(VALIDATOR_ROLES[v["role"]]).fixed(v["key"]).u64(v["power"]).str(v["address"])
    w.u32(len(clients))
    for c in clients:
        w.str(c["name"]).u8(CLIENT_ROLES[c["role"]]).fixed(c["key"])
    w.u32(max_block_txs).u32(max_batch_items)
    if log_in_header:  # doc 3.2: one byte 1, only when the switch is on
        w.u8(1)
    return w.bytes()


def validators_hash(validators: list[dict]) -> bytes:
    w = Writer().u32(len(validators))
    for v in validators:
        w.str(v["name"]).u8(VALIDATOR_ROLES[v["role"]]).fixed(v["key"]).u64(v["power"])
    return tagged(TAG_VALIDATORS, w.bytes())


def parse_genesis(data: bytes) -> Spec:
    if len(data) > MAX_GENESIS_BYTES:
        raise Unusable(f"genesis is too large: {len(data)} > {MAX_GENESIS_BYTES}")
    o = Obj(load_json(data, "genesis", reject_duplicates=True), "genesis")
    version = o.int("version", "u16")
    chain_name = o.str("chain_name")
    time_ms = o.int("genesis_time_ms", "u64")
    vlist = o.list("validators")
    clist = o.list("clients")
    po = o.obj("params")
    max_block_txs = po.int("max_block_txs", "u32")
    max_batch_items = po.int("max_batch_items", "u32")
    po.done()
    log_in_header = o.raw("log_in_header", optional=True)
    if log_in_header is None:
        log_in_header = False
    elif not isinstance(log_in_header, bool):
        raise Unusable("genesis.log_in_header: expected a boolean")
    validators = []
    for i, x in enumerate(vlist):
        vo = Obj(x, f"genesis.validators[{i}]")
        role = vo.str("role")
        if role not in VALIDATOR_ROLES:
            raise Unusable(f"genesis.validators[{i}].role: unknown role {role!r}")
        validators.append({"name": vo.str("name"), "role": role, "key": vo.hex("key", 32),
                           "power": vo.int("power", "u64"), "address": vo.str("address")})
        vo.done()
    clients = []
    for i, x in enumerate(clist):
        co = Obj(x, f"genesis.clients[{i}]")
        role = co.str("role")
        if role not in CLIENT_ROLES:
            raise Unusable(f"genesis.clients[{i}].role: unknown role {role!r}")
        clients.append({"name": co.str("name"), "role": role, "key": co.hex("key", 32)})
        co.done()
    o.done()

    # Validation (section 3.1).
    if version != 1:
        raise Unusable(f"unsupported genesis version {version} (this verifier reads version 1)")
    if not is_name(chain_name):
        raise Unusable(f"invalid chain_name {chain_name!r}")
    if not 1 <= len(validators) <= MAX_VALIDATORS:
        raise Unusable(f"genesis needs 1 to {MAX_VALIDATORS} validators, has {len(validators)}")
    if len(clients) > MAX_GENESIS_CLIENTS:
        raise Unusable(f"genesis has more than {MAX_GENESIS_CLIENTS} clients")
    if not 1 <= max_block_txs <= MAX_BLOCK_TXS:
        raise Unusable(f"params.max_block_txs must be 1..={MAX_BLOCK_TXS}")
    if not 1 <= max_batch_items <= MAX_BATCH_ITEMS:
        raise Unusable(f"params.max_batch_items must be 1..={MAX_BATCH_ITEMS}")
    names: set[str] = set()
    keys: set[bytes] = set()
    for v in validators:
        if not is_name(v["name"]):
            raise Unusable(f"invalid validator name {v['name']!r}")
        if utf8_len(v["address"]) > MAX_ADDRESS:
            raise Unusable(f"validator {v['name']} address too long")
        if (why := key_problem(v["key"])) is not None:
            raise Unusable(f"validator {v['name']} key {why}")
        if not 1 <= v["power"] <= MAX_POWER:
            raise Unusable(f"validator {v['name']} power must be 1..={MAX_POWER}")
        if v["name"] in names:
            raise Unusable(f"duplicate name {v['name']}")
        names.add(v["name"])
        if v["key"] in keys:
            raise Unusable(f"duplicate key {v['key'].hex()}")
        keys.add(v["key"])
    for c in clients:
        if not is_name(c["name"]):
            raise Unusable(f"invalid client name {c['name']!r}")
        if (why := key_problem(c["key"])) is not None:
            raise Unusable(f"client {c['name']} key {why}")
        if c["name"] in names:
            raise Unusable(f"duplicate name {c['name']}")
        names.add(c["name"])
        if c["key"] in keys:
            raise Unusable(f"duplicate key {c['key'].hex()}")
        keys.add(c["key"])

    canonical = genesis_canonical(version, chain_name, time_ms, validators, clients, max_block_txs, max_batch_items,
                                  log_in_header)
    return Spec(chain_name, time_ms, validators, clients, canonical, tagged(TAG_GENESIS, canonical),
                validators_hash(validators), sum(v["power"] for v in validators), log_in_header)


# ---------------------------------------------------------------------------------------------
# Transactions (doc section 4)


def encode_body(body: dict) -> bytes:
    w = Writer().fixed(body["sender"]).u64(body["nonce"])
    p = body["payload"]
    k = p["kind"]
    if k == "deposit":
        w.u8(1).u8(1 if p["commitment_kind"] == "sha256" else 2).fixed(p["commitment"])
        w.str(p["media_type"]).u64(p["byte_length"]).str(p["label"]).str(p["reference"])
    elif k == "batch_deposit":
        w.u8(2).fixed(p["root"]).u32(p["count"]).u8(int(p["salted"]))
        w.str(p["media_type"]).str(p["label"]).str(p["reference"])
    elif k == "open_case":
        w.u8(3).str(p["case_id"]).str(p["title"])
    elif k == "attach_deposit":
        w.u8(4).str(p["case_id"]).fixed(p["deposit_id"])
    elif k == "record_verification":
        w.u8(5).str(p["case_id"]).fixed(p["deposit_id"]).u8(int(p["valid"])).fixed(p["report"]).str(p["note"])
    elif k == "close_case":
        w.u8(6).str(p["case_id"]).str(p["note"])
    elif k == "registry":
        w.u8(7)
        a = p["action"]
        if a["op"] == "add":
            w.u8(1).str(a["name"]).u8(CLIENT_ROLES[a["role"]]).fixed(a["key"])
        elif a["op"] == "remove":
            w.u8(2).fixed(a["key"])
        else:
            w.u8(3).fixed(a["old"]).fixed(a["new"])
        w.u32(len(p["approvals"]))
        for ap in p["approvals"]:
            w.u16(ap["validator"]).fixed(ap["signature"])
    elif k == "membership":
        w.u8(8).u64(p["seq"]).fixed(encode_change(p["change"]))
        w.u32(len(p["approvals"]))
        for ap in p["approvals"]:
            w.fixed(ap["key"]).fixed(ap["signature"])
    elif k == "evidence":
        w.u8(9).fixed(encode_evidence(p["evidence"]))
    else:  # pragma: no cover - parse_body only produces the kinds above
        raise AssertionError(k)
    return w.bytes()


def encode_change(c: dict) -> bytes:
    """Doc 4.1.2: a membership change."""
    w = Writer()
    if c["op"] == "add":
        v = c["validator"]
        w.u8(1).str(v["name"]).u8(VALIDATOR_ROLES[v["role"]]).fixed(v["key"]).u64(v["power"]).str(v["address"])
    elif c["op"] == "remove":
        w.u8(2).fixed(c["key"])
    elif c["op"] == "rotate":
        w.u8(3).fixed(c["old"]).fixed(c["new"])
    else:
        w.u8(4).fixed(c["key"]).u64(c["power"])
    return w.bytes()


# Doc 4.1.3: misbehaviour evidence. Each message is kept decoded (the fields an auditor reads)
# with its canonical signed bytes (`bytes`), which are what the encoding carries.
OFFENCE_TAGS = {"double_vote": 1, "double_proposal": 2}
OFFENCE_NAMES = {v: k for k, v in OFFENCE_TAGS.items()}
VOTE_KINDS = {1: "prevote", 2: "precommit"}
MAX_EVIDENCE_HEX = 1024  # hex digits per message in JSON


def decode_signed_vote(r: "Reader") -> dict:
    """Doc 5.2: `vote || sig (64)`."""
    start = r.pos
    chain_id, height, round_ = r.take(32), r.u64(), r.u32()
    kind = r.u8()
    if kind not in VOTE_KINDS:
        raise r.fail(f"unknown vote kind tag {kind}")
    block = r.option(lambda: r.take(32))
    time_ms, validator, sig = r.u64(), r.u16(), r.take(64)
    return {"chain_id": chain_id, "height": height, "round": round_, "kind": VOTE_KINDS[kind], "block": block,
            "time_ms": time_ms, "validator": validator, "signature": sig, "bytes": r.buf[start:r.pos]}


def decode_signed_proposal(r: "Reader") -> dict:
    """Doc 5.2.1: `proposal || sig (64)`."""
    start = r.pos
    chain_id, height, round_ = r.take(32), r.u64(), r.u32()
    pol_round = r.option(r.u32)
    block_hash, proposer, sig = r.take(32), r.u16(), r.take(64)
    return {"chain_id": chain_id, "height": height, "round": round_, "pol_round": pol_round,
            "block_hash": block_hash, "proposer": proposer, "signature": sig, "bytes": r.buf[start:r.pos]}


def decode_evidence(r: "Reader") -> dict:
    """Doc 4.1.3: `u8 offence tag || message a || message b`."""
    tag = r.u8()
    if tag == 1:
        a, b = decode_signed_vote(r), decode_signed_vote(r)
    elif tag == 2:
        a, b = decode_signed_proposal(r), decode_signed_proposal(r)
    else:
        raise r.fail(f"unknown offence tag {tag}")
    return {"type": OFFENCE_NAMES[tag], "a": a, "b": b}


def encode_evidence(e: dict) -> bytes:
    return Writer().u8(OFFENCE_TAGS[e["type"]]).fixed(e["a"]["bytes"]).fixed(e["b"]["bytes"]).bytes()


def parse_evidence(eo: "Obj") -> dict:
    """The JSON form (doc 4.1.3): `{"type", "a": HEX, "b": HEX}`, each message at most 1024 hex
    digits and exactly one canonical signed message."""
    t = eo.str("type")
    if t not in OFFENCE_TAGS:
        raise Unusable(f"{eo.where}.type: unknown offence type {t!r}")
    decode = decode_signed_vote if t == "double_vote" else decode_signed_proposal
    msgs = []
    for k in ("a", "b"):
        x = eo.raw(k)
        if not isinstance(x, str) or len(x) > MAX_EVIDENCE_HEX or not HEX_RE.match(x) or len(x) % 2:
            raise Unusable(f"{eo.where}.{k}: expected at most {MAX_EVIDENCE_HEX} hex digits")
        r = Reader(bytes.fromhex(x), f"{eo.where}.{k}")
        m = decode(r)
        r.finish()
        msgs.append(m)
    eo.done()
    return {"type": t, "a": msgs[0], "b": msgs[1]}


def decode_change(r: "Reader") -> dict:
    op = r.u8()
    if op == 1:
        name = r.str("validator name", MAX_NAME)
        role = r.u8()
        if role not in VALIDATOR_ROLE_NAMES:
            raise r.fail(f"unknown validator role tag {role}")
        return {"op": "add", "validator": {"name": name, "role": VALIDATOR_ROLE_NAMES[role], "key": r.take(32),
                                           "power": r.u64(), "address": r.str("validator address", MAX_ADDRESS)}}
    if op == 2:
        return {"op": "remove", "key": r.take(32)}
    if op == 3:
        return {"op": "rotate", "old": r.take(32), "new": r.take(32)}
    if op == 4:
        return {"op": "power", "key": r.take(32), "power": r.u64()}
    raise r.fail(f"unknown membership change tag {op}")


def parse_change(co: "Obj") -> dict:
    op = co.str("op")
    if op == "add":
        vo = co.obj("validator")
        role = vo.str("role")
        if role not in VALIDATOR_ROLES:
            raise Unusable(f"{vo.where}.role: unknown role {role!r}")
        c = {"op": op, "validator": {"name": vo.str("name"), "role": role, "key": vo.hex("key", 32),
                                     "power": vo.int("power", "u64"), "address": vo.str("address")}}
        vo.done()
    elif op == "remove":
        c = {"op": op, "key": co.hex("key", 32)}
    elif op == "rotate":
        c = {"op": op, "old": co.hex("old", 32), "new": co.hex("new", 32)}
    elif op == "power":
        c = {"op": op, "key": co.hex("key", 32), "power": co.int("power", "u64")}
    else:
        raise Unusable(f"{co.where}.op: unknown op {op!r}")
    co.done()
    return c


def decode_body(r: Reader) -> dict:
    sender = r.take(32)
    nonce = r.u64()
    tag = r.u8()
    if tag == 1:
        ct = r.u8()
        if ct not in (1, 2):
            raise r.fail(f"unknown commitment tag {ct}")
        p = {"kind": "deposit", "commitment_kind": "sha256" if ct == 1 else "salted", "commitment": r.take(32),
             "media_type": r.str("media_type", MAX_MEDIA_TYPE), "byte_length": r.u64(),
             "label": r.str("label", MAX_LABEL), "reference": r.str("reference", MAX_REFERENCE)}
    elif tag == 2:
        p = {"kind": "batch_deposit", "root": r.take(32), "count": r.u32(), "salted": r.bool("salted"),
             "media_type": r.str("media_type", MAX_MEDIA_TYPE), "label": r.str("label", MAX_LABEL),
             "reference": r.str("reference", MAX_REFERENCE)}
    elif tag == 3:
        p = {"kind": "open_case", "case_id": r.str("case_id", MAX_CASE_ID), "title": r.str("title", MAX_NOTE)}
    elif tag == 4:
        p = {"kind": "attach_deposit", "case_id": r.str("case_id", MAX_CASE_ID), "deposit_id": r.take(32)}
    elif tag == 5:
        p = {"kind": "record_verification", "case_id": r.str("case_id", MAX_CASE_ID), "deposit_id": r.take(32),
             "valid": r.bool("valid"), "report": r.take(32), "note": r.str("note", MAX_NOTE)}
    elif tag == 6:
        p = {"kind": "close_case", "case_id": r.str("case_id", MAX_CASE_ID), "note": r.str("note", MAX_NOTE)}
    elif tag == 7:
        op = r.u8()
        if op == 1:
            name = r.str("client name", MAX_NAME)
            role = r.u8()
            if role not in CLIENT_ROLE_NAMES:
                raise r.fail(f"unknown client role tag {role}")
            action = {"op": "add", "name": name, "role": CLIENT_ROLE_NAMES[role], "key": r.take(32)}
        elif op == 2:
            action = {"op": "remove", "key": r.take(32)}
        elif op == 3:
            action = {"op": "rotate", "old": r.take(32), "new": r.take(32)}
        else:
            raise r.fail(f"unknown registry action tag {op}")
        approvals = r.list("approvals", MAX_APPROVALS, lambda: {"validator": r.u16(), "signature": r.take(64)})
        p = {"kind": "registry", "action": action, "approvals": approvals}
    elif tag == 8:
        seq = r.u64()
        change = decode_change(r)
        approvals = r.list("approvals", MAX_APPROVALS, lambda: {"key": r.take(32), "signature": r.take(64)})
        p = {"kind": "membership", "seq": seq, "change": change, "approvals": approvals}
    elif tag == 9:
        p = {"kind": "evidence", "evidence": decode_evidence(r)}
    else:
        raise r.fail(f"unknown payload tag {tag}")
    return {"sender": sender, "nonce": nonce, "payload": p}


def parse_body(o: Obj) -> dict:
    sender = o.hex("sender", 32)
    nonce = o.int("nonce", "u64")
    # Unknown keys are rejected at every level, in every payload kind (doc 7.1).
    po = o.obj("payload")
    kind = po.str("kind")
    if kind == "deposit":
        co = po.obj("commitment")
        keys = list(co.v)
        if len(keys) != 1 or keys[0] not in ("sha256", "salted"):
            raise Unusable(f"{co.where}: expected exactly one of `sha256`, `salted`")
        p = {"kind": kind, "commitment_kind": keys[0], "commitment": co.hex(keys[0], 32),
             "media_type": po.str("media_type"), "byte_length": po.int("byte_length", "u64"),
             "label": po.str("label"), "reference": po.str("reference")}
    elif kind == "batch_deposit":
        p = {"kind": kind, "root": po.hex("root", 32), "count": po.int("count", "u32"), "salted": po.bool("salted"),
             "media_type": po.str("media_type"), "label": po.str("label"), "reference": po.str("reference")}
    elif kind == "open_case":
        p = {"kind": kind, "case_id": po.str("case_id"), "title": po.str("title")}
    elif kind == "attach_deposit":
        p = {"kind": kind, "case_id": po.str("case_id"), "deposit_id": po.hex("deposit_id", 32)}
    elif kind == "record_verification":
        p = {"kind": kind, "case_id": po.str("case_id"), "deposit_id": po.hex("deposit_id", 32),
             "valid": po.bool("valid"), "report": po.hex("report", 32), "note": po.str("note")}
    elif kind == "close_case":
        p = {"kind": kind, "case_id": po.str("case_id"), "note": po.str("note")}
    elif kind == "registry":
        ao = po.obj("action")
        op = ao.str("op")
        if op == "add":
            role = ao.str("role")
            if role not in CLIENT_ROLES:
                raise Unusable(f"{ao.where}.role: unknown role {role!r}")
            action = {"op": op, "name": ao.str("name"), "role": role, "key": ao.hex("key", 32)}
        elif op == "remove":
            action = {"op": op, "key": ao.hex("key", 32)}
        elif op == "rotate":
            action = {"op": op, "old": ao.hex("old", 32), "new": ao.hex("new", 32)}
        else:
            raise Unusable(f"{ao.where}.op: unknown op {op!r}")
        ao.done()
        approvals = []
        for i, x in enumerate(po.list("approvals")):
            ap = Obj(x, f"{po.where}.approvals[{i}]")
            approvals.append({"validator": ap.int("validator", "u16"), "signature": ap.hex("signature", 64)})
            ap.done()
        p = {"kind": kind, "action": action, "approvals": approvals}
    elif kind == "membership":
        seq = po.int("seq", "u64")
        change = parse_change(po.obj("change"))
        approvals = []
        for i, x in enumerate(po.list("approvals")):
            ap = Obj(x, f"{po.where}.approvals[{i}]")
            approvals.append({"key": ap.hex("key", 32), "signature": ap.hex("signature", 64)})
            ap.done()
        p = {"kind": kind, "seq": seq, "change": change, "approvals": approvals}
    elif kind == "evidence":
        p = {"kind": kind, "evidence": parse_evidence(po.obj("evidence"))}
    else:
        raise Unusable(f"{po.where}.kind: unknown payload kind {kind!r}")
    po.done()
    return {"sender": sender, "nonce": nonce, "payload": p}


# Doc 4.1: the code points no free-text field may hold (controls, bidirectional formatting,
# separators, invisible characters), as inclusive ranges.
FORBIDDEN_RANGES = (
    (0x00, 0x1F), (0x7F, 0x9F),
    (0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069),
    (0x2028, 0x2029),
    (0x00AD, 0x00AD), (0x180E, 0x180E), (0x200B, 0x200D), (0x2060, 0x2065), (0x206A, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0xE0000, 0xE007F),
)
_MT_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MT_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
MEDIA_TYPE_RE = re.compile(rf"{_MT_NAME}/{_MT_NAME}(?: *; *{_MT_TOKEN}={_MT_TOKEN})*")


def text_problem(name: str, s: str, lo: int, hi: int) -> Optional[str]:
    """Doc 4.1: a free-text field of `lo` to `hi` UTF-8 bytes with no forbidden code point."""
    n = utf8_len(s)
    if not lo <= n <= hi:
        return f"invalid {name}: {n} bytes, it must be {lo} to {hi}"
    for i, ch in enumerate(s):
        c = ord(ch)
        if any(a <= c <= b for a, b in FORBIDDEN_RANGES):
            return f"invalid {name}: forbidden code point U+{c:04X} at character {i}"
    return None


def check_fields(body: dict) -> Optional[str]:
    """TxBody::check_fields (doc 4.1). Returns None or the reason."""
    p = body["payload"]
    k = p["kind"]

    if k in ("deposit", "batch_deposit"):
        mt = p["media_type"]
        if not 1 <= utf8_len(mt) <= MAX_MEDIA_TYPE or not MEDIA_TYPE_RE.fullmatch(mt):
            return f"invalid media_type {mt!r}"
        for name, lo, hi in (("label", 1, MAX_LABEL), ("reference", 0, MAX_REFERENCE)):
            e = text_problem(name, p[name], lo, hi)
            if e:
                return e
        if k == "batch_deposit" and not 1 <= p["count"] <= MAX_BATCH_ITEMS:
            return f"invalid batch count: {p['count']} is not in 1..={MAX_BATCH_ITEMS}"
        return None
    if k == "evidence":
        # No field rules beyond the decoder: whether the evidence proves an offence is the
        # ledger's check against the chain's state (doc 4.1.3), not a field check.
        return None
    if k == "membership":
        if p["change"]["op"] == "add" and not is_name(p["change"]["validator"]["name"]):
            return "invalid validator name"
        if len(p["approvals"]) > MAX_APPROVALS:
            return "too many approvals"
        return None
    if not is_name(p.get("case_id", "x")):
        return f"invalid case_id {p['case_id']!r}"
    for name in ("title", "note"):
        if name in p:
            e = text_problem(name, p[name], 0, MAX_NOTE)
            if e:
                return e
    if k == "registry":
        if p["action"]["op"] == "add" and not is_name(p["action"]["name"]):
            return "invalid client name"
        if len(p["approvals"]) > MAX_APPROVALS:
            return "too many approvals"
    return None


def tx_id(chain_id: bytes, body_bytes: bytes) -> bytes:
    return tagged(TAG_TX, chain_id, body_bytes)


def batch_item_id(txid: bytes, index: int) -> bytes:
    return tagged(TAG_BATCH_ITEM, txid, index.to_bytes(4, "big"))


def salted_commitment(salt: bytes, digest: bytes) -> bytes:
    return tagged(TAG_SALTED, salt, digest)


# ---------------------------------------------------------------------------------------------
# Header, vote, certificate (doc section 5)

HEADER_VERSIONS = (2, 3, 4)
HEADER_VERSION_LOG = 4
HEADER_FIELDS = [("version", "u16"), ("chain_id", 32), ("height", "u64"), ("prev_hash", 32),
                 ("last_commit_hash", 32), ("tx_root", 32), ("tx_count", "u32"), ("state_root", 32), ("validators_hash", 32),
                 ("next_validators_hash", 32), ("log_size", "u64"), ("log_root", 32), ("time_ms", "u64"),
                 ("proposer", 32)]


def header_fields(version: int) -> list:
    """Doc 5.1: versions 3 and 4 have `next_validators_hash` after `validators_hash`, version 4
    then `log_size` and `log_root`; version 2 has none of them."""
    skip = {2: {"next_validators_hash", "log_size", "log_root"}, 3: {"log_size", "log_root"}}.get(version, set())
    return [f for f in HEADER_FIELDS if f[0] not in skip]


def encode_header(h: dict) -> bytes:
    w = Writer()
    for name, ty in header_fields(h["version"]):
        if isinstance(ty, int):
            w.fixed(h[name])
        else:
            getattr(w, ty)(h[name])
    return w.bytes()


def decode_header(r: Reader) -> dict:
    h = {"version": r.u16()}
    if h["version"] not in HEADER_VERSIONS:
        raise Unusable(f"unsupported header version {h['version']} (this verifier reads versions 2, 3 and 4)")
    for name, ty in header_fields(h["version"])[1:]:
        h[name] = r.take(ty) if isinstance(ty, int) else getattr(r, ty)()
    return h


def parse_header(ho: "Obj") -> dict:
    """Doc 7.1 `header`: version 2, 3 or 4; `next_validators_hash` present exactly in versions 3
    and 4, `log_size` and `log_root` exactly in version 4."""
    version = ho.int("version", "u16")
    if version not in HEADER_VERSIONS:
        raise Unusable(f"unsupported header version {version} (this verifier reads versions 2, 3 and 4)")
    header = {}
    for name, ty in header_fields(version):
        header[name] = ho.hex(name, ty) if isinstance(ty, int) else ho.int(name, ty)
    ho.done()
    return header


def block_hash(h: dict) -> bytes:
    return tagged(TAG_HEADER, encode_header(h))


def encode_vote(chain_id: bytes, height: int, round_: int, kind: int, block: Optional[bytes], time_ms: int,
                validator: int) -> bytes:
    w = Writer().fixed(chain_id).u64(height).u32(round_).u8(kind)
    if block is None:
        w.u8(0)
    else:
        w.u8(1).fixed(block)
    return w.u64(time_ms).u16(validator).bytes()


def vote_signing_hash(vote_bytes: bytes) -> bytes:
    return tagged(TAG_VOTE, vote_bytes)


def encode_certificate(c: dict) -> bytes:
    w = Writer().u64(c["height"]).u32(c["round"]).fixed(c["block_hash"]).u32(len(c["sigs"]))
    for s in c["sigs"]:
        w.u16(s["validator"]).u64(s["time_ms"]).fixed(s["signature"])
    return w.bytes()


def decode_certificate(r: Reader) -> dict:
    height, round_, bh = r.u64(), r.u32(), r.take(32)
    sigs = r.list("certificate signatures", MAX_VALIDATORS,
                  lambda: {"validator": r.u16(), "time_ms": r.u64(), "signature": r.take(64)})
    return {"height": height, "round": round_, "block_hash": bh, "sigs": sigs}


def verify_certificate(c: dict, spec: Spec, validators: Optional[list[dict]] = None,
                       chain_id: Optional[bytes] = None) -> tuple[Optional[str], int]:
    """Section 5.3, under `validators` (default: the genesis set). Returns (None or reason, signed power)."""
    vs = spec.validators if validators is None else validators
    chain_id = spec.chain_id if chain_id is None else chain_id
    total = sum(v["power"] for v in vs)
    quorum = total * 2 // 3 + 1
    power = 0
    prev = None
    for s in c["sigs"]:
        if prev is not None and s["validator"] <= prev:
            return f"signatures not sorted by validator or repeated at index {s['validator']}", power
        prev = s["validator"]
        if s["validator"] >= len(vs):
            return f"signature by unknown validator index {s['validator']}", power
        power += vs[s["validator"]]["power"]
    if power < quorum:
        return (f"signed voting power {power} is not more than two thirds of {total} "
                f"(need {quorum})"), power
    for s in c["sigs"]:
        v = vs[s["validator"]]
        msg = vote_signing_hash(encode_vote(chain_id, c["height"], c["round"], 2, c["block_hash"],
                                            s["time_ms"], s["validator"]))
        e = ed25519_verify(v["key"], msg, s["signature"])
        if e:
            return f"bad precommit signature by validator {s['validator']} ({v['name']}): {e}", power
    return None, power


def commit_time_ms(c: dict) -> int:
    t = sorted(s["time_ms"] for s in c["sigs"])
    return t[(len(t) - 1) // 2] if t else 0


def format_utc(ms: int) -> str:
    import datetime

    secs, milli = divmod(ms, 1000)
    try:
        d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=secs)
        return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{milli:03d}Z"
    except OverflowError:
        return f"{ms} ms since the epoch"


# ---------------------------------------------------------------------------------------------
# Receipt (doc section 7)


@dataclass
class Receipt:
    version: int
    chain_id: bytes
    deposit_id: bytes
    tx: dict
    signature: bytes
    item: Optional[dict]
    tx_index: int
    tx_proof: list[bytes]
    header: dict
    certificate: dict
    salt: Optional[bytes]
    body_bytes: bytes = field(default=b"")
    membership: list = field(default_factory=list)  # versions 2 and 3: history entries (doc 13.1)
    log_index: Optional[int] = None  # version 3: the deposit's leaf index in the deposit log (doc 7.1)
    log_proof: Optional[list[bytes]] = None  # version 3: its inclusion proof (doc 7.1)

    def encode(self) -> bytes:
        w = Writer().fixed(RECEIPT_MAGIC).u16(self.version).fixed(self.chain_id).fixed(self.deposit_id)
        w.fixed(encode_body(self.tx)).fixed(self.signature)
        if self.item is None:
            w.u8(0)
        else:
            w.u8(1).u32(self.item["index"]).fixed(self.item["commitment"]).u32(len(self.item["proof"]))
            for h in self.item["proof"]:
                w.fixed(h)
        w.u32(self.tx_index).u32(len(self.tx_proof))
        for h in self.tx_proof:
            w.fixed(h)
        w.fixed(encode_header(self.header)).fixed(encode_certificate(self.certificate))
        if self.salt is None:
            w.u8(0)
        else:
            w.u8(1).fixed(self.salt)
        if self.version in (2, 3):
            w.u32(len(self.membership))
            for e in self.membership:
                w.fixed(encode_entry(e))
        if self.version == 3:
            proof = self.log_proof or []
            w.u64(self.log_index or 0).u32(len(proof))
            for h in proof:
                w.fixed(h)
        return w.bytes()


def decode_receipt(data: bytes) -> Receipt:
    r = Reader(data, "receipt")
    if r.take(8) != RECEIPT_MAGIC:
        raise Unusable("cannot decode receipt: missing CURIARCT magic")
    version = r.u16()
    if version not in (1, 2, 3):
        raise Unusable(f"unsupported receipt version {version} (this verifier reads versions 1, 2 and 3)")
    chain_id, deposit_id = r.take(32), r.take(32)
    start = r.pos
    body = decode_body(r)
    body_bytes = data[start : r.pos]
    signature = r.take(64)
    item = r.option(lambda: {"index": r.u32(), "commitment": r.take(32),
                             "proof": r.list("batch proof", MAX_PROOF_LEN, lambda: r.take(32))})
    tx_index = r.u32()
    tx_proof = r.list("transaction proof", MAX_PROOF_LEN, lambda: r.take(32))
    header = decode_header(r)
    cert = decode_certificate(r)
    salt = r.option(lambda: r.take(32))
    membership = []
    log_index, log_proof = None, None
    if version in (2, 3):
        membership = r.list("membership history", MAX_RECEIPT_HISTORY, lambda: decode_entry(r))
        if not membership and version == 2:
            raise Unusable("cannot decode receipt: a version 2 receipt carries at least one membership history entry")
    if version == 3:
        log_index = r.u64()
        log_proof = r.list("log proof", MAX_PROOF_LEN, lambda: r.take(32))
    r.finish()
    return Receipt(version, chain_id, deposit_id, body, signature, item, tx_index, tx_proof, header, cert, salt,
                   body_bytes, membership, log_index, log_proof)


def parse_receipt_json(data: bytes) -> Receipt:
    if len(data) > MAX_RECEIPT_BYTES:
        raise Unusable(f"receipt is too large: {len(data)} > {MAX_RECEIPT_BYTES}")
    v = load_json(data, "receipt", reject_duplicates=False)
    if isinstance(v, dict):
        # An upgraded receipt's `log` member (doc 15.4) is not part of the receipt: it is checked
        # under a witness policy (curia_upgrade.py), never here.
        v.pop("log", None)
    if not isinstance(v, dict) or v.get("format") != RECEIPT_FORMAT:
        fmt = v.get("format") if isinstance(v, dict) else None
        raise Unusable(f"bad receipt JSON: format is {fmt!r}, expected {RECEIPT_FORMAT!r}")
    ver = v.get("version")
    if not isinstance(ver, int) or isinstance(ver, bool) or ver < 0:
        raise Unusable("bad receipt JSON: missing version")
    if ver not in (1, 2, 3):
        raise Unusable(f"unsupported receipt version {ver} (this verifier reads versions 1, 2 and 3)")
    if ver == 3 and not ("log_index" in v and "log_proof" in v):
        raise Unusable("bad receipt JSON: a version 3 receipt carries log_index and log_proof")
    if ver in (1, 2) and ("log_index" in v or "log_proof" in v):
        raise Unusable("bad receipt JSON: only a version 3 receipt carries log_index and log_proof")
    if ver == 1 and "membership" in v:
        raise Unusable("bad receipt JSON: a version 1 receipt carries no membership history")
    if ver == 2 and "membership" not in v:
        raise Unusable("bad receipt JSON: missing membership history")
    o = Obj(v, "receipt")
    o.str("format")
    version = o.int("version", "u16")
    chain_id = o.hex("chain_id", 32)
    deposit_id = o.hex("deposit_id", 32)
    to = o.obj("tx")
    body = parse_body(to)
    to.done()
    signature = o.hex("signature", 64)
    item = None
    if o.raw("item", optional=True) is not None:
        io = o.obj("item")
        item = {"index": io.int("index", "u32"), "commitment": io.hex("commitment", 32),
                "proof": [parse_hex(h, 32, f"receipt.item.proof[{i}]") for i, h in enumerate(io.list("proof"))]}
        io.done()
    tx_index = o.int("tx_index", "u32")
    tx_proof = [parse_hex(h, 32, f"receipt.tx_proof[{i}]") for i, h in enumerate(o.list("tx_proof"))]
    header = parse_header(o.obj("header"))
    cert = parse_certificate(o.obj("certificate"))
    salt_v = o.raw("salt", optional=True)
    salt = None if salt_v is None else parse_hex(salt_v, 32, "receipt.salt")
    membership = []
    if version == 2 or (version == 3 and o.has("membership")):
        entries = o.list("membership")
        if len(entries) > MAX_RECEIPT_HISTORY:
            raise Unusable(f"receipt.membership: more than {MAX_RECEIPT_HISTORY} entries")
        membership = [parse_entry(Obj(x, f"receipt.membership[{i}]")) for i, x in enumerate(entries)]
    log_index, log_proof = None, None
    if version == 3:
        log_index = o.int("log_index", "u64")
        log_proof = [parse_hex(h, 32, f"receipt.log_proof[{i}]") for i, h in enumerate(o.list("log_proof"))]
    o.done()
    rc = Receipt(version, chain_id, deposit_id, body, signature, item, tx_index, tx_proof, header, cert, salt,
                 b"", membership, log_index, log_proof)
    # Section 7.3 step 4: round trip through the canonical form, so every binary limit applies.
    back = decode_receipt(rc.encode())
    rc.body_bytes = back.body_bytes
    if back.encode() != rc.encode():  # pragma: no cover - the encoding is injective
        raise Unusable("bad receipt JSON: not representable canonically")
    return rc


def parse_certificate(co: "Obj") -> dict:
    cert = {"height": co.int("height", "u64"), "round": co.int("round", "u32"),
            "block_hash": co.hex("block_hash", 32), "sigs": []}
    for i, x in enumerate(co.list("sigs")):
        so = Obj(x, f"{co.where}.sigs[{i}]")
        cert["sigs"].append({"validator": so.int("validator", "u16"), "time_ms": so.int("time_ms", "u64"),
                             "signature": so.hex("signature", 64)})
        so.done()
    co.done()
    return cert


# ---------------------------------------------------------------------------------------------
# Membership history (doc section 13)

MAX_RECEIPT_HISTORY = 1024
MAX_HISTORY_ENTRIES = 65536
MAX_HISTORY_BYTES = 64 << 20
HISTORY_MAGIC = b"CURIAMEM"
HISTORY_FORMAT = "curia-membership"
MIN_VALIDATORS = 4
ACTIVATION_DELAY = 2


def encode_entry(e: dict) -> bytes:
    """Doc 13.1: tx body || sig || u32 tx_index || list<hash> tx_proof || header || certificate."""
    w = Writer().fixed(encode_body(e["tx"])).fixed(e["signature"]).u32(e["tx_index"]).u32(len(e["tx_proof"]))
    for h in e["tx_proof"]:
        w.fixed(h)
    return w.fixed(encode_header(e["header"])).fixed(encode_certificate(e["certificate"])).bytes()


def decode_entry(r: "Reader") -> dict:
    return {"tx": decode_body(r), "signature": r.take(64), "tx_index": r.u32(),
            "tx_proof": r.list("transaction proof", MAX_PROOF_LEN, lambda: r.take(32)),
            "header": decode_header(r), "certificate": decode_certificate(r)}


def parse_entry(o: "Obj") -> dict:
    to = o.obj("tx")
    tx = parse_body(to)
    to.done()
    e = {"tx": tx, "signature": o.hex("signature", 64), "tx_index": o.int("tx_index", "u32"),
         "tx_proof": [parse_hex(h, 32, f"{o.where}.tx_proof[{i}]") for i, h in enumerate(o.list("tx_proof"))],
         "header": parse_header(o.obj("header")), "certificate": parse_certificate(o.obj("certificate"))}
    o.done()
    return e


def parse_history(data: bytes) -> tuple[bytes, list[dict]]:
    """Doc 13.4: a membership history document (JSON or CURIAMEM bytes). Returns (chain_id, entries)."""
    if len(data) > MAX_HISTORY_BYTES:
        raise Unusable(f"membership history is too large: {len(data)} > {MAX_HISTORY_BYTES}")
    if data.startswith(HISTORY_MAGIC):
        r = Reader(data, "membership history")
        r.take(8)
        if (ver := r.u16()) != 1:
            raise Unusable(f"unsupported membership history version {ver}")
        chain_id = r.take(32)
        entries = r.list("membership history entries", MAX_HISTORY_ENTRIES, lambda: decode_entry(r))
        r.finish()
        return chain_id, entries
    v = load_json(data, "membership history", reject_duplicates=False)
    if not isinstance(v, dict) or v.get("format") != HISTORY_FORMAT:
        raise Unusable(f"bad membership history JSON: format is not {HISTORY_FORMAT!r}")
    o = Obj(v, "membership")
    o.str("format")
    if o.int("version", "u16") != 1:
        raise Unusable("unsupported membership history version")
    chain_id = o.hex("chain_id", 32)
    raw = o.list("entries")
    if len(raw) > MAX_HISTORY_ENTRIES:
        raise Unusable("membership history: too many entries")
    entries = [parse_entry(Obj(x, f"membership.entries[{i}]")) for i, x in enumerate(raw)]
    o.done()
    for e in entries:  # the limits of the canonical form (doc 7.3 step 4, applied to entries)
        decode_entry_bytes(encode_entry(e))
    return chain_id, entries


def decode_entry_bytes(b: bytes) -> dict:
    r = Reader(b, "membership history entry")
    e = decode_entry(r)
    r.finish()
    return e


class History:
    """Doc 13.2: the changes applied so far. `set_at(x)`: the set left by every change committed at
    `h` with `h + 2 <= x`; `latest`: the set left by every change."""

    def __init__(self, spec: Spec) -> None:
        self.genesis = [dict(v) for v in spec.validators]
        self.sets: list[tuple[int, list[dict]]] = []  # (height committed, set after the change)
        self.used = {v["key"] for v in spec.validators}

    def latest(self) -> list[dict]:
        return self.sets[-1][1] if self.sets else self.genesis

    def set_at(self, x: int) -> list[dict]:
        for h, vs in reversed(self.sets):
            if h + ACTIVATION_DELAY <= x:
                return vs
        return self.genesis

    def apply(self, c: dict, genesis_clients: set) -> tuple[Optional[str], list[dict]]:
        """The set `c` leaves on the latest set, or why it breaks a rule (docs/protocol.md)."""
        cur = self.latest()
        vs = [dict(v) for v in cur]
        idx = {v["key"]: i for i, v in enumerate(cur)}

        def fresh(k: bytes) -> Optional[str]:
            if (why := key_problem(k)) is not None:
                return f"key {k.hex()} {why}"
            if k in idx:
                return f"key {k.hex()} is already a validator's"
            if k in self.used:
                return f"key {k.hex()} was a validator key before"
            if k in genesis_clients:
                return f"key {k.hex()} is a client's key"
            return None

        def power_ok(pw: int) -> Optional[str]:
            return None if 1 <= pw <= MAX_POWER else f"power {pw} is not in 1..={MAX_POWER}"

        op = c["op"]
        if op == "add":
            v = c["validator"]
            if not is_name(v["name"]):
                return "invalid validator name", cur
            if utf8_len(v["address"]) > MAX_ADDRESS:
                return "validator address too long", cur
            err = fresh(v["key"]) or power_ok(v["power"])
            if err:
                return err, cur
            if any(o["name"] == v["name"] for o in vs):
                return f"{v['name']} is already a validator's name", cur
            if len(vs) >= MAX_VALIDATORS:
                return "the validator set is full", cur
            vs.append({"name": v["name"], "role": v["role"], "key": v["key"], "power": v["power"],
                       "address": v["address"]})
        elif op == "remove":
            if c["key"] not in idx:
                return f"{c['key'].hex()} is not a validator", cur
            del vs[idx[c["key"]]]
            if len(vs) < MIN_VALIDATORS:
                return f"the change would leave {len(vs)} validators, fewer than {MIN_VALIDATORS}", cur
            if not any(v["role"] == "court" for v in vs):
                return "the change would leave no court", cur
        elif op == "rotate":
            if c["old"] not in idx:
                return f"{c['old'].hex()} is not a validator", cur
            err = fresh(c["new"])
            if err:
                return err, cur
            vs[idx[c["old"]]]["key"] = c["new"]
        else:
            if c["key"] not in idx:
                return f"{c['key'].hex()} is not a validator", cur
            err = power_ok(c["power"])
            if err:
                return err, cur
            vs[idx[c["key"]]]["power"] = c["power"]
        return None, vs

    def push(self, h: int, c: dict, vs: list[dict]) -> None:
        self.sets.append((h, vs))
        if c["op"] == "add":
            self.used.add(c["validator"]["key"])
        elif c["op"] == "rotate":
            self.used.add(c["new"])


def walk_history(spec: Spec, entries: list[dict]) -> tuple[Optional[str], History]:
    """Doc 13.2. Returns (None or `entry i: name: reason`, the history walked so far)."""
    hist = History(spec)
    genesis_clients = {c["key"] for c in spec.clients}
    prev = 0
    for i, e in enumerate(entries):
        def fail(name: str, reason: str) -> tuple[str, History]:
            return f"entry {i}: {name}: {reason}", hist
        hd, c, p = e["header"], e["certificate"], e["tx"]["payload"]
        h = hd["height"]
        if hd["chain_id"] != spec.chain_id:
            return fail("history_chain", f"header is for chain {hd['chain_id'].hex()}")
        if h < 1 or h < prev:
            return fail("history_order", f"height {h} is below the previous entry's {prev}")
        if p["kind"] != "membership":
            return fail("history_tx", f"a {p['kind']} transaction is not a membership change")
        if (err := check_fields(e["tx"])) is not None:
            return fail("history_tx", err)
        if p["seq"] != i:
            return fail("history_tx", f"change number {p['seq']} at place {i} of the history")
        in_force = hist.set_at(h)
        if hd["validators_hash"] != validators_hash(in_force):
            return fail("history_validators", f"header {h} does not name the set in force")
        bh = block_hash(hd)
        if c["block_hash"] != bh:
            return fail("history_certificate", f"certificate is for block {c['block_hash'].hex()}, header hashes to {bh.hex()}")
        if c["height"] != h:
            return fail("history_certificate", f"certificate is for height {c['height']}, header is {h}")
        err, _ = verify_certificate(c, spec, in_force)
        if err:
            return fail("history_certificate", err)
        body_bytes = encode_body(e["tx"])
        err = verify_inclusion(leaf_hash(body_bytes + e["signature"]), e["tx_index"], hd["tx_count"],
                               e["tx_proof"], hd["tx_root"])
        if err:
            return fail("history_inclusion", f"Merkle proof rejected: {err}")
        msg = tagged(TAG_MEMBERSHIP, spec.chain_id, p["seq"].to_bytes(8, "big"), encode_change(p["change"]))
        keys = {v["key"]: v for v in in_force}
        seen: set = set()
        power = 0
        for ap in p["approvals"]:
            if ap["key"] not in keys:
                return fail("history_approvals", f"approval by {ap['key'].hex()}, not a member of the set in force")
            if ap["key"] in seen:
                return fail("history_approvals", f"two approvals by {ap['key'].hex()}")
            seen.add(ap["key"])
            if (why := ed25519_verify(ap["key"], msg, ap["signature"])) is not None:
                return fail("history_approvals", f"bad approval signature by {ap['key'].hex()}: {why}")
            power += keys[ap["key"]]["power"]
        total = sum(v["power"] for v in in_force)
        if power < total * 2 // 3 + 1:
            return fail("history_approvals", f"approvals hold {power} of {total} voting power, need {total * 2 // 3 + 1}")
        err, vs = hist.apply(p["change"], genesis_clients)
        if err:
            return fail("history_change", err)
        hist.push(h, p["change"], vs)
        prev = h
    return None, hist


def parse_receipt(data: bytes) -> Receipt:
    if data.startswith(RECEIPT_MAGIC):
        if len(data) > MAX_RECEIPT_BYTES:
            raise Unusable(f"receipt is too large: {len(data)} > {MAX_RECEIPT_BYTES}")
        return decode_receipt(data)
    return parse_receipt_json(data)


# ---------------------------------------------------------------------------------------------
# Verification (doc section 8)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    checks: list[Check]
    deposit_id: bytes
    height: int
    commit_time_ms: int
    depositor: Optional[str]
    timesvc: list[tuple[str, int]]

    @property
    def valid(self) -> bool:
        return all(c.ok for c in self.checks)

    def first_failure(self) -> Optional[Check]:
        return next((c for c in self.checks if not c.ok), None)


class Evidence(NamedTuple):
    """What the `digest` check needs of the evidence (doc 8): its SHA-256 and, when the bytes were
    read, their length (None for `--digest`, whose length is never checked)."""
    sha256: bytes
    length: Optional[int]


def hash_file(path: str) -> Evidence:
    """Streams a file of any size through SHA-256 in constant memory."""
    h, n = hashlib.sha256(), 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(HASH_CHUNK):
                h.update(chunk)
                n += len(chunk)
    except OSError as e:
        raise Unusable(f"cannot read evidence {path}: {e.strerror or e}") from None
    return Evidence(h.digest(), n)


def verify(evidence: "bytes | Evidence", rc: Receipt, spec: Spec) -> Report:
    if not isinstance(evidence, Evidence):
        evidence = Evidence(sha256(evidence), len(evidence))
    checks: list[Check] = []

    def check(name: str, err: Optional[str], ok_detail: str) -> None:
        checks.append(Check(name, err is None, ok_detail if err is None else err))

    p = rc.tx["payload"]
    body_bytes = rc.body_bytes or encode_body(rc.tx)

    # 1. format
    err = None
    log_header = rc.header["version"] == HEADER_VERSION_LOG
    if rc.version not in (1, 2, 3):
        err = f"version {rc.version} is not 1, 2 or 3"
    elif rc.version != 3 and (rc.version == 2) != bool(rc.membership):
        err = "a version 1 receipt carries membership history" if rc.version == 1 else \
            "a version 2 receipt without membership history"
    elif (rc.version == 3) != log_header:
        err = (f"a version {rc.version} receipt with a version {rc.header['version']} header "
               f"(version 3 receipts go with version 4 headers)")
    elif log_header != spec.log_in_header:
        err = (f"header version {rc.header['version']} on a chain whose genesis "
               f"{'puts' if spec.log_in_header else 'does not put'} the deposit log in headers")
    elif (rc.version == 3) != (rc.log_index is not None and rc.log_proof is not None):
        err = f"a version {rc.version} receipt {'lacks' if rc.version == 3 else 'carries'} log_index and log_proof"
    else:
        err = check_fields(rc.tx)
        if err is None:
            if p["kind"] == "deposit":
                err = "single deposit carries a batch item" if rc.item is not None else None
            elif p["kind"] == "batch_deposit":
                if rc.item is None:
                    err = "batch deposit without its item"
                elif rc.item["index"] >= p["count"]:
                    err = f"item index {rc.item['index']} is outside the batch of {p['count']}"
            else:
                err = f"a {p['kind']} transaction is not a deposit"
    check("format", err, "single deposit" if rc.item is None else f"batch item {rc.item['index']}")

    # 2. chain
    if rc.chain_id != spec.chain_id:
        err = f"receipt is for chain {rc.chain_id.hex()}, genesis founds {spec.chain_id.hex()}"
    elif rc.header["chain_id"] != spec.chain_id:
        err = f"header is for chain {rc.header['chain_id'].hex()}"
    else:
        err = None
    check("chain", err, f"chain {spec.chain_id.hex()} ({spec.chain_name})")

    # 3. digest
    digest = evidence.sha256
    err, ok_detail = None, ""
    if p["kind"] == "deposit":
        salted, committed, length = p["commitment_kind"] == "salted", p["commitment"], p["byte_length"]
    elif p["kind"] == "batch_deposit" and rc.item is not None:
        salted, committed, length = p["salted"], rc.item["commitment"], None
    else:
        err = "receipt holds no deposit"
    if err is None:
        if not salted and rc.salt is not None:
            err = "receipt carries a salt but the deposit is not salted"
        elif salted and rc.salt is None:
            err = "deposit is salted and the receipt carries no salt"
        else:
            computed = salted_commitment(rc.salt, digest) if salted else digest
            if computed != committed:
                err = (f"evidence SHA-256 {digest.hex()}{' (salted)' if salted else ''} does not match the "
                       f"deposited {committed.hex()}")
            elif length is not None and evidence.length is not None and evidence.length != length:
                err = f"evidence is {evidence.length} bytes, the deposit says {length}"
            ok_detail = f"SHA-256 {digest.hex()} " + ("matches the salted commitment" if salted else "matches")
    check("digest", err, ok_detail)

    # 4. deposit_id (with the receipt's chain ID)
    own_id = tx_id(rc.chain_id, body_bytes)
    computed_id = own_id if rc.item is None else batch_item_id(own_id, rc.item["index"])
    check("deposit_id",
          None if computed_id == rc.deposit_id else
          f"receipt names deposit {rc.deposit_id.hex()}, its transaction gives {computed_id.hex()}",
          computed_id.hex())

    # 5. signature (with the genesis's chain ID)
    txid = tx_id(spec.chain_id, body_bytes)
    sender = rc.tx["sender"]
    client = next((c for c in spec.clients if c["key"] == sender), None)
    err = ed25519_verify(sender, txid, rc.signature)
    if err:
        err = f"bad signature by {sender.hex()} on transaction: {err}"
    elif any(v["key"] == sender for v in spec.validators):
        err = f"signed by {sender.hex()}, a validator key: validators do not deposit"
    elif client is not None and client["role"] != "platform":
        err = f"signed by {client['name']}, whose role is {client['role']}, not platform"
    if client is not None:
        ok_detail = f"signed by platform {client['name']} ({sender.hex()})"
    else:
        ok_detail = f"signed by {sender.hex()}, a key registered on chain after genesis (an audit shows it)"
    check("signature", err, ok_detail)

    # 6. batch (only for batch deposits)
    if p["kind"] == "batch_deposit":
        if rc.item is None:
            err = "batch deposit without item proof"
        else:
            err = verify_inclusion(leaf_hash(rc.item["commitment"]), rc.item["index"], p["count"],
                                   rc.item["proof"], p["root"])
            err = f"Merkle proof rejected: {err}" if err else None
        check("batch", err,
              f"item {rc.item['index']} of {p['count']} in batch root {p['root'].hex()}" if rc.item else "")

    # 7. inclusion
    h = rc.header
    err = verify_inclusion(leaf_hash(body_bytes + rc.signature), rc.tx_index, h["tx_count"], rc.tx_proof,
                           h["tx_root"])
    check("inclusion", f"Merkle proof rejected: {err}" if err else None,
          f"transaction {rc.tx_index} of {h['tx_count']} in block {h['height']} (root {h['tx_root'].hex()})")

    # 7a. log_position (version 3 only): the deposit's leaf in the deposit log named by the header
    # (doc 8, 14.1): SHA-256(0x00 || deposit_id || commitment) at log_index of log_size.
    if rc.version == 3:
        if p["kind"] == "deposit":
            commitment = p["commitment"]
        elif p["kind"] == "batch_deposit" and rc.item is not None:
            commitment = rc.item["commitment"]
        else:
            commitment = None
        if commitment is None:
            err = "receipt holds no deposit"
        elif rc.log_index is None or rc.log_proof is None or "log_size" not in h:
            err = "the receipt or its header lacks the deposit-log fields"
        else:
            err = verify_inclusion(leaf_hash(rc.deposit_id + commitment), rc.log_index, h["log_size"],
                                   rc.log_proof, h["log_root"])
            err = f"deposit log leaf {rc.log_index} of {h['log_size']}: {err}" if err else None
        check("log_position", err,
              f"deposit is leaf {rc.log_index} of {h.get('log_size')} in the deposit log "
              f"(root {h['log_root'].hex() if 'log_root' in h else '-'}) named by block {h['height']}")

    # 8. membership (versions 2 and 3 with history): the set in force at the receipt's height (doc 13.3)
    in_force: Optional[list[dict]] = spec.validators
    if rc.membership:
        err, hist = walk_history(spec, rc.membership)
        if err is None:
            late = next((i for i, e in enumerate(rc.membership)
                         if e["header"]["height"] + ACTIVATION_DELAY > h["height"]), None)
            if late is not None:
                err = (f"entry {late}: history_order: in force from "
                       f"{rc.membership[late]['header']['height'] + ACTIVATION_DELAY}, after the receipt's height")
        in_force = None if err else hist.set_at(h["height"])
        check("membership", err, f"{len(rc.membership)} change(s) from the genesis set; "
                                 f"{len(in_force or [])} validators in force at height {h['height']}")

    # 9. certificate
    c = rc.certificate
    bh = block_hash(h)
    power = 0
    if c["block_hash"] != bh:
        err = f"certificate is for block {c['block_hash'].hex()}, header hashes to {bh.hex()}"
    elif c["height"] != h["height"]:
        err = f"certificate is for height {c['height']}, header is {h['height']}"
    elif in_force is None:
        err = "the validator set in force is unknown: the membership history was refused"
    elif h["validators_hash"] != validators_hash(in_force):
        err = "header's validator-set hash is not the hash of the set in force"
    else:
        err, power = verify_certificate(c, spec, in_force)
    vs = in_force or []
    check("certificate", err,
          f"{len(c['sigs'])} of {len(vs)} validators signed block {bh.hex()} "
          f"({power} of {sum(v['power'] for v in vs)} voting power)")

    # 10. time
    ct = commit_time_ms(c)
    if not c["sigs"]:
        err = "no signed clocks"
    elif ct < spec.genesis_time_ms:
        err = f"commit time {format_utc(ct)} is before the genesis time"
    else:
        err = None
    check("time", err, f"committed at {format_utc(ct)} (median of {len(c['sigs'])} signed clocks)")

    vs = in_force if in_force is not None else spec.validators
    timesvc = [(vs[s["validator"]]["name"], s["time_ms"]) for s in c["sigs"]
               if s["validator"] < len(vs) and vs[s["validator"]]["role"] == "timesvc"]
    return Report(checks, rc.deposit_id, h["height"], ct, client["name"] if client else None, timesvc)


# ---------------------------------------------------------------------------------------------
# Command line


def read_file(path: str, what: str, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise Unusable(f"cannot read {what} {path}: {e.strerror or e}") from None
    if len(data) > limit:
        raise Unusable(f"{what} {path} is larger than {limit} bytes")
    return data


def verify_files(evidence_path: str, receipt_path: str, genesis_path: str,
                 digest_hex: Optional[str] = None,
                 membership_path: Optional[str] = None) -> tuple[int, Optional[Report], str]:
    """Returns (exit code, report or None, text to print). With `digest_hex` (doc 8.1 `--digest`)
    the evidence is that SHA-256 and `evidence_path` is only a name. With `membership_path`
    (doc 13.4 `--membership`) a receipt that embeds no history takes it from that file."""
    try:
        genesis = read_file(genesis_path, "genesis", MAX_GENESIS_BYTES)
        receipt = read_file(receipt_path, "receipt", MAX_RECEIPT_BYTES)
        history = None
        if membership_path is not None:
            history = read_file(membership_path, "membership history", MAX_HISTORY_BYTES)
        if digest_hex is not None:
            evidence = Evidence(parse_hex(digest_hex, 32, "--digest"), None)
        else:
            evidence = hash_file(evidence_path)
    except Unusable as e:
        return 2, None, f"UNUSABLE INPUT: {e}\n"
    return verify_data(evidence, receipt, genesis, evidence_path, history)


def entries_for_height(entries: list[dict], height: int) -> list[dict]:
    """Doc 13.3/13.4: the leading entries of a history that are in force at `height` (committed
    at `h` with `h + 2 <= height`), the ones a receipt at that height embeds."""
    out = []
    for e in entries:
        if e["header"]["height"] + ACTIVATION_DELAY > height:
            break
        out.append(e)
    return out


def apply_history_file(rc: Receipt, spec: Spec, history: bytes) -> Receipt:
    """Doc 13.4 `--membership FILE`: parse the document (unreadable: Unusable), refuse one for
    another chain (Unusable), and if the receipt embeds no history, give it the entries in force
    at its height, as if it embedded them (version 2). A receipt's own history wins."""
    chain_id, entries = parse_history(history)
    if chain_id != spec.chain_id:
        raise Unusable(f"membership history is for chain {chain_id.hex()}, the genesis founds {spec.chain_id.hex()}")
    if rc.membership:
        return rc
    embedded = entries_for_height(entries, rc.header["height"])
    if embedded:
        rc.membership = embedded
        if rc.version == 1:
            rc.version = 2
    return rc


def verify_data(evidence: "bytes | Evidence", receipt: bytes, genesis: bytes,
                evidence_name: str = "(evidence)",
                history: Optional[bytes] = None) -> tuple[int, Optional[Report], str]:
    """Verify in memory; `history` is a membership history document (doc 13.4) or None. Returns
    (exit code, report or None, text to print)."""
    try:
        spec = parse_genesis(genesis)
        rc = parse_receipt(receipt)
        if history is not None:
            rc = apply_history_file(rc, spec, history)
    except Unusable as e:
        return 2, None, f"UNUSABLE INPUT: {e}\n"
    rep = verify(evidence, rc, spec)
    evidence_path = evidence_name
    out = ["Curia receipt verification (independent Python verifier)",
           f"  evidence   {evidence_path}",
           f"  deposit    {rep.deposit_id.hex()}",
           f"  chain      {spec.chain_name} ({spec.chain_id.hex()})",
           f"  block      {rep.height} committed {format_utc(rep.commit_time_ms)}"]
    if rep.depositor:
        out.append(f"  depositor  {rep.depositor}")
    for name, t in rep.timesvc:
        out.append(f"  time svc   {name} read {format_utc(t)}")
    out.append("")
    for c in rep.checks:
        out.append(f"  [{'PASS' if c.ok else 'FAIL'}] {c.name:<12} {c.detail}")
    out.append("")
    f = rep.first_failure()
    if f is None:
        out.append(f"VERDICT: VALID. This evidence existed, unchanged, when block {rep.height} was committed "
                   f"at {format_utc(rep.commit_time_ms)}.")
    else:
        out.append(f"VERDICT: INVALID. Check `{f.name}` failed: {f.detail}")
    return (0 if rep.valid else 1), rep, "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    args = argv[1:]
    digest = membership = None
    if len(args) >= 2 and args[0] == "--membership":
        membership, args = args[1], args[2:]
    if len(args) == 4 and args[0] == "--digest":
        digest, args = args[1], ["(digest given)"] + args[2:]
    if len(args) != 3:
        sys.stderr.write("usage: curia_verify.py [--membership HISTORY] (EVIDENCE_FILE | --digest HEX) "
                         "RECEIPT GENESIS_JSON\n")
        return 2
    try:
        code, _, text = verify_files(args[0], args[1], args[2], digest, membership)
    except Exception as e:  # never a traceback: any unexpected failure is unusable input
        sys.stdout.write(f"UNUSABLE INPUT: internal error: {type(e).__name__}: {e}\n")
        return 2
    sys.stdout.write(text)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
