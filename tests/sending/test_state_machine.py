"""A Hypothesis state machine interleaving sends, faults and crashes of one campaign: whatever
the order, no recipient is ever accepted twice (counted by the simulators) and, after a clean run
against a healthy endpoint, every recipient is accounted for."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from runner.ledger.postgres.claims import PostgresClaims
from runner.ledger.records import Claimed
from runner.ledger.sqlite.claims import SqliteClaims
from runner.serving import BackgroundServer
from runner.simulator import SimulatorConfig, create_app
from tests.fixtures.simulator import SimulatorServer
from tests.sending.helpers import campaign, ledger_states, telesign_env, write_campaign

RECIPIENTS = 10
FAULTS: dict[str, dict[str, Any]] = {
    "healthy": {},
    "flaky": {"fail_rate": 0.4, "seed": 7},
    "dropping": {"drop_rate": 0.3, "seed": 11},
    "slow-limited": {"tps": 3, "latency_ms": 20},
}
_servers: dict[str, SimulatorServer] = {}


def server(name: str) -> SimulatorServer:
    if name not in _servers:
        _servers[name] = BackgroundServer(create_app(SimulatorConfig(time_scale=0.001, **FAULTS[name]))).start()
    return _servers[name]


class Crash(BaseException):
    """Stands for the process dying: raised from inside the ledger, nothing after it runs."""


class SendingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="machine-"))
        self.file = write_campaign(
            self.folder / "c",
            digits=[i % 10 for i in range(RECIPIENTS)],
            campaign_id=self.folder.name[-12:].lower().replace("_", "-"),
            sending="rate = 1000\nconcurrency = 4\nmax_attempts = 2",
        )
        self.campaign_id = self.file.read_text().split('"', 2)[1]
        self.out = self.folder / "out"
        self.baseline = {name: Counter(server(name).app.accepted_by_phone()) for name in FAULTS}
        self.clean_run = False

    def accepted_here(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for name in FAULTS:
            now = server(name).app.accepted_by_phone()
            for phone, n in now.items():
                # phones are shared across machine runs' campaigns: count only this run's sends
                total[phone] += n - self.baseline[name].get(phone, 0)
        return total

    @rule(fault=st.sampled_from(sorted(FAULTS)), crash_at=st.one_of(st.none(), st.integers(1, 12)))
    def send(self, fault: str, crash_at: int | None) -> None:
        commits = {backend: backend.commit for backend in (SqliteClaims, PostgresClaims)}
        calls = 0

        def crashing(commit: Callable[..., Claimed]) -> Callable[..., Claimed]:
            def crash_or_commit(claims: Any, *args: Any) -> Claimed:
                nonlocal calls
                calls += 1
                if crash_at is not None and calls == crash_at:
                    raise Crash()
                return commit(claims, *args)

            return crash_or_commit

        for backend, commit in commits.items():
            backend.commit = crashing(commit)  # type: ignore[method-assign]
        try:
            result = campaign("send", str(self.file), "--outputs", str(self.out), env=telesign_env(server(fault).url))
            self.clean_run = fault == "healthy" and result.exit_code in (0, 3)
        except Crash:
            self.clean_run = False
        finally:
            for backend, commit in commits.items():
                backend.commit = commit  # type: ignore[method-assign]

    @invariant()
    def nobody_is_messaged_twice(self) -> None:
        counts = self.accepted_here()
        assert not counts or max(counts.values()) <= 1, counts

    @precondition(lambda self: self.clean_run)
    @invariant()
    def after_a_clean_run_everyone_is_accounted_for(self) -> None:
        states = ledger_states(self.out, self.campaign_id)
        assert len(states) == RECIPIENTS
        assert set(states.values()) <= {"accepted", "rejected", "unknown", "sending"}, states


def test_sending_state_machine() -> None:
    # (a function, not SendingMachine.TestCase: it then runs against each ledger backend)
    run_state_machine_as_test(
        SendingMachine,
        settings=settings(
            max_examples=8, stateful_step_count=5, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
