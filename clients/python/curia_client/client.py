"""The platform client: build, sign and submit deposits; wait for, check and save receipts.

Rules implemented (docs/api.md, docs/receipt-format.md section 4):
- Only digests leave the machine: a file is streamed through SHA-256 and never uploaded.
- Fields are checked before anything is signed (`check_text`, `check_media_type`): label 1 to
  256 UTF-8 bytes, reference 0 to 256, media type `type/subtype` of at most 128 bytes, and no
  control, format (bidi overrides, zero-width) or separator characters in any of them.
- A nonce is 8 random bytes; a salt is 32 random bytes (`secrets`), one per deposit or batch item.
- The node's answer to a submission must name the transaction ID and deposit IDs the client
  computed itself; anything else is a `ProtocolError`.
- 503 answers are retried after `Retry-After` (capped) until the submission deadline; so is a
  broken connection, since the same signed bytes are sent again. If a retry is then refused as
  `already_pending` or `duplicate`, an earlier attempt got in and the deposit counts as submitted.
- Waiting for a receipt polls `deposit_not_found` with a growing interval and follows
  `receipt_pending`'s `Retry-After`, never past the caller's total timeout.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import secrets
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from . import encoding as enc
from .errors import (ApiError, Conflict, ConnectionFailed, DepositNotFound, InvalidInput, ProtocolError,
                     ReceiptPending, ReceiptTimeout, Retryable, safe_text)
from .keys import SigningKey, read_key_file
from .transport import Transport
from .types import (BatchDeposit, BatchDepositPayload, BatchItem, Deposit, DepositPayload, DepositStatus, Hexish,
                    NodeStatus, Receipt, SubmitResult, Transaction, TxBody, VerifyResult, to_bytes32)
from .verify import chain_id_from_genesis, verify_files

MAX_MEDIA_TYPE = 128
MAX_LABEL = 256
MAX_REFERENCE = 256
MAX_BATCH_ITEMS = 10_000
U64 = (1 << 64) - 1
#: Body limit of POST /v1/deposits (docs/api.md, Limits).
MAX_DEPOSIT_BODY = 1 << 20
#: Receipts are at most 1 MiB (docs/receipt-format.md section 10).
MAX_RECEIPT_BYTES = 1 << 20
#: A membership history document is at most 64 MiB (docs/receipt-format.md 13.4).
MAX_HISTORY_BYTES = 64 << 20
#: Bound for other small JSON answers (status, deposit status).
MAX_SMALL_ANSWER = 64 << 10
#: Bound for a deposit answer: 10,000 deposit IDs of 64 hex digits and JSON punctuation.
MAX_SUBMIT_ANSWER = 2 << 20
#: Longest single wait on a node's Retry-After, seconds.
MAX_BACKOFF_S = 10.0

_MEDIA_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_MEDIA_TOKEN}/{_MEDIA_TOKEN}\Z")
_DEPOSIT_ID = re.compile(r"[0-9a-fA-F]{64}\Z")


def check_text(name: str, s: object, limit: int, allow_empty: bool) -> str:
    """A label or reference: a string of at most `limit` UTF-8 bytes with nothing invisible or controlling."""
    if not isinstance(s, str):
        raise InvalidInput(f"{name} must be a string")
    try:
        n = len(s.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(f"{name} is not valid Unicode") from None
    if n == 0 and not allow_empty:
        raise InvalidInput(f"{name} must not be empty")
    if n > limit:
        raise InvalidInput(f"{name} is {n} bytes of UTF-8, more than {limit}")
    for ch in s:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise InvalidInput(f"{name} holds the control or invisible character U+{ord(ch):04X}")
    return s


def check_media_type(s: object) -> str:
    """`type/subtype` (RFC 6838 restricted names), at most 128 bytes, no parameters."""
    if not isinstance(s, str) or len(s) > MAX_MEDIA_TYPE or not _MEDIA_TYPE.match(s):
        raise InvalidInput(f"media type must be type/subtype of at most {MAX_MEDIA_TYPE} characters, "
                           f"got {safe_text(repr(s), 150)}")
    return s


def check_deposit_id(deposit_id: object) -> str:
    """A deposit ID as 64 lower-case hex digits."""
    if not isinstance(deposit_id, str) or not _DEPOSIT_ID.match(deposit_id):
        raise InvalidInput("a deposit ID is 64 hex digits")
    return deposit_id.lower()


def _bytes32(v: Hexish, what: str) -> bytes:
    try:
        return to_bytes32(v, what)
    except ValueError as e:
        raise InvalidInput(str(e)) from None


class Client:
    """A platform's connection to one Curia node.

    `key` is a `SigningKey` or the path of a key file (as `curia keygen` writes it). The chain is
    given by `chain_id` (32 bytes or 64 hex digits) or by the path of its `genesis` JSON (the
    chain ID is then computed by the independent verifier, after it checked the genesis).
    `timeout` bounds each HTTP connect and read; `submit_deadline` bounds the retries of one
    submission.
    """

    def __init__(self, base_url: str, key: Union[SigningKey, str, Path], *, chain_id: Optional[Hexish] = None,
                 genesis: Optional[Union[str, Path]] = None, timeout: float = 30.0,
                 submit_deadline: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.transport = Transport(base_url, timeout)
        self.key = key if isinstance(key, SigningKey) else read_key_file(key)
        if (chain_id is None) == (genesis is None):
            raise InvalidInput("give exactly one of chain_id and genesis")
        self.chain_id = _bytes32(chain_id, "chain_id") if chain_id is not None else chain_id_from_genesis(genesis)
        self.genesis = genesis
        self.submit_deadline = submit_deadline
        self._sleep = sleep  # injectable with `clock` so that tests can run the waits without waiting
        self._clock = clock

    # ----- reads -----

    def status(self) -> NodeStatus:
        """`GET /v1/status`."""
        a = self.transport.request("GET", "/v1/status", MAX_SMALL_ANSWER)
        return NodeStatus.from_json(a.json("status"))

    def check_chain(self) -> NodeStatus:
        """The node's status, after checking that it runs the client's chain."""
        st = self.status()
        if st.chain_id != self.chain_id.hex():
            raise ProtocolError(f"the node runs chain {st.chain_id}, the client signs for {self.chain_id.hex()}")
        return st

    def deposit_status(self, deposit_id: str) -> DepositStatus:
        """`GET /v1/deposits/{id}`; raises `DepositNotFound` until committed."""
        did = check_deposit_id(deposit_id)
        a = self.transport.request("GET", f"/v1/deposits/{did}", MAX_SMALL_ANSWER)
        st = DepositStatus.from_json(a.json("deposit status"))
        if st.deposit_id != did:
            raise ProtocolError(f"deposit status is for {st.deposit_id}, asked for {did}")
        return st

    def get_receipt(self, deposit_id: str) -> Receipt:
        """`GET /v1/deposits/{id}/receipt` once; raises `DepositNotFound` or `ReceiptPending` while not ready."""
        did = check_deposit_id(deposit_id)
        a = self.transport.request("GET", f"/v1/deposits/{did}/receipt", MAX_RECEIPT_BYTES)
        return Receipt.from_json(a.body, a.json("receipt"), did, self.chain_id.hex())

    def get_membership(self) -> tuple[bytes, list]:
        """`GET /v1/membership`: the chain's membership history (docs/receipt-format.md 13.4) as
        the node's bytes and the changes read from it (`curia_client.membership.MembershipChange`),
        after checking its shape and that it is for the client's chain. It proves nothing by itself:
        the verifier walks it from the genesis (`verify(..., membership=PATH)`)."""
        from .membership import read_history_document

        a = self.transport.request("GET", "/v1/membership", MAX_HISTORY_BYTES)
        _, changes = read_history_document(a.json("membership history"), self.chain_id.hex())
        return a.body, changes

    def save_membership(self, path: Union[str, Path], overwrite: bool = False) -> Path:
        """Fetch the membership history and write the node's bytes atomically to `path`, for
        `verify(..., membership=path)` or `curia verify --membership`."""
        p = Path(path)
        if p.exists() and not overwrite:
            raise InvalidInput(f"{p} exists (pass overwrite=True to replace it)")
        raw, _ = self.get_membership()
        return _write_atomic(p, raw, overwrite)

    def wait_receipt(self, deposit_id: str, timeout: float = 60.0) -> Receipt:
        """The receipt, polling until it is issued, for at most `timeout` seconds in total."""
        did = check_deposit_id(deposit_id)
        start = self._clock()
        deadline = start + timeout
        poll = 0.25
        while True:
            try:
                return self.get_receipt(did)
            except ReceiptPending as e:
                wait, last = float(e.retry_after or 1), str(e)
            except DepositNotFound as e:
                wait, last = poll, str(e)
                poll = min(poll * 1.5, 2.0)
            except Retryable as e:
                wait, last = float(e.retry_after or 1), str(e)
            except ConnectionFailed as e:
                wait, last = 1.0, str(e)
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise ReceiptTimeout(did, self._clock() - start, last)
            self._sleep(min(wait, MAX_BACKOFF_S, remaining))

    # ----- deposits -----

    def deposit_file(self, path: Union[str, Path], media_type: Optional[str] = None, label: Optional[str] = None,
                     reference: str = "", salted: bool = False) -> Deposit:
        """Deposit a file's SHA-256 (streamed; the file never leaves this machine).

        `media_type` defaults to a guess from the file name, `label` to the file name.
        """
        p = Path(path)
        try:
            with open(p, "rb") as f:
                digest, length = enc.sha256_stream(f)
        except OSError as e:
            raise InvalidInput(f"cannot read {p}: {e.strerror or e}") from None
        if media_type is None:
            media_type = mimetypes.guess_type(p.name, strict=True)[0] or "application/octet-stream"
        return self.deposit_digest(digest, length, media_type, p.name if label is None else label, reference, salted)

    def deposit_digest(self, sha256: Hexish, byte_length: int, media_type: str, label: str, reference: str = "",
                       salted: bool = False, salt: Optional[bytes] = None) -> Deposit:
        """Deposit an evidence digest (its SHA-256 and length). With `salted`, a fresh salt (or `salt`) hides it."""
        digest = _bytes32(sha256, "sha256")
        if not isinstance(byte_length, int) or isinstance(byte_length, bool) or not 0 <= byte_length <= U64:
            raise InvalidInput("byte_length must be an integer in 0..2^64")
        if salt is not None and not salted:
            raise InvalidInput("a salt is given but the deposit is not salted")
        if salted:
            salt = secrets.token_bytes(32) if salt is None else _bytes32(salt, "salt")
        commitment = enc.salted_commitment(salt, digest) if salt is not None else digest
        payload = DepositPayload(commitment, salted, check_media_type(media_type), byte_length,
                                 check_text("label", label, MAX_LABEL, False),
                                 check_text("reference", reference, MAX_REFERENCE, True))
        tx = self.sign(payload)
        res = self.submit(tx)
        return Deposit(res.deposit_ids[0], res.tx_id, digest.hex(), commitment.hex(), salt, byte_length,
                       payload.media_type, payload.label, payload.reference)

    def batch_deposit(self, digests: Sequence[Hexish], media_type: str, label: str, reference: str = "",
                      salted: bool = False) -> BatchDeposit:
        """Deposit 1 to 10,000 digests under one signature; each item gets its own deposit ID (and salt)."""
        if isinstance(digests, (str, bytes)) or not 1 <= len(digests) <= MAX_BATCH_ITEMS:
            raise InvalidInput(f"a batch holds 1 to {MAX_BATCH_ITEMS} digests")
        ds = [_bytes32(d, f"digest {i}") for i, d in enumerate(digests)]
        salts = [secrets.token_bytes(32) for _ in ds] if salted else [None] * len(ds)
        commitments = [d if s is None else enc.salted_commitment(s, d) for s, d in zip(salts, ds)]
        payload = BatchDepositPayload(enc.merkle_root(commitments), len(ds), salted, check_media_type(media_type),
                                      check_text("label", label, MAX_LABEL, False),
                                      check_text("reference", reference, MAX_REFERENCE, True))
        tx = self.sign(payload, commitments)
        res = self.submit(tx)
        items = [BatchItem(i, res.deposit_ids[i], ds[i].hex(), commitments[i].hex(), salts[i])
                 for i in range(len(ds))]
        return BatchDeposit(res.tx_id, payload.root.hex(), salted, items)

    def batch_deposit_files(self, paths: Sequence[Union[str, Path]], media_type: str, label: str,
                            reference: str = "", salted: bool = False) -> BatchDeposit:
        """Hash files (streamed) and deposit their digests as one batch, in the given order."""
        digests = []
        for p in paths:
            try:
                with open(p, "rb") as f:
                    digests.append(enc.sha256_stream(f)[0])
            except OSError as e:
                raise InvalidInput(f"cannot read {p}: {e.strerror or e}") from None
        return self.batch_deposit(digests, media_type, label, reference, salted)

    def sign(self, payload: Union[DepositPayload, BatchDepositPayload], items: Sequence[bytes] = ()) -> Transaction:
        """Sign `payload` with a fresh random nonce (no field checks: the high-level methods do them)."""
        body = TxBody(self.key.public, int.from_bytes(secrets.token_bytes(8), "big"), payload)
        return Transaction(body, self.key.sign(body.tx_id(self.chain_id)), tuple(items))

    def submit(self, tx: Transaction) -> SubmitResult:
        """`POST /v1/deposits`, retrying 503s and broken connections until `submit_deadline`."""
        data = json.dumps(tx.to_json(), separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_DEPOSIT_BODY:
            raise InvalidInput(f"the transaction is {len(data)} bytes, over the deposit limit {MAX_DEPOSIT_BODY}")
        want_tx = tx.body.tx_id(self.chain_id).hex()
        want_ids = tx.deposit_ids(self.chain_id)
        deadline = self._clock() + self.submit_deadline
        retried = False
        while True:
            try:
                a = self.transport.request("POST", "/v1/deposits", MAX_SUBMIT_ANSWER, data)
                break
            except Conflict:
                if retried:  # an earlier attempt of these same bytes got in
                    return SubmitResult(want_tx, want_ids)
                raise
            except (Retryable, ConnectionFailed) as e:
                wait = min(float(e.retry_after or 1) if isinstance(e, ApiError) else 1.0, MAX_BACKOFF_S)
                if self._clock() + wait > deadline:
                    raise
                self._sleep(wait)
                retried = True
        res = SubmitResult.from_json(a.json("deposit answer"), len(want_ids))
        if res.tx_id != want_tx or res.deposit_ids != want_ids:
            raise ProtocolError(f"the node answered transaction {res.tx_id} with {len(res.deposit_ids)} deposit IDs; "
                                f"the client signed {want_tx} with {len(want_ids)}")
        return res

    # ----- files -----

    @staticmethod
    def save_receipt(receipt: Receipt, path: Union[str, Path], salt: Optional[Hexish] = None,
                     overwrite: bool = False) -> Path:
        """Write the receipt atomically. For a salted deposit pass its `salt`, which the receipt then reveals.

        Without a salt the node's bytes are written unchanged. Refuses to replace an existing file
        unless `overwrite`.
        """
        p = Path(path)
        if salt is not None:
            if not receipt.salted:
                raise InvalidInput("the receipt is for an unsalted deposit: it must not carry a salt")
            doc = dict(receipt.doc)
            doc["salt"] = _bytes32(salt, "salt").hex()
            data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        else:
            data = receipt.raw
        return _write_atomic(p, data, overwrite)

    def verify(self, evidence_path: Union[str, Path], receipt_path: Union[str, Path],
               genesis_path: Optional[Union[str, Path]] = None,
               membership: Optional[Union[str, Path]] = None) -> VerifyResult:
        """Verify offline with the independent verifier (curia_verify); the genesis defaults to the client's.

        A version 2 receipt carries the membership history it needs. `membership` (a saved
        history, `save_membership`) serves only a receipt that embeds none (receipt format 13.4).
        """
        g = genesis_path if genesis_path is not None else self.genesis
        if g is None:
            raise InvalidInput("verification needs the chain's genesis file")
        return verify_files(evidence_path, receipt_path, g, membership)


def _write_atomic(p: Path, data: bytes, overwrite: bool) -> Path:
    """Write `data` to `p` through a synced temporary file in the same directory and a rename;
    refuse to replace an existing file unless `overwrite`."""
    if p.exists() and not overwrite:
        raise InvalidInput(f"{p} exists (pass overwrite=True to replace it)")
    fd, tmp = tempfile.mkstemp(prefix=".curia-", dir=str(p.parent) if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


__all__ = ["Client", "check_text", "check_media_type", "check_deposit_id"]
