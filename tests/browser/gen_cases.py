#!/usr/bin/env python3
"""Writes every input the Python verifier's tests verify (tests/python/test_verify.py, and
tests/python/test_log_header.py for receipts of a chain whose headers commit to the deposit log) to a folder,
so that the browser test can give the same inputs to verify.html and to `curia verify`.

Usage: python3 gen_cases.py OUT_DIR

How: the Python test suite is run in process with `curia_verify.verify_data` wrapped so that
every (evidence, receipt, genesis) it is called with is recorded under the running test's name;
the differential mutation set (`test_verify.mutations()`) is added as well. Inputs are written
once each, by content hash, to OUT_DIR/blobs/, and listed in OUT_DIR/cases.json as
{"name", "evidence", "receipt", "genesis", "python"} (file names relative to OUT_DIR; "python" is
the Python verifier's exit code and failed checks, for reports). Needs python3 and the
`cryptography` package, like the Python tests. Prints the number of cases and of test failures
(which must be 0: a failing Python test means its inputs are not the ones the suite checks).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
os.environ.pop("CURIA_BIN", None)  # the Rust comparison is the browser test's job

import curia_verify as cv  # noqa: E402
import test_log_header as tl  # noqa: E402
import test_verify as tv  # noqa: E402


def main(out: str) -> int:
    os.makedirs(os.path.join(out, "blobs"), exist_ok=True)
    cases: list[dict] = []
    seen: set[tuple[str, str, str]] = set()
    current = {"name": "?"}

    def blob(data: bytes) -> str:
        h = hashlib.sha256(data).hexdigest()[:32]
        path = os.path.join(out, "blobs", h)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return f"blobs/{h}"

    def record(name: str, evidence: bytes, receipt: bytes, genesis: bytes) -> None:
        files = (blob(evidence), blob(receipt), blob(genesis))
        if files in seen:
            return
        seen.add(files)
        code, rep, _ = original(evidence, receipt, genesis)
        failed = [c.name for c in rep.checks if not c.ok] if rep else []
        cases.append({"name": name, "evidence": files[0], "receipt": files[1], "genesis": files[2],
                      "python": {"code": code, "failed": failed}})

    original = cv.verify_data

    def recording(evidence, receipt: bytes, genesis: bytes, evidence_name: str = "(evidence)", history=None):
        # verify_files streams the evidence and passes its digest (cv.Evidence), not its bytes:
        # record such a case with the file's bytes when it is a small file, and skip the others
        # (`--digest` cases and the large sparse files, which the live-testnet test covers).
        data = evidence
        if isinstance(evidence, cv.Evidence):
            small = os.path.isfile(evidence_name) and os.path.getsize(evidence_name) <= 64 << 20
            data = None
            if small and evidence.length is not None:
                with open(evidence_name, "rb") as f:
                    data = f.read()
        # A case with a separate membership file (`--membership`) is not recorded: the page
        # reads only the history a receipt embeds.
        if data is not None and history is None:
            record(current["name"], data, receipt, genesis)
        return original(evidence, receipt, genesis, evidence_name, history)

    cv.verify_data = recording

    class Result(unittest.TextTestResult):
        def startTest(self, test):  # noqa: N802 (unittest's name)
            current["name"] = test.id().split(".", 1)[-1]
            super().startTest(test)

    suite = unittest.defaultTestLoader.loadTestsFromModule(tv)
    suite.addTests(unittest.defaultTestLoader.loadTestsFromModule(tl))
    sink = io.StringIO()
    res = unittest.TextTestRunner(stream=sink, resultclass=Result, verbosity=0).run(suite)
    for name, evidence, receipt, genesis in tv.mutations():
        record(f"mutations: {name}", evidence, receipt, genesis)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=0)
    bad = len(res.failures) + len(res.errors)
    print(json.dumps({"cases": len(cases), "python_tests": res.testsRun, "python_failures": bad}))
    if bad:
        sys.stderr.write(sink.getvalue())
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: gen_cases.py OUT_DIR\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
