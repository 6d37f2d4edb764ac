"""A STOP that arrives while a 1,000-recipient campaign is sending stops every later message to
that phone, in this campaign and the next (docs/policy.md, "The opt-out store"). Everything is
real: a simulator posting signed callbacks (its numbers ending in 3 reply STOP after delivery), a
receiver given the outputs folder, the sender in its own process, the opt-out store on disk; what
was sent is read from the simulator's journal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx

from runner.callbacks.receiver import create_receiver
from runner.ledger.backend import shared_ledger_url
from runner.policy.keywords import DEFAULT_KEYWORDS
from runner.policy.replies import ReplyRecorder
from runner.policy.store import open_store
from runner.serving import BackgroundServer
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID, Credentials, callback_headers
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign, ledger_rows, phone, start_send, telesign_env, wait_for_accepted

STOPPER = "+1 212 555 0100"  # replies STOP by hand, mid-campaign (ends in 0: the simulator never does)
STOPPER_DIGITS = "12125550100"


def write(folder: Path, campaign_id: str, phones: list[str], rate: int = 200) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "audience.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "phone"])
        writer.writerows([f"r-{i:04d}", p] for i, p in enumerate(phones))
    path = folder / f"{campaign_id}.toml"
    path.write_text(
        f"""id = "{campaign_id}"
message_type = "ARN"
[sending]
rate = {rate}
concurrency = 8
[audience]
file = "audience.csv"
[viber]
text = "Your order is on its way"
url = "https://shop.example/orders"
url_text = "Track"
url_id = "track"
fallback_time = 60
""",
        encoding="utf-8",
    )
    return path


def stop_from(digits: str, replied_to: str | None) -> dict[str, object]:
    """An inbound SMS as Telesign posts it, with its keyword handling on."""
    return {
        "sub_resource": "mo_sms",
        "reference_id": "F" * 32,
        "submit_timestamp": "2026-12-01T12:00:00Z",
        "status": {"code": 1500, "description": "Delivered to customer", "updated_on": "2026-12-01T12:00:00Z"},
        "errors": [],
        "user_response": {"phone_number": digits, "mo_message": "Stop", "action": "stop", "keyword": "STOP"},
        **({"original_reference_id": replied_to} if replied_to else {}),
    }


def test_a_stop_while_sending_stops_that_phone_in_this_campaign_and_the_next(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    out = tmp_path / "out"
    store = open_store(out, shared_ledger_url())
    receiver = create_receiver(
        tmp_path / "callbacks.jsonl", DEMO_API_KEY, on_reply=ReplyRecorder(store, DEFAULT_KEYWORDS).take
    )
    with BackgroundServer(receiver) as callbacks:
        sim = make_simulator(callback_url=callbacks.url + "/cb")
        env = telesign_env(sim.url)

        # An earlier campaign reached the stopper.
        spring = write(tmp_path / "spring", "spring", [STOPPER])
        assert campaign("send", str(spring), "--outputs", str(out), env=env).exit_code == 0
        [earlier] = sim.app.accepted()

        # 1,000 recipients, the stopper last; numbers ending in 3 reply STOP after delivery.
        audience = [phone(i, i % 9) for i in range(999)] + [STOPPER]
        autumn = write(tmp_path / "autumn", "autumn", audience)
        process = start_send(autumn, out, sim.url, quiet=True)
        wait_for_accepted(sim.app, 1 + 100)  # a tenth of the way through
        body = json.dumps(stop_from(STOPPER_DIGITS, earlier.reference_id)).encode()
        credentials = Credentials(DEMO_CUSTOMER_ID, DEMO_API_KEY)
        answer = httpx.post(callbacks.url + "/cb", content=body, headers=callback_headers(credentials, body))
        assert answer.status_code == 200
        assert process.wait(timeout=60) == 0
        sent_autumn = [r for r in sim.app.accepted() if (r.external_id or "").startswith("autumn.")]
        assert len(sent_autumn) == 999  # everyone but the stopper
        assert STOPPER_DIGITS not in {r.phone_number for r in sent_autumn}
        rows = {r["phone"]: r for r in ledger_rows(out, "autumn")}
        assert rows["+12125550100"]["state"] == "suppressed"
        assert rows["+12125550100"]["status_description"].endswith("by a STOP reply to spring")

        # Wait for the simulated replies of the numbers ending in 3 (after their delivery).
        assert sim.app.wait_callbacks_settled(30)
        repliers = {
            "+" + str(c.payload["phone_number"])
            for c in sim.app.callbacks_sent()
            if c.payload.get("sub_resource") == "mo_viber"
        }
        assert len(repliers) > 100  # the delivered numbers ending in 3
        assert all(store.opted_out(p) is not None for p in repliers)

        # The next campaign: the stopper, the repliers and some others.
        others = [phone(i, i % 9) for i in range(9)]
        winter_phones = [STOPPER, *sorted(repliers)[:20], *others]
        winter = write(tmp_path / "winter", "winter", list(dict.fromkeys(winter_phones)))
        before = len(sim.app.accepted())
        result = campaign("send", str(winter), "--outputs", str(out), env=env)
        assert result.exit_code == 0, result.output
        sent_winter = {r.phone_number for r in sim.app.accepted()[before:]}
        stopped = {STOPPER_DIGITS, *(p.lstrip("+") for p in sorted(repliers)[:20])}
        assert not sent_winter & stopped
        assert (
            sent_winter
            == {p.lstrip("+") for p in ("+" + "".join(c for c in o if c.isdigit()) for o in others)} - stopped
        )
    # Over the whole test, from Telesign's side: nobody got two messages from one campaign, and
    # the stopper only the one from before the STOP.
    assert sim.app.accepted_by_phone()[STOPPER_DIGITS] == 1
    store.close()
    # `campaign optouts list` shows them, with the campaign they replied to
    listed = campaign("optouts", "list", "--outputs", str(out))
    assert "+12125550100  opted out" in listed.output and "by a STOP reply to spring" in listed.output
