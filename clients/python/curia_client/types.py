"""Typed requests and responses of the deposit API (docs/api.md), and what the client returns.

Requests (`DepositPayload`, `BatchDepositPayload`, `TxBody`, `Transaction`) encode themselves
canonically (for signing) and as the JSON `curia_ledger::tx::Transaction` accepts. Responses are
built only by the `from_json` constructors, which check every field's type, hex length and
range and raise `ProtocolError` otherwise: nothing the node sends is used unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from . import encoding as enc
from .errors import ProtocolError, safe_text

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1
_HEX = re.compile(r"[0-9a-fA-F]*\Z")

Hexish = Union[bytes, str]


# ----- checking values from the node -----


def want_dict(v: Any, where: str) -> dict:
    """`v` if it is a JSON object."""
    if not isinstance(v, dict):
        raise ProtocolError(f"{where}: expected a JSON object from the node")
    return v


def want_hex(v: Any, n: int, where: str) -> str:
    """`v` as lower-case hex of exactly `n` bytes."""
    if not isinstance(v, str) or len(v) != 2 * n or not _HEX.match(v):
        raise ProtocolError(f"{where}: expected {2 * n} hex digits from the node, got {safe_text(repr(v), 80)}")
    return v.lower()


def want_int(v: Any, where: str, maximum: int = U64) -> int:
    """`v` if it is a JSON integer in 0..=maximum (not a bool)."""
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= maximum:
        raise ProtocolError(f"{where}: expected an integer in 0..={maximum} from the node, got {safe_text(repr(v), 80)}")
    return v


def want_bool(v: Any, where: str) -> bool:
    """`v` if it is a JSON boolean."""
    if not isinstance(v, bool):
        raise ProtocolError(f"{where}: expected a boolean from the node")
    return v


def want_str(v: Any, where: str, max_len: int = 256) -> str:
    """`v` if it is a string of at most `max_len` characters."""
    if not isinstance(v, str) or len(v) > max_len:
        raise ProtocolError(f"{where}: expected a string of at most {max_len} characters from the node")
    return v


def to_bytes32(v: Hexish, what: str) -> bytes:
    """A 32-byte value given as bytes or 64 hex digits (raises ValueError otherwise)."""
    if isinstance(v, (bytes, bytearray)):
        if len(v) != 32:
            raise ValueError(f"{what} must be 32 bytes, got {len(v)}")
        return bytes(v)
    if isinstance(v, str) and len(v) == 64 and _HEX.match(v):
        return bytes.fromhex(v)
    raise ValueError(f"{what} must be 32 bytes or 64 hex digits")


# ----- requests -----


@dataclass(frozen=True)
class DepositPayload:
    """A single deposit (payload kind `deposit`)."""

    commitment: bytes
    salted: bool
    media_type: str
    byte_length: int
    label: str
    reference: str

    def encode(self, sender: bytes, nonce: int) -> bytes:
        """The canonical body with this payload."""
        return enc.deposit_body(sender, nonce, self.salted, self.commitment, self.media_type, self.byte_length,
                                self.label, self.reference)

    def to_json(self) -> dict:
        """As the node's JSON."""
        return {"kind": "deposit", "commitment": {"salted" if self.salted else "sha256": self.commitment.hex()},
                "media_type": self.media_type, "byte_length": self.byte_length, "label": self.label,
                "reference": self.reference}


@dataclass(frozen=True)
class BatchDepositPayload:
    """A batch deposit (payload kind `batch_deposit`); its items travel in the transaction."""

    root: bytes
    count: int
    salted: bool
    media_type: str
    label: str
    reference: str

    def encode(self, sender: bytes, nonce: int) -> bytes:
        """The canonical body with this payload."""
        return enc.batch_body(sender, nonce, self.root, self.count, self.salted, self.media_type, self.label,
                              self.reference)

    def to_json(self) -> dict:
        """As the node's JSON."""
        return {"kind": "batch_deposit", "root": self.root.hex(), "count": self.count, "salted": self.salted,
                "media_type": self.media_type, "label": self.label, "reference": self.reference}


Payload = Union[DepositPayload, BatchDepositPayload]


@dataclass(frozen=True)
class TxBody:
    """What the sender signs: its key, a nonce (any u64; it only makes bodies unique) and a payload."""

    sender: bytes
    nonce: int
    payload: Payload

    def encode(self) -> bytes:
        """Canonical bytes (docs/receipt-format.md 4.1)."""
        return self.payload.encode(self.sender, self.nonce)

    def tx_id(self, chain_id: bytes) -> bytes:
        """The transaction ID on `chain_id`."""
        return enc.tx_id(chain_id, self.encode())

    def to_json(self) -> dict:
        """As the node's JSON."""
        return {"sender": self.sender.hex(), "nonce": self.nonce, "payload": self.payload.to_json()}


@dataclass(frozen=True)
class Transaction:
    """A signed transaction, as `POST /v1/deposits` takes it."""

    body: TxBody
    signature: bytes
    items: tuple[bytes, ...] = ()

    def to_json(self) -> dict:
        """As the node's JSON (`items` only for a batch)."""
        out: dict = {"body": self.body.to_json(), "signature": self.signature.hex()}
        if self.items:
            out["items"] = [i.hex() for i in self.items]
        return out

    def deposit_ids(self, chain_id: bytes) -> list[str]:
        """The deposit IDs this transaction creates, in order (hex)."""
        txid = self.body.tx_id(chain_id)
        if isinstance(self.body.payload, BatchDepositPayload):
            return [enc.batch_item_id(txid, i).hex() for i in range(self.body.payload.count)]
        return [txid.hex()]


# ----- responses -----


@dataclass(frozen=True)
class SubmitResult:
    """`202` answer of `POST /v1/deposits`."""

    tx_id: str
    deposit_ids: list[str]

    @classmethod
    def from_json(cls, v: Any, max_ids: int) -> "SubmitResult":
        """Checked construction."""
        o = want_dict(v, "deposit answer")
        ids = o.get("deposit_ids")
        if not isinstance(ids, list) or len(ids) > max_ids:
            raise ProtocolError(f"deposit answer: deposit_ids must be a list of at most {max_ids}")
        return cls(want_hex(o.get("tx_id"), 32, "deposit answer tx_id"),
                   [want_hex(x, 32, f"deposit answer deposit_ids[{i}]") for i, x in enumerate(ids)])


@dataclass(frozen=True)
class NodeStatus:
    """`GET /v1/status`."""

    chain_id: str
    chain_name: str
    node: str
    height: int
    tip_hash: str
    peers: int
    mempool_txs: int
    last_commit_ms: int

    @classmethod
    def from_json(cls, v: Any) -> "NodeStatus":
        """Checked construction (fields this client does not use are ignored)."""
        o = want_dict(v, "status")
        return cls(want_hex(o.get("chain_id"), 32, "status chain_id"),
                   safe_text(want_str(o.get("chain_name"), "status chain_name", 64)),
                   safe_text(want_str(o.get("node"), "status node", 256)),
                   want_int(o.get("height"), "status height"),
                   want_hex(o.get("tip_hash"), 32, "status tip_hash"),
                   want_int(o.get("peers"), "status peers", U32),
                   want_int(o.get("mempool_txs"), "status mempool_txs"),
                   want_int(o.get("last_commit_ms"), "status last_commit_ms"))


@dataclass(frozen=True)
class DepositStatus:
    """`GET /v1/deposits/{id}`: where a committed deposit is."""

    deposit_id: str
    height: int
    tx_index: int
    item_index: Optional[int]
    block_hash: str
    block_time_ms: int
    commit_time_ms: int
    receipt_ready: bool

    @classmethod
    def from_json(cls, v: Any) -> "DepositStatus":
        """Checked construction."""
        o = want_dict(v, "deposit status")
        if o.get("status") != "committed":
            raise ProtocolError(f"deposit status: status is {safe_text(repr(o.get('status')), 40)}, expected committed")
        item = o.get("item_index")
        return cls(want_hex(o.get("deposit_id"), 32, "deposit status deposit_id"),
                   want_int(o.get("height"), "deposit status height"),
                   want_int(o.get("tx_index"), "deposit status tx_index", U32),
                   None if item is None else want_int(item, "deposit status item_index", U32),
                   want_hex(o.get("block_hash"), 32, "deposit status block_hash"),
                   want_int(o.get("block_time_ms"), "deposit status block_time_ms"),
                   want_int(o.get("commit_time_ms"), "deposit status commit_time_ms"),
                   want_bool(o.get("receipt_ready"), "deposit status receipt_ready"))


@dataclass(frozen=True)
class Receipt:
    """A receipt as the node served it: the exact bytes, and the fields the client checked.

    Checking here is a sanity check of the answer (right deposit, right chain, right shape), not
    verification: verify a saved receipt with `Client.verify` (the independent verifier).
    """

    raw: bytes
    doc: dict = field(repr=False)
    deposit_id: str
    chain_id: str
    height: int
    commit_time_ms: int
    salted: bool
    #: 1; 2 for a receipt that embeds membership history (docs/receipt-format.md 13.3); 3 for
    #: every receipt of a chain whose headers commit to the deposit log (7.1, 14.1).
    version: int = 1
    #: The membership changes a version 2 (or 3) receipt embeds, in order (empty for version 1).
    membership: tuple = ()
    #: The deposit's leaf index in the deposit log (version 3 only; checked offline by
    #: `Client.verify`, check `log_position`).
    log_index: Optional[int] = None

    @classmethod
    def from_json(cls, raw: bytes, doc: Any, deposit_id: str, chain_id: Optional[str]) -> "Receipt":
        """Checked construction: format and version, the deposit asked for, the client's chain,
        and for version 2 the shape of the embedded history (`curia_client.membership`)."""
        from .membership import read_receipt_history

        o = want_dict(doc, "receipt")
        if o.get("format") != "curia-receipt":
            raise ProtocolError("receipt: format is not curia-receipt")
        version = want_int(o.get("version"), "receipt version", 0xFFFF)
        if version not in (1, 2, 3):
            raise ProtocolError(f"receipt: version {version} is not 1, 2 or 3")
        got = want_hex(o.get("deposit_id"), 32, "receipt deposit_id")
        if got != deposit_id:
            raise ProtocolError(f"receipt is for deposit {got}, asked for {deposit_id}")
        cid = want_hex(o.get("chain_id"), 32, "receipt chain_id")
        if chain_id is not None and cid != chain_id:
            raise ProtocolError(f"receipt is for chain {cid}, the client's chain is {chain_id}")
        header = want_dict(o.get("header"), "receipt header")
        height = want_int(header.get("height"), "receipt header height")
        cert = want_dict(o.get("certificate"), "receipt certificate")
        sigs = cert.get("sigs")
        if not isinstance(sigs, list) or not 1 <= len(sigs) <= 128:
            raise ProtocolError("receipt certificate: sigs must be a list of 1 to 128 signatures")
        times = sorted(want_int(want_dict(s, "receipt certificate sig").get("time_ms"), "receipt sig time_ms")
                       for s in sigs)
        payload = want_dict(want_dict(o.get("tx"), "receipt tx").get("payload"), "receipt payload")
        kind = payload.get("kind")
        if kind == "deposit":
            salted = "salted" in want_dict(payload.get("commitment"), "receipt commitment")
        elif kind == "batch_deposit":
            salted = want_bool(payload.get("salted"), "receipt payload salted")
        else:
            raise ProtocolError("receipt: payload is not a deposit")
        history = read_receipt_history(o, version, cid, height)
        log_index = None
        if version == 3:
            log_index = want_int(o.get("log_index"), "receipt log_index")
            proof = o.get("log_proof")
            if not isinstance(proof, list) or len(proof) > 64:
                raise ProtocolError("receipt: log_proof must be a list of at most 64 hashes")
            for h in proof:
                want_hex(h, 32, "receipt log_proof hash")
        elif "log_index" in o or "log_proof" in o:
            raise ProtocolError(f"receipt: a version {version} receipt carries no deposit-log position")
        return cls(raw, o, got, cid, height, times[(len(times) - 1) // 2], salted, version, tuple(history),
                   log_index)


# ----- what the client returns -----


@dataclass(frozen=True)
class Deposit:
    """A submitted single deposit. Keep `salt` secret until you reveal it with the receipt."""

    deposit_id: str
    tx_id: str
    sha256: str
    commitment: str
    salt: Optional[bytes]
    byte_length: int
    media_type: str
    label: str
    reference: str


@dataclass(frozen=True)
class BatchItem:
    """One item of a submitted batch: its deposit ID, evidence digest and (if salted) salt."""

    index: int
    deposit_id: str
    sha256: str
    commitment: str
    salt: Optional[bytes]


@dataclass(frozen=True)
class BatchDeposit:
    """A submitted batch deposit: one transaction, one deposit ID per item."""

    tx_id: str
    root: str
    salted: bool
    items: list[BatchItem]


@dataclass(frozen=True)
class VerifyCheck:
    """One check of docs/receipt-format.md section 8, as the verifier reported it."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerifyResult:
    """The independent verifier's verdict: `valid`, `invalid` or `unusable` (exit 0, 1, 2)."""

    verdict: str
    exit_code: int
    checks: list[VerifyCheck]
    text: str

    @property
    def valid(self) -> bool:
        """Whether every check passed."""
        return self.verdict == "valid"

    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [c.name for c in self.checks if not c.ok]
