#!/usr/bin/env python3
"""Writes cosignature_v1.txt: a cosignature/v1 known-answer vector computed from the text of
c2sp.org/tlog-cosignature and c2sp.org/signed-note alone, with Python's `cryptography`
(OpenSSL's Ed25519), independently of the Rust code it checks.

Run: python3 transparency/tests/data/gen_cosignature_vector.py > transparency/tests/data/cosignature_v1.txt
"""
import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

name = "witness.example.com/w1"
seed = bytes(range(32))
timestamp = 1679315147
text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + pk).digest()[:4]
vkey = "%s+%s+%s" % (name, key_id.hex(), base64.b64encode(b"\x04" + pk).decode())
message = ("cosignature/v1\ntime %d\n" % timestamp + text).encode()
sig = sk.sign(message)
line = "\u2014 %s %s" % (name, base64.b64encode(key_id + struct.pack(">Q", timestamp) + sig).decode())
note_key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pk).digest()[:4]
skey = "PRIVATE+KEY+%s+%s+%s" % (name, note_key_id.hex(), base64.b64encode(b"\x01" + seed).decode())

print("skey " + skey)
print("vkey " + vkey)
print("timestamp %d" % timestamp)
print("text " + base64.b64encode(text.encode()).decode())
print("line " + line)
