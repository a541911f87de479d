"""Reading the membership history a version 2 receipt embeds (docs/receipt-format.md 7.1, 13).

A receipt certified by a set other than the genesis set is version 2 and carries, under
`membership`, the history entries that lead from the genesis set to the set in force at its height
`H`. Written from the spec, not from tests/python/curia_verify.py. The client *reads* the history
(to accept the node's answer and to show what changed); it does not walk it: the signatures,
certificates and inclusion proofs are checked by the verifier (`Client.verify`, which gives the
receipt to curia_verify), like every other check of section 8.

Rules implemented (a breach is a `ProtocolError`: the node sent something no node issues):
- version 1 carries no `membership` key; version 2 carries a list of 1 to 1024 entries (7.1, 7.3);
- an entry is an object with exactly the keys `tx`, `signature`, `tx_index`, `tx_proof`, `header`,
  `certificate` (13.1); `tx.payload.kind` is `membership` and its `seq` is the entry's place
  (13.2 step 3); the `change` is one of `add`, `remove`, `rotate`, `power` (4.1.2);
- the header names the receipt's chain, its height `h` is at least 1 and not below the previous
  entry's, the certificate is for that height (13.2 steps 1, 2, 5), and every entry is in force
  at the receipt's height: `h + 2 <= H` (13.3);
- the history document of 13.4 (`GET /v1/membership`) has the same entries under `entries`, with
  `format` `curia-membership`, `version` 1 and the chain's ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .errors import ProtocolError
from .types import U32, want_dict, want_hex, want_int, want_str

#: A change committed at height h is in force from h + ACTIVATION_DELAY (docs/protocol.md).
ACTIVATION_DELAY = 2
#: Entries a receipt may embed (7.1).
MAX_RECEIPT_HISTORY = 1024
#: Entries a history document may hold (13.4).
MAX_HISTORY_ENTRIES = 65536
#: Approvals of one change (4.1.2, section 10).
MAX_APPROVALS = 128
#: The change kinds of 4.1.2 and the keys each carries besides `op`.
CHANGE_KEYS = {"add": {"validator"}, "remove": {"key"}, "rotate": {"old", "new"}, "power": {"key", "power"}}
#: Validator roles (3.1).
VALIDATOR_ROLES = ("court", "notary", "timesvc", "mediation", "forensic")
ENTRY_KEYS = {"tx", "signature", "tx_index", "tx_proof", "header", "certificate"}
MAX_POWER = 1 << 40


@dataclass(frozen=True)
class MembershipChange:
    """One committed change of the validator set, as a history entry names it.

    `change` is the change's JSON (`{"op": "rotate", "old": ..., "new": ...}` and so on), checked
    for shape; `in_force_from` is `height + 2`.
    """

    seq: int
    height: int
    op: str
    change: dict
    approvals: int

    @property
    def in_force_from(self) -> int:
        """The first height whose set includes this change."""
        return self.height + ACTIVATION_DELAY


def _exact_keys(o: dict, keys: set, where: str) -> None:
    if set(o) != keys:
        extra, missing = sorted(set(o) - keys), sorted(keys - set(o))
        raise ProtocolError(f"{where}: unexpected keys {extra} / missing keys {missing}")


def _read_change(v: Any, where: str) -> dict:
    c = want_dict(v, where)
    op = c.get("op")
    if op not in CHANGE_KEYS:
        raise ProtocolError(f"{where}: unknown membership change {str(op)[:40]!r}")
    _exact_keys(c, CHANGE_KEYS[op] | {"op"}, where)
    if op == "add":
        val = want_dict(c["validator"], f"{where} validator")
        _exact_keys(val, {"name", "role", "key", "power", "address"}, f"{where} validator")
        want_str(val["name"], f"{where} validator name", 64)
        if val["role"] not in VALIDATOR_ROLES:
            raise ProtocolError(f"{where}: unknown validator role")
        want_hex(val["key"], 32, f"{where} validator key")
        if want_int(val["power"], f"{where} validator power", MAX_POWER) < 1:
            raise ProtocolError(f"{where}: validator power 0")
        want_str(val["address"], f"{where} validator address", 256)
    elif op == "rotate":
        want_hex(c["old"], 32, f"{where} old")
        want_hex(c["new"], 32, f"{where} new")
    else:
        want_hex(c["key"], 32, f"{where} key")
        if op == "power" and want_int(c["power"], f"{where} power", MAX_POWER) < 1:
            raise ProtocolError(f"{where}: power 0")
    return c


def read_entries(v: Any, chain_id: str, limit: int, where: str,
                 height: Optional[int] = None) -> list[MembershipChange]:
    """Check a list of history entries (13.1) against the rules of the module docs; with
    `height` (a receipt's), every entry must be in force there. Returns the changes in order."""
    if not isinstance(v, list) or len(v) > limit:
        raise ProtocolError(f"{where}: expected a list of at most {limit} history entries")
    out: list[MembershipChange] = []
    prev = 0
    for i, raw in enumerate(v):
        w = f"{where}[{i}]"
        e = want_dict(raw, w)
        _exact_keys(e, ENTRY_KEYS, w)
        want_hex(e["signature"], 64, f"{w} signature")
        want_int(e["tx_index"], f"{w} tx_index", U32)
        proof = e["tx_proof"]
        if not isinstance(proof, list) or len(proof) > 64:
            raise ProtocolError(f"{w} tx_proof: expected at most 64 hashes")
        for j, p in enumerate(proof):
            want_hex(p, 32, f"{w} tx_proof[{j}]")
        payload = want_dict(want_dict(e["tx"], f"{w} tx").get("payload"), f"{w} payload")
        if payload.get("kind") != "membership":
            raise ProtocolError(f"{w}: the transaction is not a membership change")
        _exact_keys(payload, {"kind", "seq", "change", "approvals"}, f"{w} payload")
        seq = want_int(payload["seq"], f"{w} seq")
        if seq != i:
            raise ProtocolError(f"{w}: seq {seq} is not the entry's place {i}")
        approvals = payload["approvals"]
        if not isinstance(approvals, list) or len(approvals) > MAX_APPROVALS:
            raise ProtocolError(f"{w} approvals: expected at most {MAX_APPROVALS}")
        change = _read_change(payload["change"], f"{w} change")
        header = want_dict(e["header"], f"{w} header")
        if want_hex(header.get("chain_id"), 32, f"{w} header chain_id") != chain_id:
            raise ProtocolError(f"{w}: the header is for another chain")
        h = want_int(header.get("height"), f"{w} header height")
        if h < 1 or h < prev:
            raise ProtocolError(f"{w}: height {h} is out of order")
        cert = want_dict(e["certificate"], f"{w} certificate")
        if want_int(cert.get("height"), f"{w} certificate height") != h:
            raise ProtocolError(f"{w}: the certificate is not for height {h}")
        if height is not None and h + ACTIVATION_DELAY > height:
            raise ProtocolError(f"{w}: in force from {h + ACTIVATION_DELAY}, after the receipt's height {height}")
        prev = h
        out.append(MembershipChange(seq, h, change["op"], change, len(approvals)))
    return out


def read_receipt_history(o: dict, version: int, chain_id: str, height: int) -> list[MembershipChange]:
    """The `membership` of a receipt of `version` (1, 2 or 3) at `height` (7.1, 13.3): absent in
    version 1, required and non-empty in version 2, optional in version 3 (an empty array reads
    as none)."""
    if version == 1:
        if "membership" in o:
            raise ProtocolError("receipt: a version 1 receipt carries no membership history")
        return []
    if version == 3:
        if "membership" not in o:
            return []
        if isinstance(o["membership"], list) and not o["membership"]:
            return []
        return read_entries(o["membership"], chain_id, MAX_RECEIPT_HISTORY, "receipt membership", height)
    if "membership" not in o:
        raise ProtocolError("receipt: a version 2 receipt without membership history")
    out = read_entries(o["membership"], chain_id, MAX_RECEIPT_HISTORY, "receipt membership", height)
    if not out:
        raise ProtocolError("receipt: a version 2 receipt with an empty membership history")
    return out


def read_history_document(doc: Any, chain_id: Optional[str]) -> tuple[str, list[MembershipChange]]:
    """A history document (13.4, `GET /v1/membership`): (its chain ID, its changes)."""
    o = want_dict(doc, "membership history")
    _exact_keys(o, {"format", "version", "chain_id", "entries"}, "membership history")
    if o["format"] != "curia-membership":
        raise ProtocolError("membership history: format is not curia-membership")
    if want_int(o["version"], "membership history version", 0xFFFF) != 1:
        raise ProtocolError(f"membership history: version {o['version']} is not 1")
    cid = want_hex(o["chain_id"], 32, "membership history chain_id")
    if chain_id is not None and cid != chain_id:
        raise ProtocolError(f"membership history is for chain {cid}, the client's chain is {chain_id}")
    return cid, read_entries(o["entries"], cid, MAX_HISTORY_ENTRIES, "membership history entries")
