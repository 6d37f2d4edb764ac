"""`campaign simulate`: serve the Telesign simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from pathlib import Path

from runner import terminal
from runner.errors import CannotProceed, CannotWrite, MissingCredentials, UsageProblem
from runner.serving import serve_forever
from runner.simulator import DEMO_CREDENTIALS, SimulatorConfig, create_app
from runner.telesign.auth import Credentials, mask

# A long-running simulator remembers this many recent messages (journal, GET status); older ones
# are forgotten so that memory stays bounded however long a rehearsal runs (about 1 KB each, so
# about 100 MB at most). The --journal file keeps every one.
HISTORY_LIMIT = 100_000

OUTCOMES = (
    "0-5 Viber delivered (3000), even digits then read (3005); "
    "6-7 Viber fails (3056), SMS delivered (3000); 8 both fail (3003); 9 refused: 400 invalid number"
)


def run(
    host: str,
    port: int,
    callback_url: str | None,
    time_scale: float,
    tps: int | None,
    latency_ms: float,
    fail_rate: float,
    drop_rate: float,
    seed: int,
    journal_path: Path | None = None,
) -> int:
    credentials, from_environment = accepted_credentials()
    try:
        config = SimulatorConfig(
            credentials=credentials,
            callback_url=callback_url,
            time_scale=time_scale,
            tps=tps,
            latency_ms=latency_ms,
            fail_rate=fail_rate,
            drop_rate=drop_rate,
            seed=seed,
            journal_path=journal_path,
            history_limit=HISTORY_LIMIT,
        )
    except ValueError as problem:
        raise UsageProblem(f"campaign simulate: {problem}") from None
    _check_port_free(host, port)
    app = create_app(config)
    try:
        # Here rather than at the server's startup, where a --journal that cannot be written ends
        # in uvicorn's lifespan traceback and exit 3; the startup's open() is then a no-op.
        app.journal.open()
    except OSError as error:
        raise CannotWrite.of(error, option="--journal FILE") from None

    terminal.out(f"Telesign simulator listening on http://{_url_host(host)}:{port}")
    terminal.out("  POST /v1/omnichannel, GET /v1/omnichannel/{reference_id}; Basic or TSA digest auth")
    if from_environment:
        terminal.out(
            f"  accepts customer id {mask(credentials.customer_id)} from TELESIGN_CUSTOMER_ID "
            "with the API key in TELESIGN_API_KEY"
        )
    else:
        # The demo credentials open nothing real: printing them lets a user try it with curl.
        terminal.out(
            f"  accepts the demo credentials: customer id {credentials.customer_id}, API key {credentials.api_key}"
        )
    terminal.out(f"  outcome by the phone number's last digit: {OUTCOMES}")
    terminal.out(
        f"  callbacks: {callback_url or 'only to a callback_url given in a request'}; time scale {time_scale:g}"
    )
    terminal.out(
        f"  tps limit: {tps or 'none'}; latency {latency_ms:g} ms; fail rate {fail_rate:g}; "
        f"drop rate {drop_rate:g}; seed {seed}"
    )
    if journal_path is not None:
        terminal.out(f"  journal of accepted requests: {journal_path}")
    if not _is_loopback(host):
        terminal.err(f"warning: listening on {host}, reachable from other machines")
    serve_forever(app, host, port)
    return 0


def accepted_credentials() -> tuple[Credentials, bool]:
    """The environment's Telesign credentials if set, else the demo ones; True when from the env."""
    customer_id = os.environ.get("TELESIGN_CUSTOMER_ID", "").strip()
    api_key = os.environ.get("TELESIGN_API_KEY", "").strip()
    if customer_id and api_key:
        return Credentials(customer_id, api_key), True
    if customer_id or api_key:
        missing = "TELESIGN_API_KEY" if customer_id else "TELESIGN_CUSTOMER_ID"
        raise MissingCredentials(
            f"{missing} is not set: set both TELESIGN_CUSTOMER_ID and TELESIGN_API_KEY, "
            "or neither to use the demo credentials"
        )
    return DEMO_CREDENTIALS, False


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line instead of uvicorn's log when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CannotProceed(
                    f"cannot listen on {host}:{port}: the port is in use; pick another with --port"
                ) from None
            raise CannotProceed(f"cannot listen on {host}:{port}: {error.strerror}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
