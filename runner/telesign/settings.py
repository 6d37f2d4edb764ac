"""Settings from the environment only: credentials never come from campaign files or arguments."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from runner.errors import MissingCredentials, UsageProblem
from runner.telesign.auth import Credentials

DEFAULT_BASE_URL = "https://rest-ww.telesign.com"  # omnichannel is served there
AuthMode = Literal["basic", "digest"]


@dataclass(frozen=True)
class TelesignSettings:
    credentials: Credentials
    base_url: str
    auth: AuthMode


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
    if not base_url.startswith(("http://", "https://")):
        raise UsageProblem(f"TELESIGN_BASE_URL must start with https:// (got {base_url!r})")
    creds = Credentials(env["TELESIGN_CUSTOMER_ID"].strip(), env["TELESIGN_API_KEY"].strip())
    return TelesignSettings(creds, base_url.rstrip("/"), "digest" if auth == "digest" else "basic")
