"""Telesign's authentication, in one place for the client, the simulator and the receiver.

- Basic: `Authorization: Basic base64(customer_id:api_key)` (the seed's example).
- TSA digest (Telesign REST "HMAC-SHA256"): the string to sign is
  METHOD \n Content-Type \n Date \n x-ts-auth-method:HMAC-SHA256 \n x-ts-nonce:NONCE
  [\n body] \n resource, signed with HMAC-SHA256 under the base64-decoded API key and sent as
  `Authorization: TSA <customer_id>:<base64 signature>`. The body signed must be byte-identical
  to the body sent, so callers pass the exact bytes.
- Callbacks: Telesign signs a callback's raw body with HMAC-SHA256 under the base64-decoded API
  key and sends `Authorization: TSA <customer_id>:<signature>` and the bare signature in
  `X-TS-Authorization`; its SDKs' helper reads a bare signature in `Authorization`, also accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from email.utils import formatdate

AUTH_METHOD = "HMAC-SHA256"

# Demo credentials for the simulator and the sandbox. They open nothing real; the key is derived
# here rather than written out so that no key-shaped literal sits in the source.
DEMO_CUSTOMER_ID = "00000000-0000-4000-8000-00000000DEMO"
DEMO_API_KEY = base64.b64encode(b"campaign-runner sandbox key, not a secret").decode("ascii")


@dataclass(frozen=True)
class Credentials:
    customer_id: str
    api_key: str

    def __repr__(self) -> str:  # never let the key reach a log or a traceback
        return f"Credentials(customer_id={mask(self.customer_id)!r}, api_key='***')"

    __str__ = __repr__


def mask(value: str) -> str:
    return value[:4] + "…" if len(value) > 4 else "…"


def key_bytes(api_key: str) -> bytes:
    """The HMAC key, decoded as Telesign's own SDK decodes it (`b64decode(api_key)` in telesign's
    RestClient): lenient base64, characters outside the alphabet (spaces, line breaks, `-`, `_`)
    dropped, so that a key pasted with them signs exactly as the SDK signs. A key that does not
    decode even so (wrong padding, not ASCII) is used as its raw bytes here; settings refuse such
    a key for digest sends (key_problem)."""
    try:
        return base64.b64decode(api_key)
    except (binascii.Error, ValueError):
        return api_key.encode("utf-8")


def key_problem(api_key: str) -> str | None:
    """Why Telesign's SDK could not sign with this API key (digest auth), or None."""
    if not api_key.isascii():
        return "has characters that are not ASCII: a Telesign API key is base64"
    try:
        decoded = base64.b64decode(api_key)
    except (binascii.Error, ValueError):
        return "is not base64 (its length or padding is wrong): copy the key again from Telesign's portal"
    if not decoded:
        return "has no base64 characters"
    return None


def basic_authorization(creds: Credentials) -> str:
    token = base64.b64encode(f"{creds.customer_id}:{creds.api_key}".encode()).decode("ascii")
    return f"Basic {token}"


def string_to_sign(method: str, content_type: str, date: str, nonce: str, body: bytes, resource: str) -> bytes:
    parts = [method, content_type, date, f"x-ts-auth-method:{AUTH_METHOD}", f"x-ts-nonce:{nonce}"]
    head = "\n".join(parts).encode("utf-8")
    if content_type and body:
        head += b"\n" + body
    return head + b"\n" + resource.encode("utf-8")


def sign(api_key: str, message: bytes) -> str:
    digest = hmac.new(key_bytes(api_key), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def digest_headers(
    creds: Credentials,
    method: str,
    resource: str,
    body: bytes,
    content_type: str = "application/json",
    date: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers for one TSA-signed request: a fresh nonce and date per attempt."""
    date = date or formatdate(usegmt=True)
    nonce = nonce or str(uuid.uuid4())
    signature = sign(creds.api_key, string_to_sign(method, content_type, date, nonce, body, resource))
    return {
        "Authorization": f"TSA {creds.customer_id}:{signature}",
        "Date": date,
        "Content-Type": content_type,
        "x-ts-auth-method": AUTH_METHOD,
        "x-ts-nonce": nonce,
    }


def callback_signature(api_key: str, raw_body: bytes) -> str:
    return sign(api_key, raw_body)


def callback_headers(creds: Credentials, raw_body: bytes) -> dict[str, str]:
    signature = callback_signature(creds.api_key, raw_body)
    return {
        "Authorization": f"TSA {creds.customer_id}:{signature}",
        "X-TS-Authorization": signature,
        "Content-Type": "application/json",
    }


def verify_callback(api_key: str, raw_body: bytes, authorization: str | None, ts_authorization: str | None) -> bool:
    """Constant-time check of a callback's signature from either header."""
    expected = callback_signature(api_key, raw_body)
    candidates = []
    if authorization and authorization.startswith("TSA ") and ":" in authorization:
        candidates.append(authorization.rsplit(":", 1)[1].strip())
    elif authorization and " " not in authorization.strip():
        # Telesign's SDKs document the callback's Authorization header as the bare signature
        # (telesign.util.verify_telesign_callback_signature compares it whole): accept that too.
        candidates.append(authorization.strip())
    if ts_authorization:
        candidates.append(ts_authorization.strip())
    ok = False
    for candidate in candidates:
        ok |= hmac.compare_digest(candidate.encode(), expected.encode())
    return ok
