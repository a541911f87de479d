"""Bring receipt.json to the current header format and re-sign its certificate.

The transaction (with its small-order R signature) is kept byte for byte; only the header gains
the fields of the current header version and the four test validators (seeds
SHA-256("curia-test-key/v{i}"), see ledger/src/testkit.rs) precommit the new block hash again.
Run from tests/python: python3 data/small-order-r-tx/resign.py
"""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

import curia_verify as cv  # noqa: E402

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "receipt.json")
with open(path) as f:
    receipt = json.load(f)
header = receipt["header"]
fresh = {"version": cv.HEADER_VERSION}
for name, ty in cv.HEADER_FIELDS:
    if name == "version":
        continue
    # A field the old header lacks: at height 1 every new hash field is zero.
    fresh[name] = header.get(name, "00" * 32 if isinstance(ty, int) else 0)
receipt["header"] = fresh
h = {n: bytes.fromhex(v) if isinstance(t, int) else v for (n, t), v in zip(cv.HEADER_FIELDS, fresh.values())}
block = cv.block_hash(h)
cert = receipt["certificate"]
cert["block_hash"] = block.hex()
chain_id = bytes.fromhex(receipt["chain_id"])
for s in cert["sigs"]:
    seed = hashlib.sha256(f"curia-test-key/v{s['validator']}".encode()).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    vote = cv.encode_vote(chain_id, cert["height"], cert["round"], 2, block, s["time_ms"], s["validator"])
    s["signature"] = key.sign(cv.vote_signing_hash(vote)).hex()
with open(path, "w") as f:
    json.dump(receipt, f, indent=2)
    f.write("\n")
print(f"re-signed {path}: block {block.hex()}")
