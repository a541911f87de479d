"""HTTP/1.1 to a node's API with urllib, with every answer bounded and checked.

Rules:
- The base URL is `http://` or `https://` with a host and nothing after the path (no query, no
  fragment, no credentials); a trailing `/` is dropped.
- Redirects are not followed: the API never redirects, and following one could send a signed
  transaction somewhere else.
- A body is read up to the caller's limit plus one byte; a longer body, or a `Content-Length`
  over the limit, is a `ProtocolError` before anything is parsed.
- JSON from the node must be UTF-8 and real JSON (`NaN`, `Infinity` refused).
- A non-2xx answer becomes the exception of its `code` (`errors.error_for`); an error body that is
  not the API's error JSON still becomes an `ApiError` (code `http_<status>`).
- `Retry-After` is read as whole seconds 0..=86400 (anything else: absent).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Optional

from .errors import ApiError, ConnectionFailed, InvalidInput, ProtocolError, error_for, safe_text

#: Largest error body read (an error is a short JSON object).
MAX_ERROR_BODY = 64 << 10
USER_AGENT = "curia-client-python/0.1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # urllib then raises the 3xx as an HTTPError


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash, after checking the module rules."""
    if not isinstance(url, str):
        raise InvalidInput("node URL must be a string")
    p = urllib.parse.urlsplit(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        raise InvalidInput(f"node URL must be http:// or https:// with a host, got {safe_text(url, 200)!r}")
    if p.query or p.fragment or p.username or p.password:
        raise InvalidInput("node URL must not carry a query, fragment or credentials")
    try:
        p.port
    except ValueError:
        raise InvalidInput("node URL has a bad port") from None
    return url.rstrip("/")


def parse_retry_after(v: Optional[str]) -> Optional[int]:
    """Whole seconds 0..=86400, or None."""
    if v is None:
        return None
    v = v.strip()
    if not v.isdigit() or len(v) > 6:
        return None
    n = int(v)
    return n if n <= 86400 else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def parse_json(data: bytes, what: str) -> Any:
    """Strict JSON from the node."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"{what}: the node's answer is not JSON ({safe_text(str(e), 200)})") from None


@dataclass(frozen=True)
class Answer:
    """A successful (2xx) answer."""

    status: int
    body: bytes
    retry_after: Optional[int]

    def json(self, what: str) -> Any:
        """The body as JSON."""
        return parse_json(self.body, what)


class Transport:
    """Requests to one node. `timeout` bounds each connect and each read (seconds)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def request(self, method: str, path: str, limit: int, body: Optional[bytes] = None) -> Answer:
        """Send one request; return a 2xx answer or raise."""
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        req.add_header("User-Agent", USER_AGENT)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            resp = self._opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            try:
                raise self._error(e) from None
            finally:
                e.close()
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ConnectionFailed(f"cannot reach {self.base_url}: {safe_text(str(reason), 300)}") from None
        with resp:
            try:
                data = _read_bounded(resp, limit, f"{method} {path}")
            except (http.client.HTTPException, OSError) as e:
                raise ConnectionFailed(f"connection to {self.base_url} broke while reading: {e}") from None
            return Answer(resp.status, data, parse_retry_after(resp.headers.get("Retry-After")))

    def _error(self, e: urllib.error.HTTPError) -> ApiError:
        retry_after = parse_retry_after(e.headers.get("Retry-After") if e.headers else None)
        try:
            data = _read_bounded(e, MAX_ERROR_BODY, "error answer")
        except (ProtocolError, http.client.HTTPException, OSError):
            data = b""
        code, message = f"http_{e.code}", f"HTTP {e.code} without the API's error body"
        try:
            v = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
            err = v["error"]
            c, m = err["code"], err["message"]
            if isinstance(c, str) and 1 <= len(c) <= 64 and c.replace("_", "").isalnum() and c.isascii() \
                    and isinstance(m, str):
                code, message = c, m
        except (UnicodeDecodeError, ValueError, RecursionError, KeyError, TypeError):
            pass
        return error_for(e.code, code, message, retry_after)


def _read_bounded(resp: Any, limit: int, what: str) -> bytes:
    length = resp.headers.get("Content-Length") if resp.headers else None
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise ProtocolError(f"{what}: the node announces {int(length)} bytes, more than the limit {limit}")
    data = resp.read(limit + 1)
    if len(data) > limit:
        raise ProtocolError(f"{what}: the node's answer is larger than {limit} bytes")
    return data
