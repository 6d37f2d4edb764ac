"""Replies as Telesign posts them (docs/policy.md, "Replies"): the keyword rule, Telesign's own
`action`, both inbound shapes, the join to the message replied to, and the opt-out store's
append-only history where the latest event decides."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.ledger.backend import shared_ledger_url
from runner.policy.keywords import DEFAULT_KEYWORDS, Keywords
from runner.policy.replies import apply_reply, parse_reply
from runner.policy.store import Contact, StoreQueries, open_store
from tests.fixtures.ledger import LedgerBackend


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        (" Stop. ", "opt_out"),
        ("S.T.O.P!!", "opt_out"),
        ("Stop please", "opt_out"),
        ("opt out", "opt_out"),
        ("Opt-Out now", "opt_out"),
        ("UNSUBSCRIBE", "opt_out"),
        ("stop all", "opt_out"),
        ("revoke", "opt_out"),
        ("START", "opt_in"),
        ("unstop", "opt_in"),
        ("Start sending me deals", "other"),  # an opt-in only when the whole reply is one
        ("Thanks!", "other"),
        ("Don't stop", "other"),
        ("", "other"),
    ],
)
def test_the_keyword_rule(text: str, meaning: str) -> None:
    assert DEFAULT_KEYWORDS.meaning(text) == meaning


def test_keywords_in_other_languages_come_from_the_policy() -> None:
    french = Keywords.of(["ARRET", "STOP"], ["DEBUT"])
    assert french.meaning("Arrêt") == "other"  # accents are letters: ARRET and ARRÊT differ...
    assert Keywords.of(["ARRÊT"], []).meaning("arrêt!") == "opt_out"  # ...so list both spellings
    assert french.meaning("arret") == "opt_out"
    assert french.meaning("Début") == "other" and Keywords.of([], ["DÉBUT"]).meaning("début") == "opt_in"


def mo_sms(text: str, action: str | None = None, phone: str = "12025550103") -> dict[str, Any]:
    user: dict[str, Any] = {"iso_country_code": "US", "sender_id": "12345", "phone_number": phone, "mo_message": text}
    if action:
        user.update(action=action, keyword=text.upper())
    return {
        "sub_resource": "mo_sms",
        "submit_timestamp": "2026-12-01T12:12:34.390000Z",
        "reference_id": "B" * 32,
        "status": {"updated_on": "2026-12-01T12:12:34.473702Z", "description": "Delivered to customer", "code": 1500},
        "errors": [],
        "user_response": user,
    }


def mo_viber(text: str, replied_to: str | None, phone: str = "12025550103") -> dict[str, Any]:
    content: dict[str, Any] = {"type": "text", "text": text}
    if replied_to:
        content["original_reference_id"] = replied_to
    return {
        "sub_resource": "mo_viber",
        "reference_id": "C" * 32,
        "status": {"code": 1500, "description": "Delivered to customer", "updated_on": "2026-12-01T12:00:00Z"},
        "phone_number": phone,
        "content": content,
    }


def test_telesign_action_stop_is_an_opt_out_whatever_the_text() -> None:
    reply = parse_reply(mo_sms("arret", action="stop"))
    assert reply is not None and reply.phone == "+12025550103" and reply.channel == "sms"
    assert reply.meaning(DEFAULT_KEYWORDS) == "opt_out"
    assert parse_reply(mo_sms("hello", action="generic")).meaning(DEFAULT_KEYWORDS) == "other"  # type: ignore[union-attr]
    assert parse_reply(mo_sms("yes", action="start")).meaning(DEFAULT_KEYWORDS) == "opt_in"  # type: ignore[union-attr]


def test_a_delivery_callback_is_not_a_reply() -> None:
    assert parse_reply({"status": {"code": 3000}, "reference_id": "A" * 32}) is None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StoreQueries]:
    s = open_store(tmp_path / "outputs", shared_ledger_url())
    assert isinstance(s, StoreQueries)
    s.record_contacts(
        [
            Contact("spring.1", "+12025550103", "spring-sale", "MKT", "A" * 32, datetime(2026, 11, 1, tzinfo=UTC)),
            Contact("winter.1", "+12025550103", "winter-sale", "MKT", "D" * 32, datetime(2026, 12, 1, tzinfo=UTC)),
        ]
    )
    yield s
    s.close()


def test_a_reply_joins_the_message_it_answers_else_the_phones_latest(store: StoreQueries) -> None:
    answered = parse_reply(mo_viber("STOP", replied_to="A" * 32))
    assert answered is not None
    assert apply_reply(store, answered, DEFAULT_KEYWORDS) == "opt_out"
    out = store.opted_out("+12025550103")
    assert out is not None and out.campaign == "spring-sale"
    assert out.reason == "opted out 2026-12-01 by a STOP reply to spring-sale"

    unreferenced = parse_reply(mo_sms("thanks"))
    assert unreferenced is not None
    apply_reply(store, unreferenced, DEFAULT_KEYWORDS)
    assert store.replies_to("winter-sale") == {"+12025550103": (1, False)}
    assert store.replies_to("spring-sale") == {"+12025550103": (1, True)}


def test_the_same_callback_twice_counts_once_and_the_latest_event_decides(store: StoreQueries) -> None:
    stop = parse_reply(mo_sms("STOP"))
    assert stop is not None
    apply_reply(store, stop, DEFAULT_KEYWORDS)
    apply_reply(store, stop, DEFAULT_KEYWORDS)  # Telesign retried it
    assert len(list(store.events())) == 1
    start = parse_reply({**mo_sms("START"), "submit_timestamp": "2026-12-02T09:00:00Z"})
    assert start is not None
    apply_reply(store, start, DEFAULT_KEYWORDS)
    assert store.opted_out("+12025550103") is None  # opted back in
    assert [e.action for e in store.events()] == ["opt_out", "opt_in"]  # both kept


def test_opt_out_events_cannot_be_rewritten(store: StoreQueries) -> None:
    stop = parse_reply(mo_sms("STOP"))
    assert stop is not None
    apply_reply(store, stop, DEFAULT_KEYWORDS)
    # (even by hand, with the store's own connection to its database)
    with pytest.raises(Exception, match="append-only"):
        store.db.run("UPDATE opt_events SET action = 'opt_in'")
    with pytest.raises(Exception, match="append-only"):
        store.db.run("DELETE FROM opt_events")
    assert [e.action for e in store.events()] == ["opt_out"]


def test_the_reply_text_is_never_stored(store: StoreQueries, tmp_path: Path, every_ledger: LedgerBackend) -> None:
    reply = parse_reply(mo_sms("STOP texting me at 555-0199, this is Jane Doe"))
    assert reply is not None
    apply_reply(store, reply, DEFAULT_KEYWORDS)
    assert len(list(store.events())) == 1
    assert b"Jane" not in every_ledger.everything_stored(tmp_path / "outputs")
