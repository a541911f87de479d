"""Canonical encoding and hashes a depositing platform needs (docs/receipt-format.md 1, 2, 4).

Vendored on purpose, and kept minimal: only what is needed to *build and sign* deposit and batch
deposit transactions (the body of section 4.1 for payload tags 1 and 2, the tagged hash of 2.1,
the RFC 6962 root of 2.2, the IDs of 4.2 and 4.4). Written from the spec, not copied from
tests/python/curia_verify.py, so that a platform can deposit without the verifier installed.
Verification never uses this module: it goes through curia_verify (see `curia_client.verify`),
and the test suite checks every function here byte for byte against curia_verify's.

Rules implemented:
- integers big-endian fixed width; strings as u32 byte length then UTF-8; hashes and keys raw;
- tagged(tag, data) = SHA-256(u8 len(tag) || tag || data);
- tx_id = tagged("curia/v1/tx", chain_id || body); batch item i's deposit ID =
  tagged("curia/v1/batch-item", tx_id || u32 i); a salted commitment =
  tagged("curia/v1/salted", salt || SHA-256(evidence));
- batch root = MTH over leaf_hash(commitment_i), leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r).
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO, Sequence

TAG_TX = b"curia/v1/tx"
TAG_BATCH_ITEM = b"curia/v1/batch-item"
TAG_SALTED = b"curia/v1/salted"

#: Payload tags (section 4.1) and commitment tags (section 4.1, tag 1 field 1).
PAYLOAD_DEPOSIT = 1
PAYLOAD_BATCH_DEPOSIT = 2
COMMITMENT_SHA256 = 1
COMMITMENT_SALTED = 2

#: Read size when streaming a file through SHA-256.
CHUNK = 1 << 20


def tagged(tag: bytes, *parts: bytes) -> bytes:
    """Domain-separated hash of section 2.1."""
    if not 8 <= len(tag) <= 255:
        raise ValueError("tag must be 8 to 255 bytes")
    h = hashlib.sha256(bytes([len(tag)]) + tag)
    for p in parts:
        h.update(p)
    return h.digest()


def u32(v: int) -> bytes:
    """Big-endian u32."""
    return v.to_bytes(4, "big")


def u64(v: int) -> bytes:
    """Big-endian u64."""
    return v.to_bytes(8, "big")


def string(s: str) -> bytes:
    """u32 byte length, then the UTF-8 bytes."""
    b = s.encode("utf-8")
    return u32(len(b)) + b


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(commitments: Sequence[bytes]) -> bytes:
    """RFC 6962 root over the leaf hashes of 32-byte commitments (recursion depth log2(n))."""
    if not commitments:
        return hashlib.sha256(b"").digest()
    return _mth([leaf_hash(c) for c in commitments])


def _mth(level: list[bytes]) -> bytes:
    n = len(level)
    if n == 1:
        return level[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(_mth(level[:k]), _mth(level[k:]))


def deposit_body(sender: bytes, nonce: int, salted: bool, commitment: bytes, media_type: str, byte_length: int,
                 label: str, reference: str) -> bytes:
    """Canonical body of a single deposit (payload tag 1)."""
    return (sender + u64(nonce) + bytes([PAYLOAD_DEPOSIT, COMMITMENT_SALTED if salted else COMMITMENT_SHA256])
            + commitment + string(media_type) + u64(byte_length) + string(label) + string(reference))


def batch_body(sender: bytes, nonce: int, root: bytes, count: int, salted: bool, media_type: str, label: str,
               reference: str) -> bytes:
    """Canonical body of a batch deposit (payload tag 2)."""
    return (sender + u64(nonce) + bytes([PAYLOAD_BATCH_DEPOSIT]) + root + u32(count) + bytes([1 if salted else 0])
            + string(media_type) + string(label) + string(reference))


def tx_id(chain_id: bytes, body: bytes) -> bytes:
    """Transaction ID (section 4.2); the sender signs these 32 bytes."""
    return tagged(TAG_TX, chain_id, body)


def batch_item_id(txid: bytes, index: int) -> bytes:
    """Deposit ID of item `index` of a batch (section 4.4)."""
    return tagged(TAG_BATCH_ITEM, txid, u32(index))


def salted_commitment(salt: bytes, digest: bytes) -> bytes:
    """Salted commitment (section 4.4)."""
    return tagged(TAG_SALTED, salt, digest)


def sha256_stream(f: BinaryIO) -> tuple[bytes, int]:
    """SHA-256 and length of a stream, read in 1 MiB chunks (constant memory, any size)."""
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return h.digest(), n
        h.update(chunk)
        n += len(chunk)
