"""Who may call the simulator: Telesign's Basic and TSA HMAC-SHA256 digest schemes.

Telesign answers 401 with status 3400 for any authentication failure. The description says what
was wrong (never echoing a key or a signature) so that a developer can fix the client.

TSA digest, as Telesign documents it: the client signs
    METHOD \\n Content-Type \\n Date \\n x-ts-auth-method:HMAC-SHA256 \\n x-ts-nonce:NONCE [\\n body] \\n resource
When the date travels in `x-ts-date` instead of `Date`, Telesign's canonical form leaves the Date
line empty and lists `x-ts-date:...` among the x-ts headers in name order; some clients instead put
the x-ts-date value on the Date line. Both are accepted. The date must be RFC 1123 and within 15
minutes of the server's clock, and a nonce seen in that span is refused (replay protection).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from runner.telesign.auth import AUTH_METHOD, Credentials, sign, string_to_sign

DATE_TOLERANCE_S = 15 * 60
NONCE_MAX_LENGTH = 256


class Authenticator:
    """Checks one request's credentials; remembers recent nonces (bounded by the date tolerance)."""

    def __init__(self, credentials: Credentials, clock: Callable[[], float] | None = None) -> None:
        self.credentials = credentials
        self.clock = clock or time.time
        self._basic = "Basic " + base64.b64encode(f"{credentials.customer_id}:{credentials.api_key}".encode()).decode(
            "ascii"
        )
        # nonce -> wall time after which it may be forgotten; dicts keep insertion order, and
        # every entry lives the same span, so the oldest is always first.
        self._nonces: dict[str, float] = {}

    def refusal_reason(self, method: str, resource: str, headers: Mapping[str, str], body: bytes) -> str | None:
        """None when the request is authenticated, else why not (for the 401's description)."""
        authorization = headers.get("authorization", "")
        if authorization.startswith("Basic "):
            return self._check_basic(authorization)
        if authorization.startswith("TSA "):
            return self._check_digest(method, resource, headers, body, authorization)
        if not authorization:
            return "missing Authorization header"
        return "Authorization must use the Basic or TSA scheme"

    def _check_basic(self, authorization: str) -> str | None:
        token = authorization[len("Basic ") :].strip()
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return "Basic credentials are not valid base64"
        if ":" not in decoded:
            return "Basic credentials must be customer_id:api_key"
        if not hmac.compare_digest(("Basic " + token).encode(), self._basic.encode()):
            return "wrong customer id or API key"
        return None

    def _check_digest(
        self, method: str, resource: str, headers: Mapping[str, str], body: bytes, authorization: str
    ) -> str | None:
        customer_id, _, signature = authorization[len("TSA ") :].strip().rpartition(":")
        if not customer_id or not signature:
            return "TSA Authorization must be 'TSA <customer_id>:<signature>'"
        if not hmac.compare_digest(customer_id.encode(), self.credentials.customer_id.encode()):
            return "wrong customer id or signature"
        if headers.get("x-ts-auth-method", "").upper() != AUTH_METHOD:
            return f"x-ts-auth-method must be {AUTH_METHOD}"
        nonce = headers.get("x-ts-nonce", "")
        if not 1 <= len(nonce) <= NONCE_MAX_LENGTH:
            return "x-ts-nonce header is missing or too long"
        ts_date = headers.get("x-ts-date")
        date = headers.get("date")
        when = ts_date if ts_date is not None else date
        if when is None:
            return "missing Date or x-ts-date header"
        try:
            sent_at = parsedate_to_datetime(when).timestamp()
        except (TypeError, ValueError, IndexError):
            return "Date or x-ts-date is not an RFC 1123 date"
        now = self.clock()
        if abs(now - sent_at) > DATE_TOLERANCE_S:
            return "Date or x-ts-date is not within 15 minutes of the server's clock"
        content_type = headers.get("content-type", "")
        candidates = [string_to_sign(method, content_type, date or when, nonce, body, resource)]
        if ts_date is not None:
            candidates.append(_with_ts_date(method, content_type, ts_date, nonce, body, resource))
        expected = [sign(self.credentials.api_key, c).encode() for c in candidates]
        if not any(hmac.compare_digest(signature.encode(), e) for e in expected):
            return "wrong customer id or signature"
        # Only a correctly signed request uses up its nonce: a forged one must not lock it out.
        self._forget_old_nonces(now)
        if nonce in self._nonces:
            return "x-ts-nonce has been used recently"
        self._nonces[nonce] = now + 2 * DATE_TOLERANCE_S
        return None

    def _forget_old_nonces(self, now: float) -> None:
        while self._nonces:
            oldest = next(iter(self._nonces))
            if self._nonces[oldest] > now:
                break
            del self._nonces[oldest]


def _with_ts_date(method: str, content_type: str, ts_date: str, nonce: str, body: bytes, resource: str) -> bytes:
    lines = [method, content_type, "", f"x-ts-auth-method:{AUTH_METHOD}", f"x-ts-date:{ts_date}", f"x-ts-nonce:{nonce}"]
    head = "\n".join(lines).encode("utf-8")
    if content_type and body:
        head += b"\n" + body
    return head + b"\n" + resource.encode("utf-8")
