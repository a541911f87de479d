"""Verification through the independent Python verifier, `tests/python/curia_verify.py`.

The client does not verify receipts itself: it loads curia_verify (written from
docs/receipt-format.md alone, tested against the Rust golden fixtures) and reports its verdict.
Where curia_verify is looked for, first found wins:

1. the file named by the environment variable `CURIA_VERIFY_PY`;
2. `tests/python/curia_verify.py` of the repository this package sits in
   (`clients/python/curia_client/` -> `../../../tests/python/`);
3. a module `curia_verify` importable from `sys.path`.

curia_verify streams the evidence through SHA-256, so evidence of any size verifies in constant memory.
The genesis's chain ID is also computed by curia_verify (`parse_genesis`), which checks every
rule of section 3 of the spec before encoding it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Optional, Union

from .errors import InvalidInput, VerifierUnavailable
from .types import VerifyCheck, VerifyResult

_loaded: Optional[ModuleType] = None


def _candidates() -> list[Path]:
    out = []
    env = os.environ.get("CURIA_VERIFY_PY")
    if env:
        out.append(Path(env))
    out.append(Path(__file__).resolve().parents[3] / "tests" / "python" / "curia_verify.py")
    return out


def load_verifier() -> ModuleType:
    """The curia_verify module (see the module docs for where it is looked for)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    for p in _candidates():
        if p.is_file():
            spec = importlib.util.spec_from_file_location("curia_verify", p)
            if spec is None or spec.loader is None:
                continue
            mod = importlib.util.module_from_spec(spec)
            sys.modules["curia_verify"] = mod  # its dataclasses look their module up while loading
            try:
                spec.loader.exec_module(mod)
            except Exception as e:  # a broken verifier file is not a verdict
                del sys.modules["curia_verify"]
                raise VerifierUnavailable(f"cannot load the verifier {p}: {type(e).__name__}: {e}") from None
            _loaded = mod
            return mod
    try:
        _loaded = importlib.import_module("curia_verify")
        return _loaded
    except ImportError:
        raise VerifierUnavailable(
            "the independent verifier curia_verify.py was not found: set CURIA_VERIFY_PY to the path of "
            "tests/python/curia_verify.py from the Curia repository") from None


def verify_files(evidence_path: Union[str, Path], receipt_path: Union[str, Path],
                 genesis_path: Union[str, Path],
                 membership_path: Optional[Union[str, Path]] = None) -> VerifyResult:
    """Run curia_verify on the files: every check of docs/receipt-format.md section 8. A version 2
    receipt's embedded membership history is walked from the genesis (section 13); with
    `membership_path` (a history saved by `Client.save_membership` or `curia membership export`) a
    receipt that embeds none takes the entries in force at its height from that file (13.4)."""
    cv = load_verifier()
    try:
        if membership_path is None:
            code, report, text = cv.verify_files(str(evidence_path), str(receipt_path), str(genesis_path))
        else:
            code, report, text = cv.verify_files(str(evidence_path), str(receipt_path), str(genesis_path), None,
                                                 str(membership_path))
    except Exception as e:  # as curia_verify's own main: an unexpected failure is unusable input
        return VerifyResult("unusable", 2, [], f"UNUSABLE INPUT: internal error: {type(e).__name__}: {e}\n")
    checks = [] if report is None else [VerifyCheck(c.name, bool(c.ok), str(c.detail)) for c in report.checks]
    verdict = {0: "valid", 1: "invalid"}.get(code, "unusable")
    if verdict == "valid" and (not checks or not all(c.ok for c in checks)):
        # Never report valid unless the verifier's own report says every check passed.
        verdict, code = "invalid", 1
    return VerifyResult(verdict, code, checks, text)


def chain_id_from_genesis(genesis_path: Union[str, Path]) -> bytes:
    """The chain ID the genesis founds, after curia_verify has checked the genesis."""
    cv = load_verifier()
    try:
        data = cv.read_file(str(genesis_path), "genesis", cv.MAX_GENESIS_BYTES)
        return bytes(cv.parse_genesis(data).chain_id)
    except cv.Unusable as e:
        raise InvalidInput(f"genesis {genesis_path}: {e}") from None
