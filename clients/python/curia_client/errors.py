"""Exceptions: one class per API error code (docs/api.md, "Errors"), plus local failures.

Rules:
- Every failure the client reports is a `CuriaError`.
- An answer from the node with a JSON error body `{"error": {"code", "message"}}` becomes the
  class registered for its `code` in `ERROR_CLASSES`; a code this client does not know becomes
  `UnknownApiError` for a 4xx/5xx status class (422 codes are ledger rules: `RuleViolation`).
- Grouping base classes say what a caller should do: `Retryable` (503: retry after
  `retry_after` seconds), `AuthError` (401/403: the key is not allowed), `RequestRejected`
  (400/413/422: the request itself is wrong, do not resend it unchanged), `Conflict` (409:
  the transaction is already known), `NotFoundError` (404), `ServerError` (500).
- The node's message is untrusted text: it is bounded and stripped of control, format and
  separator characters before it is stored, so printing an exception cannot drive a terminal.
"""

from __future__ import annotations

import unicodedata
from typing import Optional

#: Longest node message kept (characters).
MAX_MESSAGE = 1000


def safe_text(s: str, limit: int = MAX_MESSAGE) -> str:
    """`s` with control, format (bidi, zero-width) and separator characters escaped, cut to `limit`."""
    out = []
    for ch in s[:limit]:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    if len(s) > limit:
        out.append("…")
    return "".join(out)


class CuriaError(Exception):
    """Base of every error this client raises."""


class InvalidInput(CuriaError, ValueError):
    """An argument given to the client breaks a rule; nothing was sent."""


class KeyFileError(CuriaError):
    """A key file cannot be read or is not a valid Curia key file."""


class ConnectionFailed(CuriaError):
    """The node could not be reached, or the connection broke before an answer."""


class ProtocolError(CuriaError):
    """The node's answer is malformed, too large, or contradicts what was sent."""


class ReceiptTimeout(CuriaError):
    """The receipt was not issued within the caller's deadline."""

    def __init__(self, deposit_id: str, waited_s: float, last: str) -> None:
        super().__init__(f"no receipt for deposit {deposit_id} after {waited_s:.1f} s (last answer: {last})")
        self.deposit_id = deposit_id
        self.waited_s = waited_s


class VerifierUnavailable(CuriaError):
    """The independent Python verifier (curia_verify) cannot be found or loaded."""


class ApiError(CuriaError):
    """The node answered with an error. `status` is the HTTP status, `code` the stable code."""

    def __init__(self, status: int, code: str, message: str, retry_after: Optional[int] = None) -> None:
        self.status = status
        self.code = code
        self.message = safe_text(message)
        self.retry_after = retry_after
        super().__init__(f"{status} {code}: {self.message}")


class RequestRejected(ApiError):
    """400, 413 or 422: the request is wrong; sending it again unchanged gives the same answer."""


class AuthError(ApiError):
    """401 or 403: the key may not do this (unregistered, wrong role, bad read signature)."""


class NotFoundError(ApiError):
    """404."""


class Conflict(ApiError):
    """409: the same transaction is already pending or committed."""


class ServerError(ApiError):
    """500: the node failed; its log has the details."""


class Retryable(ApiError):
    """503: the node pushes back; retry after `retry_after` seconds."""


class UnknownApiError(ApiError):
    """An error code this client does not know (the status still says what kind it is)."""


class RuleViolation(RequestRejected):
    """422 with a ledger rule code this client has no class for."""


def _all_subclasses(c: type) -> list[type]:
    out = []
    for s in c.__subclasses__():
        out.append(s)
        out.extend(_all_subclasses(s))
    return out


# ----- 400 -----

class BadJson(RequestRejected):
    """400 `bad_json`: the body is not JSON of the expected shape."""

    code_name = "bad_json"


class BadBody(RequestRejected):
    """400 `bad_body`: the body could not be read."""

    code_name = "bad_body"


class BadHex(RequestRejected):
    """400 `bad_hex`: a hash path parameter or header is not hex of the right length."""

    code_name = "bad_hex"


class BadHeight(RequestRejected):
    """400 `bad_height`: a height is not a decimal number."""

    code_name = "bad_height"


class BadQuery(RequestRejected):
    """400 `bad_query`: a query parameter is missing or wrong."""

    code_name = "bad_query"


class BadCaseId(RequestRejected):
    """400 `bad_case_id`: a case ID is not 1-64 of [A-Za-z0-9._-]."""

    code_name = "bad_case_id"


class BadSignature(RequestRejected):
    """400 `bad_signature`: the transaction's signature does not verify."""

    code_name = "bad_signature"


class BadKey(RequestRejected):
    """400 `bad_key`: a key is not a valid ed25519 public key."""

    code_name = "bad_key"


class BadTimestamp(RequestRejected):
    """400 `bad_timestamp`: the Curia-Timestamp header is not a number."""

    code_name = "bad_timestamp"


class DecodeError(RequestRejected):
    """400 `decode`: an encoded value cannot be decoded."""

    code_name = "decode"


class UnsupportedVersion(RequestRejected):
    """400 `unsupported_version`: an unknown version."""

    code_name = "unsupported_version"


# ----- 401 -----

class UnsignedRequest(AuthError):
    """401 `unsigned_request`: a signed read without its headers."""

    code_name = "unsigned_request"


class StaleRequest(AuthError):
    """401 `stale_request`: a signed read's timestamp is over 300 s off."""

    code_name = "stale_request"


class BadReadSignature(AuthError):
    """401 `bad_read_signature`: a signed read's signature does not verify."""

    code_name = "bad_read_signature"


# ----- 403 -----

class ForbiddenReader(AuthError):
    """403 `forbidden_reader`: this key may not read cases."""

    code_name = "forbidden_reader"


class UnknownSender(AuthError):
    """403 `unknown_sender`: the key is not a registered, active client."""

    code_name = "unknown_sender"


class WrongRole(AuthError):
    """403 `wrong_role`: the key's role may not send this transaction."""

    code_name = "wrong_role"


# ----- 404 -----

class DepositNotFound(NotFoundError):
    """404 `deposit_not_found`: no committed deposit has this ID (yet)."""

    code_name = "deposit_not_found"


class ReceiptPending(NotFoundError):
    """404 `receipt_pending`: committed; the receipt follows one block later."""

    code_name = "receipt_pending"


class BlockNotFound(NotFoundError):
    """404 `block_not_found`: no committed block at this height."""

    code_name = "block_not_found"


class CaseNotFound(NotFoundError):
    """404 `case_not_found`: no such case."""

    code_name = "case_not_found"


class EndpointNotFound(NotFoundError):
    """404 `not_found`: no such endpoint."""

    code_name = "not_found"


# ----- 405 -----

class MethodNotAllowed(RequestRejected):
    """405 `method_not_allowed`: the endpoint exists but not with this method."""

    code_name = "method_not_allowed"


# ----- 409 -----

class AlreadyPending(Conflict):
    """409 `already_pending`: the same transaction is in the node's mempool."""

    code_name = "already_pending"


class Duplicate(Conflict):
    """409 `duplicate`: the same transaction is already committed."""

    code_name = "duplicate"


# ----- 413 -----

class TooLarge(RequestRejected):
    """413 `too_large`: the body is over the endpoint's limit."""

    code_name = "too_large"


class TooManyTxs(RequestRejected):
    """413 `too_many_txs`: more transactions than the submission limit."""

    code_name = "too_many_txs"


# ----- 422 -----

class InvalidField(RequestRejected):
    """422 `invalid_field`: a field breaks a rule."""

    code_name = "invalid_field"


class WrongKind(RequestRejected):
    """422 `wrong_kind`: not a deposit or batch deposit."""

    code_name = "wrong_kind"


class BatchRootMismatch(RuleViolation):
    """422 `batch_root_mismatch`: the items' root is not the signed root."""

    code_name = "batch_root_mismatch"


class BadProof(RuleViolation):
    """422 `bad_proof`: a Merkle proof does not verify."""

    code_name = "bad_proof"


class NotEnoughApprovals(RuleViolation):
    """422 `not_enough_approvals`: a registry change lacks approvals."""

    code_name = "not_enough_approvals"


class RegistryError(RuleViolation):
    """422 `registry`: a registry change breaks a rule."""

    code_name = "registry"


# ----- 500 -----

class StorageError(ServerError):
    """500 `storage`: the node's store failed a read."""

    code_name = "storage"


class InternalError(ServerError):
    """500 `internal`: the node answered inconsistently."""

    code_name = "internal"


# ----- 503 -----

class MempoolFull(Retryable):
    """503 `mempool_full`: the mempool is full."""

    code_name = "mempool_full"


class Busy(Retryable):
    """503 `busy`: the node's submission queue is full."""

    code_name = "busy"


class Unavailable(Retryable):
    """503 `unavailable`: the node is shutting down or dropped the submission."""

    code_name = "unavailable"


class SubmitTimeout(Retryable):
    """503 `timeout`: the node did not answer the submission within 30 s."""

    code_name = "timeout"


#: Error code -> exception class.
ERROR_CLASSES: dict[str, type[ApiError]] = {
    c.code_name: c  # type: ignore[attr-defined]
    for base in (RequestRejected, AuthError, NotFoundError, Conflict, ServerError, Retryable)
    for c in _all_subclasses(base)
    if "code_name" in c.__dict__
}


def error_for(status: int, code: str, message: str, retry_after: Optional[int] = None) -> ApiError:
    """The exception for an error answer."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        if status == 422:
            cls = RuleViolation
        elif status == 503:
            cls = Retryable
        else:
            cls = UnknownApiError
    return cls(status, code, message, retry_after)


#: What `from curia_client.errors import *` exports: every exception class and the helpers.
__all__ = [n for n, v in list(globals().items()) if isinstance(v, type) and issubclass(v, CuriaError)] + [
    "ERROR_CLASSES", "error_for", "safe_text"]
