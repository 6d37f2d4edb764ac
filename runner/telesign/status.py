"""GET /v1/omnichannel/{reference_id}: a message's delivery status asked of Telesign, for
`campaign poll` (docs/callbacks.md, "Polling").

Telesign's Engage reference ("getMessagingStatus") answers 200 with the same status and
per-channel statuses as a callback, plus `additional_info` (price, currency); 400/3311 for an
invalid reference_id; 404/-10004 "ReferenceID expired." for a message processed more than 12 hours
ago; 401 (3206 feature not enabled, 3400 not authorized); 429/3204; 503/3041. Asking changes
nothing at Telesign, so any answer that is not a status may simply be asked again later.
Authenticated like the sends (runner.telesign.auth): Basic, or TSA digest signing GET, no
content type, no body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from runner.telesign import codes
from runner.telesign.auth import basic_authorization, digest_headers
from runner.telesign.client import PATH, USER_AGENT, parse_retry_after
from runner.telesign.settings import TelesignSettings

Kind = Literal["status", "expired", "invalid", "retry", "unauthorized", "failed"]


@dataclass(frozen=True)
class StatusAnswer:
    kind: Kind
    http_status: int | None
    description: str
    payload: dict[str, Any] | None = None  # the status body, for kind "status"
    retry_after: float | None = None


def classify_status(response: httpx.Response) -> StatusAnswer:
    """What a GET status answer means. Branch on status.code, as the reference asks."""
    http = response.status_code
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    status = data.get("status") if isinstance(data, dict) else None
    code = status.get("code") if isinstance(status, dict) else None
    description = str(status.get("description") or "") if isinstance(status, dict) else response.reason_phrase
    if http == 200 and isinstance(data, dict) and isinstance(code, int):
        return StatusAnswer("status", http, description, payload=data)
    if code == codes.REFERENCE_EXPIRED:
        return StatusAnswer("expired", http, description or "ReferenceID expired.")
    if code == codes.INVALID_REFERENCE_ID:
        return StatusAnswer("invalid", http, description)
    if http == 401:
        return StatusAnswer("unauthorized", http, description)
    if http in (429, 503) or (isinstance(code, int) and code in codes.RETRYABLE):
        return StatusAnswer(
            "retry", http, description, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    if http == 404:
        # Telesign says a status has expired with 404 AND -10004; a 404 without that code is some
        # other server's (a TELESIGN_BASE_URL with a wrong host or path, a proxy). It used to be
        # read as expired: every message of a campaign sent minutes before was reported "status no
        # longer available (sent over 12 hours ago)", and nothing pointed at the address.
        return StatusAnswer(
            "failed",
            http,
            f'HTTP 404 ({description or "no description"}) without Telesign\'s -10004 "ReferenceID expired.": '
            "is TELESIGN_BASE_URL Telesign's API?",
        )
    return StatusAnswer("failed", http, description or f"HTTP {http}")


class StatusClient:
    """One keep-alive connection pool for the status questions of one poll."""

    def __init__(self, settings: TelesignSettings, concurrency: int = 4, timeout: float = 15.0) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.base_url,
            limits=httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
            ),
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    async def close(self) -> None:
        await self._client.aclose()

    def _headers(self, resource: str) -> dict[str, str]:
        if self.settings.auth == "digest":
            # A GET has no body and no content type; the signed string then has an empty
            # Content-Type line, as Telesign's SDKs sign it.
            headers = digest_headers(self.settings.credentials, "GET", resource, b"", content_type="")
            headers.pop("Content-Type", None)
            return headers
        return {"Authorization": basic_authorization(self.settings.credentials)}

    async def get(self, reference_id: str) -> StatusAnswer:
        resource = f"{PATH}/{reference_id}"
        try:
            response = await self._client.get(resource, headers=self._headers(resource))
        except httpx.TransportError as error:
            # Asking twice does no harm: a lost answer is asked again on the next poll.
            return StatusAnswer("retry", None, f"no answer: {type(error).__name__}")
        return classify_status(response)
