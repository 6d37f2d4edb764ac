"""`campaign poll`: delivery statuses asked of the simulator (GET /v1/omnichannel/{reference_id}),
merged by the callback rules; the 12-hour window; the sandbox without callbacks. Polling a
campaign's ledger on either backend (tests.fixtures.ledger)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.campaign.schema import load
from runner.commands.poll import poll_campaign
from runner.ledger.backend import ENVIRONMENT, shared_ledger_url
from runner.serving import BackgroundServer
from runner.simulator import Simulator, SimulatorConfig, create_app
from runner.simulator.config import DEMO_CREDENTIALS
from runner.telesign.settings import TelesignSettings
from tests.fixtures.ledger import LedgerBackend
from tests.fixtures.receiver import MakeServedReceiver
from tests.sending.helpers import campaign, telesign_env, write_campaign

# The tests of polling a campaign's ledger run on either backend; the sandbox's are SQLite's own.
EITHER_LEDGER = pytest.mark.usefixtures("ledger_backend")
SCALE = 0.001  # a 60 s Viber fallback takes 60 ms


class FakeClock:
    """The simulator's clock, moved by the test: what GET status answers depends on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def served(clock: FakeClock) -> Iterator[BackgroundServer[Simulator]]:
    server = BackgroundServer(create_app(SimulatorConfig(time_scale=SCALE), clock=clock))
    server.start()
    yield server
    server.stop()


def ledger_env(url: str | None) -> dict[str, str]:
    """CAMPAIGN_LEDGER_URL for a ledger location of its own (none for SQLite files: the folder is)."""
    return {ENVIRONMENT: url} if url is not None else {}


def report(out: Path, campaign_id: str = "test-campaign") -> list[dict[str, str]]:
    with (out / campaign_id / "report.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


DELIVERY = ("delivery_status_code", "last_channel", "viber_status_code", "sms_status_code", "price", "currency")


def delivery(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [tuple(row[column] for column in DELIVERY) for row in rows]


@pytest.mark.parametrize("auth", ["basic", "digest"])
@EITHER_LEDGER
def test_poll_fills_the_report_from_telesigns_status_answers(
    tmp_path: Path, served: BackgroundServer[Simulator], clock: FakeClock, auth: str
) -> None:
    file = write_campaign(tmp_path / "c", digits=[0, 1, 6, 8])
    out = tmp_path / "out"
    env = telesign_env(served.url, TELESIGN_AUTH=auth)
    assert campaign("send", str(file), "--outputs", str(out), env=env).exit_code == 0
    clock.now += 3600  # every planned status has happened
    polled = campaign("poll", str(file), "--outputs", str(out), env=env)
    assert polled.exit_code == 0, polled.output
    assert "asked 4, 4 answered" in polled.output
    # +1: Viber 0.0050 a message, SMS 0.0079 a part (docs/simulator.md, "Prices")
    assert delivery(report(out)) == [
        ("3005", "viber", "3005", "", "0.0050", "USD"),
        ("3000", "viber", "3000", "", "0.0050", "USD"),
        ("3000", "sms", "3056", "3000", "0.0079", "USD"),
        ("3003", "sms", "3056", "3003", "0.0000", "USD"),
    ]
    again = campaign("poll", str(file), "--outputs", str(out), env=env)
    assert "asked 0" in again.output  # every message is final: nothing more to ask
    assert served.app.outcomes()["status"] == 4


def _callback_log(tmp_path: Path, lines: list[dict[str, Any]]) -> Path:
    from runner.callbacks.log import receiver_line

    path = tmp_path / "callbacks.jsonl"
    with path.open("wb") as out:
        for payload in lines:
            out.write(receiver_line("2026-12-01T10:00:00.000000Z", payload))
    return path


def test_a_polled_status_and_a_callback_agree_whatever_order_they_came_in(
    tmp_path: Path, served: BackgroundServer[Simulator], clock: FakeClock, ledger_backend: LedgerBackend
) -> None:
    """Two sends of one campaign (to two output folders, each with a ledger of its own); each
    message gets a callback and two polls, the callback before the polls for one folder and
    between them for the other."""
    file = write_campaign(tmp_path / "c", digits=[0, 6])
    outs = [tmp_path / "callback-first", tmp_path / "poll-first"]
    envs = {out: telesign_env(served.url, **ledger_env(ledger_backend.fresh())) for out in outs}
    for out in outs:
        assert campaign("send", str(file), "--outputs", str(out), env=envs[out]).exit_code == 0
    app = served.app
    accepted = app.accepted()
    start = clock.now

    # The callbacks each message got: digit 0 read (3005), digit 6 failed on Viber (3056).
    def payload_at(reference: str, seconds: float) -> dict[str, Any]:
        clock.now = start + seconds
        found = app.status_of(reference)
        assert found is not None
        return found

    logs = {}
    for index, out in enumerate(outs):
        mine = accepted[2 * index : 2 * index + 2]
        logs[out] = _callback_log(out, [payload_at(mine[0].reference_id, 1.0), payload_at(mine[1].reference_id, 0.061)])

    def enrich(out: Path) -> None:
        enriched = campaign("enrich", str(file), "--callbacks", str(logs[out]), "--outputs", str(out), env=envs[out])
        assert enriched.exit_code == 0

    def poll(out: Path, seconds: float) -> None:
        clock.now = start + seconds
        assert campaign("poll", str(file), "--outputs", str(out), env=envs[out]).exit_code == 0

    enrich(outs[0])
    poll(outs[0], 0.005)  # digit 0 already final: not asked; digit 6 still in progress
    poll(outs[0], 1.0)  # digit 6 delivered by SMS
    poll(outs[1], 0.005)  # digit 0 delivered (3000), digit 6 in progress (3001)
    enrich(outs[1])  # digit 0 read (3005) wins over the polled 3000; digit 6's 3056 over 3001
    poll(outs[1], 1.0)
    expected = [("3005", "viber", "3005", "", "0.0050", "USD"), ("3000", "sms", "3056", "3000", "0.0079", "USD")]
    assert delivery(report(outs[0])) == delivery(report(outs[1])) == expected


@EITHER_LEDGER
def test_messages_sent_over_12_hours_ago_are_no_longer_available(
    tmp_path: Path, served: BackgroundServer[Simulator], clock: FakeClock
) -> None:
    file = write_campaign(tmp_path / "c", digits=[0, 1])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(served.url)).exit_code == 0
    settings = TelesignSettings(DEMO_CREDENTIALS, served.url, "basic")
    later = datetime.now(UTC) + timedelta(hours=12, minutes=1)
    assert poll_campaign(load(file), settings, out, now=later, url=shared_ledger_url()) == 0
    assert served.app.outcomes()["status"] == 0  # not asked: Telesign keeps 12 hours
    # Within the window by the runner's clock, but Telesign has let it go (404/-10004).
    clock.now += 12 * 3600 + 60
    polled = campaign("poll", str(file), "--outputs", str(out), env=telesign_env(served.url))
    assert polled.exit_code == 0
    assert "status no longer available for 2" in polled.output
    assert [row["delivery_status_code"] for row in report(out)] == ["", ""]


def test_a_sandbox_run_without_callbacks_then_poll_gives_the_report_callbacks_give(
    tmp_path: Path, make_served_receiver: MakeServedReceiver
) -> None:
    file = write_campaign(tmp_path / "c", digits=range(10))
    with_callbacks, polled = tmp_path / "with-callbacks", tmp_path / "polled"
    sent = campaign("send", "--sandbox", str(file), "--outputs", str(with_callbacks))
    assert "cost (simulator's prices):" in sent.output
    assert campaign("send", "--sandbox", "--no-callbacks", str(file), "--outputs", str(polled)).exit_code == 3
    result = campaign("poll", "--sandbox", str(file), "--outputs", str(polled))
    assert result.exit_code == 0, result.output
    assert "cost (simulator's prices):" in result.output
    same = [
        c
        for c in report(with_callbacks / "sandbox")[0]
        if c not in ("reference_id", "submitted_at", "status_updated_on", "callbacks")
    ]
    first, second = report(with_callbacks / "sandbox"), report(polled / "sandbox")
    assert [[row[c] for c in same] for row in first] == [[row[c] for c in same] for row in second]
    assert {row["delivery_status_code"] for row in second} >= {"3000", "3003", "3005"}


@pytest.mark.parametrize("where", ["campaign", "policy"])
@EITHER_LEDGER
def test_cron_run_polls_campaigns_that_ask_for_it(
    tmp_path: Path, served: BackgroundServer[Simulator], clock: FakeClock, where: str
) -> None:
    folder = tmp_path / "campaigns"
    sending = "rate = 1000\nconcurrency = 8\nmax_attempts = 3" + ("\npoll = true" if where == "campaign" else "")
    write_campaign(folder, digits=[0, 6], sending=sending)
    if where == "policy":
        (folder / "policy.toml").write_text("[sending]\npoll = true\n", encoding="utf-8")
    out = tmp_path / "out"
    env = telesign_env(served.url)
    first = campaign("run", str(folder), "--outputs", str(out), env=env)
    assert first.exit_code == 0, first.output
    assert "asked 2, 2 answered" in first.output  # right after sending: in progress
    clock.now += 3600
    second = campaign("run", str(folder), "--outputs", str(out), env=env)
    assert "complete" in second.output and "asked 2, 2 answered" in second.output
    assert [row["delivery_status_code"] for row in report(out)] == ["3005", "3000"]


@EITHER_LEDGER
def test_cron_run_does_not_poll_unless_asked(tmp_path: Path, served: BackgroundServer[Simulator]) -> None:
    folder = tmp_path / "campaigns"
    write_campaign(folder, digits=[0])
    result = campaign("run", str(folder), "--outputs", str(tmp_path / "out"), env=telesign_env(served.url))
    assert result.exit_code == 0 and "asked" not in result.output
    assert served.app.outcomes()["status"] == 0


def test_message_level_final_codes_are_named_in_the_report(tmp_path: Path) -> None:
    """3033, 3036 and 3071 come from the simulator's outcome table (numbers ending 033, 036, 071);
    the report names them, and `status` counts them as failed."""
    folder = tmp_path / "c"
    file = write_campaign(folder, digits=[1, 1, 1])
    audience = folder / "audience.csv"
    lines = audience.read_text().splitlines()
    endings = ["033", "036", "071"]
    lines[1:] = [f"r-{i:04d},+1 202 555 0{ending},Name{i},{50000 + i}" for i, ending in enumerate(endings)]
    audience.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert campaign("send", "--sandbox", str(file), "--outputs", str(out)).exit_code == 0
    named = [(row["delivery_status_code"], row["delivery_status_description"]) for row in report(out / "sandbox")]
    assert named == [
        ("3033", "Message expired"),
        ("3036", "Message price exceeds the price threshold"),
        ("3071", "Destination not allowed for a trial account"),
    ]
    status = campaign("status", str(file), "--outputs", str(out / "sandbox"))
    assert "3 failed" in status.output


def test_a_status_told_without_a_description_is_named_from_the_codes_table(
    tmp_path: Path, served: BackgroundServer[Simulator]
) -> None:
    file = write_campaign(tmp_path / "c", digits=[1])
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(served.url)).exit_code == 0
    (accepted,) = served.app.accepted()
    log = _callback_log(tmp_path, [{"reference_id": accepted.reference_id, "status": {"code": 3071}}])
    assert campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out)).exit_code == 0
    (row,) = report(out)
    assert row["delivery_status_description"] == "Destination not allowed for a trial account"


@EITHER_LEDGER
def test_polling_keeps_under_the_campaigns_rate(
    tmp_path: Path, served: BackgroundServer[Simulator], clock: FakeClock
) -> None:
    file = write_campaign(tmp_path / "c", digits=[1] * 10, sending="rate = 4\nconcurrency = 8\nmax_attempts = 3")
    out = tmp_path / "out"
    env = telesign_env(served.url)
    assert campaign("send", str(file), "--outputs", str(out), env=env).exit_code == 0
    clock.now += 3600
    assert "asked 10, 10 answered" in campaign("poll", str(file), "--outputs", str(out), env=env).output
    # Counted on the simulator's side, over any one-second span: within the rate + 1 the pacing
    # contract allows (runner.sending.pacing; arrivals can bunch by a few ms under load). Unpaced,
    # all 10 would come within a fraction of a second.
    assert 1 <= served.app.most_status_asked_in_one_second() <= 4 + 1


class StandIn:
    """A server on loopback that answers every GET status with `answer(reference_id)`: what
    Telesign's real answers do not show (another server's 404, an answer naming another message)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        reference = scope["path"].rsplit("/", 1)[1]
        self.asked.append(reference)
        status, content_type, body = self.answer(reference)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": body})


def _sent(tmp_path: Path, served: BackgroundServer[Simulator], digits: list[int]) -> tuple[Path, Path, list[str]]:
    file = write_campaign(tmp_path / "c", digits=digits)
    out = tmp_path / "out"
    assert campaign("send", str(file), "--outputs", str(out), env=telesign_env(served.url)).exit_code == 0
    return file, out, [row["reference_id"] for row in report(out)]


@EITHER_LEDGER
def test_a_404_that_is_not_telesigns_expired_answer_is_not_reported_as_expired(
    tmp_path: Path, served: BackgroundServer[Simulator]
) -> None:
    file, out, _ = _sent(tmp_path, served, [1, 2])
    proxy = StandIn(lambda reference: (404, b"text/html", b"<html><body>Not Found</body></html>"))
    with BackgroundServer(proxy) as elsewhere:
        polled = campaign("poll", str(file), "--outputs", str(out), env=telesign_env(elsewhere.url))
    assert polled.exit_code == 0, polled.output
    # (before: "status no longer available for 2 (sent over 12 hours ago)", for messages sent just now)
    assert "no longer available" not in polled.output
    assert "2 without an answer (asked again next time)" in polled.output
    assert "-10004" in polled.output and "TELESIGN_BASE_URL" in polled.output
    # Telesign's own 404/-10004 is still "no longer available"
    expired = StandIn(
        lambda reference: (404, b"application/json", b'{"status":{"code":-10004,"description":"ReferenceID expired."}}')
    )
    with BackgroundServer(expired) as telesign:
        polled = campaign("poll", str(file), "--outputs", str(out), env=telesign_env(telesign.url))
    assert "status no longer available for 2" in polled.output


@EITHER_LEDGER
def test_a_status_answer_is_merged_into_the_message_asked_about_and_never_another(
    tmp_path: Path, served: BackgroundServer[Simulator]
) -> None:
    file, out, (first, second) = _sent(tmp_path, served, [1, 2])

    def answer(reference: str) -> tuple[int, bytes, bytes]:
        status = {"code": 3000, "description": "Delivered", "updated_on": "2026-12-01T10:00:00Z"}
        if reference == first:  # no reference_id in the answer: the URL says which message it is
            return 200, b"application/json", json.dumps({"status": status}).encode()
        # an answer about the first message, to the question about the second
        return 200, b"application/json", json.dumps({"reference_id": first, "status": status}).encode()

    with BackgroundServer(StandIn(answer)) as telesign:
        polled = campaign("poll", str(file), "--outputs", str(out), env=telesign_env(telesign.url))
    assert polled.exit_code == 0, polled.output
    # (before: "asked 2, 2 answered", the first answer a malformed line at every enrich, and the
    # second given to whichever message it named)
    assert "asked 2, 1 answered, 1 without an answer" in polled.output
    assert f"{second}: the answer is about another message ('{first}'): not merged" in polled.output
    assert "malformed" not in polled.output and "no reference_id" not in polled.output
    assert [(row["delivery_status_code"], row["callbacks"]) for row in report(out)] == [("3000", "1"), ("", "0")]


@EITHER_LEDGER
def test_a_line_a_killed_poll_left_unfinished_does_not_swallow_the_next_answer(
    tmp_path: Path, served: BackgroundServer[Simulator], clock: FakeClock
) -> None:
    """A poll killed mid-write leaves a fragment at the end of polls.jsonl. The next poll's first
    answer was written onto it, and both read as one malformed line: that message's status was
    lost until it was asked again. The fragment is now ended first."""
    file = write_campaign(tmp_path / "c", digits=[0, 1, 6, 8])
    out = tmp_path / "out"
    env = telesign_env(served.url)
    assert campaign("send", str(file), "--outputs", str(out), env=env).exit_code == 0
    (out / "test-campaign" / "polls.jsonl").write_bytes(b'{"received_at": "2026-12-01T09:00:00.000000Z", "payl')
    clock.now += 3600
    polled = campaign("poll", str(file), "--outputs", str(out), env=env)
    assert polled.exit_code == 0, polled.output
    assert [row[0] for row in delivery(report(out))] == ["3005", "3000", "3000", "3003"]
    # the fragment alone is reported, at its own line
    assert [line.split(": ", 1)[0] for line in polled.output.splitlines() if "polls.jsonl:" in line] == [
        f"{out / 'test-campaign' / 'polls.jsonl'}:1"
    ]
