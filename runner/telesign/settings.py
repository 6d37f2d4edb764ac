"""Settings from the environment only: credentials never come from campaign files or arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from runner.errors import InvalidCredentials, MissingCredentials, UsageProblem
from runner.telesign.auth import Credentials, key_problem

DEFAULT_BASE_URL = "https://rest-ww.telesign.com"  # omnichannel is served there
AuthMode = Literal["basic", "digest"]


@dataclass(frozen=True)
class TelesignSettings:
    credentials: Credentials
    base_url: str
    auth: AuthMode
    # TELESIGN_ACCOUNT_TPS: the account's requests per second, shared by every sender of a shared
    # ledger (docs/scaling-out.md); None: only each campaign's own rate applies.
    account_tps: float | None = None


def from_environment(env: Mapping[str, str] | None = None) -> TelesignSettings:
    env = os.environ if env is None else env
    missing = [name for name in ("TELESIGN_CUSTOMER_ID", "TELESIGN_API_KEY") if not env.get(name, "").strip()]
    if missing:
        raise MissingCredentials(
            f"set {' and '.join(missing)} in the environment (your Telesign customer id and API key); "
            "nothing was sent. To rehearse without credentials: campaign send --sandbox FILE"
        )
    auth = env.get("TELESIGN_AUTH", "basic").strip().lower() or "basic"
    if auth not in ("basic", "digest"):
        raise UsageProblem(f"TELESIGN_AUTH must be `basic` or `digest`, not {auth!r}")
    base_url = env.get("TELESIGN_BASE_URL", "").strip() or DEFAULT_BASE_URL
    problem = base_url_problem(base_url)
    if problem:
        shown = "it is not shown: it holds a user name or password" if "@" in base_url else f"got {base_url!r}"
        raise UsageProblem(f"TELESIGN_BASE_URL {problem} ({shown}); for example {DEFAULT_BASE_URL}")
    creds = Credentials(env["TELESIGN_CUSTOMER_ID"].strip(), env["TELESIGN_API_KEY"].strip())
    mode: AuthMode = "digest" if auth == "digest" else "basic"
    check_credentials(creds, mode)
    tps_text = env.get("TELESIGN_ACCOUNT_TPS", "").strip()
    try:
        tps = float(tps_text) if tps_text else None
    except ValueError:
        tps = -1.0
    if tps is not None and not 0 < tps <= 10_000:
        raise UsageProblem(
            f"TELESIGN_ACCOUNT_TPS must be a number of requests per second, 0 < TPS <= 10000 (got {tps_text!r})"
        )
    return TelesignSettings(creds, base_url.rstrip("/"), mode, tps)


def base_url_problem(url: str) -> str | None:
    """What makes `url` unusable as the scheme and host the runner adds /v1/omnichannel to."""
    if not url.startswith(("http://", "https://")):
        return "must start with https://"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "has a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port out of range or not a number)
    except ValueError as error:
        return f"is not a URL: {error}"
    if not parts.hostname:
        return "has no host name"
    if parts.query or parts.fragment or parts.username is not None:
        return "must be the scheme and host only, without ?query, #fragment or user@"
    return None


def check_credentials(creds: Credentials, auth: AuthMode) -> None:
    """Refuse, before anything is claimed, credentials that could not make a request Telesign
    accepts: a line break would end the Authorization header (or be sent inside it), a digest's
    customer id travels as header text (ASCII only), and a digest key must decode as Telesign's
    SDK decodes it. The values themselves are never shown (docs/sending.md)."""
    problems = []
    for name, value in (("TELESIGN_CUSTOMER_ID", creds.customer_id), ("TELESIGN_API_KEY", creds.api_key)):
        if "\r" in value or "\n" in value:
            problems.append(f"{name} contains a line break (CR or LF): set it on one line")
        elif any(ord(c) < 32 or ord(c) == 127 for c in value):
            problems.append(f"{name} contains a control character (a tab or the like): remove it")
    if auth == "digest" and not problems:
        if not creds.customer_id.isascii():
            problems.append(
                "TELESIGN_CUSTOMER_ID has characters that are not ASCII, which TELESIGN_AUTH=digest cannot send "
                "in its Authorization header: use the customer id exactly as Telesign's portal shows it"
            )
        why = key_problem(creds.api_key)
        if why is not None:
            problems.append(f"TELESIGN_API_KEY {why}")
    if problems:
        raise InvalidCredentials("; ".join(problems) + "; nothing was sent")
