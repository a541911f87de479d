"""Ed25519 signing keys and Curia key files.

The key file is the one `curia keygen` and `curia testnet init` write (node/src/config.rs,
docs/operator-guide.md section 1): a JSON object with exactly the keys

    {"type": "curia-ed25519-secret-key", "public": "<64 hex>", "secret": "<64 hex: the 32-byte seed>"}

Rules (as the Rust reader): at most 1 MiB; unknown or missing keys refused; `type` exactly as
above; `secret` 32 bytes of hex; `public` must be the lower-case hex of the seed's public key.
Files are written with mode 0600 and never overwritten unless asked.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .errors import KeyFileError

KEY_TYPE = "curia-ed25519-secret-key"
MAX_KEY_FILE = 1 << 20
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


class SigningKey:
    """An ed25519 secret key (RFC 8032 seed) and its public key."""

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
            raise KeyFileError("an ed25519 seed is 32 bytes")
        self._sk = Ed25519PrivateKey.from_private_bytes(bytes(seed))
        self._seed = bytes(seed)
        self.public: bytes = self._sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                                serialization.PublicFormat.Raw)

    @classmethod
    def generate(cls) -> "SigningKey":
        """A fresh key from the operating system's randomness."""
        return cls(os.urandom(32))

    @property
    def public_hex(self) -> str:
        """The public key as 64 lower-case hex digits."""
        return self.public.hex()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature on `message` (Curia signs 32-byte hashes only)."""
        return self._sk.sign(message)

    def __repr__(self) -> str:  # never shows the secret
        return f"SigningKey(public={self.public_hex})"

    def write(self, path: Union[str, Path], force: bool = False) -> None:
        """Write a key file with mode 0600; refuses to overwrite unless `force`."""
        text = json.dumps({"type": KEY_TYPE, "public": self.public_hex, "secret": self._seed.hex()}, indent=2) + "\n"
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as e:
            raise KeyFileError(f"cannot write key {path}: {e.strerror or e}") from None
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def read_key_file(path: Union[str, Path]) -> SigningKey:
    """Read and check a key file (see the module rules)."""

    def bad(m: str) -> KeyFileError:
        return KeyFileError(f"key file {path}: {m}")

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except OSError as e:
        raise bad(f"cannot read: {e.strerror or e}") from None
    if len(data) > MAX_KEY_FILE:
        raise bad(f"larger than {MAX_KEY_FILE} bytes")
    try:
        v = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"not JSON: {e}") from None
    if not isinstance(v, dict) or set(v) != {"type", "public", "secret"}:
        raise bad("expected exactly the keys type, public, secret")
    if v["type"] != KEY_TYPE:
        raise bad(f"type is {v['type']!r}, expected {KEY_TYPE}")
    secret, public = v["secret"], v["public"]
    if not isinstance(secret, str) or not _HEX64.match(secret):
        raise bad("secret is not 32 bytes of hex")
    key = SigningKey(bytes.fromhex(secret))
    if public != key.public_hex:
        raise bad("public key does not match the secret")
    return key
