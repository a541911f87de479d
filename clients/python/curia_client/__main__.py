"""Command line: `python -m curia_client deposit|batch|verify ...`.

    python -m curia_client deposit FILE --node URL --key K --genesis G --out receipt.json [--salted]
    python -m curia_client batch FILE... --node URL --key K --genesis G --out-dir DIR [--salted]
    python -m curia_client verify EVIDENCE RECEIPT GENESIS

`deposit` and `batch` deposit the files' SHA-256 (the files stay here), wait for the receipts,
save them (with the salt, for a salted deposit) and verify each with the independent verifier.
Exit status: 0 done and valid; 1 a saved receipt did not verify (or `verify` found it invalid);
2 an error (bad arguments, the node refused, no receipt in time, unusable input).
Everything printed that came from the node has been made safe for a terminal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from .client import Client
from .errors import ApiError, CuriaError, safe_text
from .types import VerifyResult
from .verify import verify_files


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m curia_client", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--node", required=True, help="a node's API, e.g. http://127.0.0.1:28000")
        p.add_argument("--key", required=True, help="the platform's key file (as `curia keygen` writes it)")
        p.add_argument("--genesis", required=True, help="the chain's genesis JSON (from the court)")
        p.add_argument("--media-type", help="media type (default: guessed from the file name)")
        p.add_argument("--reference", default="", help="the platform's own reference (order number, file ID)")
        p.add_argument("--salted", action="store_true", help="deposit salted commitments (the salt goes in the receipt)")
        p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the receipts (default 60)")
        p.add_argument("--force", action="store_true", help="overwrite existing receipt files")

    d = sub.add_parser("deposit", help="deposit one file, wait for, save and verify its receipt")
    d.add_argument("file")
    d.add_argument("--label", help="label (default: the file name)")
    d.add_argument("--out", help="receipt file (default: FILE.receipt.json)")
    common(d)

    b = sub.add_parser("batch", help="deposit files as one batch, save and verify each item's receipt")
    b.add_argument("files", nargs="+")
    b.add_argument("--label", required=True, help="label shared by the batch")
    b.add_argument("--out-dir", required=True, help="folder for the receipts (DEPOSIT_ID.receipt.json)")
    common(b)

    v = sub.add_parser("verify", help="verify evidence against a receipt and a genesis (curia_verify)")
    v.add_argument("evidence")
    v.add_argument("receipt")
    v.add_argument("genesis")
    return ap


def _report(r: VerifyResult) -> int:
    sys.stdout.write("".join(safe_text(line, 4096) + "\n" for line in r.text.splitlines()))
    return r.exit_code


def _deposit(a: argparse.Namespace) -> int:
    c = Client(a.node, a.key, genesis=a.genesis)
    c.check_chain()
    d = c.deposit_file(a.file, a.media_type, a.label, a.reference, a.salted)
    print(f"{d.deposit_id}  {safe_text(a.file)}  submitted")
    r = c.wait_receipt(d.deposit_id, a.timeout)
    out = Path(a.out) if a.out else Path(f"{a.file}.receipt.json")
    c.save_receipt(r, out, d.salt, overwrite=a.force)
    print(f"committed in block {r.height}; receipt saved to {safe_text(str(out))}")
    return _report(c.verify(a.file, out))


def _batch(a: argparse.Namespace) -> int:
    c = Client(a.node, a.key, genesis=a.genesis)
    c.check_chain()
    b = c.batch_deposit_files(a.files, a.media_type or "application/octet-stream", a.label, a.reference, a.salted)
    print(f"batch {b.tx_id} of {len(b.items)} items submitted")
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    worst = 0
    for item, f in zip(b.items, a.files):
        r = c.wait_receipt(item.deposit_id, a.timeout)
        out = out_dir / f"{item.deposit_id}.receipt.json"
        c.save_receipt(r, out, item.salt, overwrite=a.force)
        res = c.verify(f, out)
        print(f"{item.deposit_id}  {safe_text(f)}  block {r.height}  {res.verdict.upper()}  {safe_text(str(out))}")
        worst = max(worst, res.exit_code)
    return worst


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    a = _parser().parse_args(argv)
    try:
        if a.cmd == "verify":
            return _report(verify_files(a.evidence, a.receipt, a.genesis))
        if a.cmd == "deposit":
            return _deposit(a)
        return _batch(a)
    except ApiError as e:
        print(f"error: the node refused: {e}", file=sys.stderr)
        return 2
    except CuriaError as e:
        print(f"error: {safe_text(str(e))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
