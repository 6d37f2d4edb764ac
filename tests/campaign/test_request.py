"""The omnichannel request body: the seed's example reproduced field for field and in key order,
the deterministic external_id, and the exact bytes that are POSTed."""

from __future__ import annotations

import json
from pathlib import Path

from runner.campaign import request
from runner.campaign.render import Texts
from tests.campaign.helpers import SEED_BODY_JSON, SEED_CAMPAIGN, TWO_RECIPIENTS, edit, expand, problems, write


def test_the_seed_example_round_trips_field_for_field_and_in_key_order(tmp_path: Path) -> None:
    [message] = expand(write(tmp_path, "campaigns/seed.toml", SEED_CAMPAIGN)).messages
    body = json.loads(message.body)
    seed = json.loads(SEED_BODY_JSON)

    external_id = body.pop("external_id")  # the seed's example has none; checked below
    assert body == seed
    # Key order too, at every level: json.dumps keeps insertion order.
    assert json.dumps(body) == json.dumps(seed)

    assert external_id == message.external_id == request.external_id("seed-example", "+15558675309")
    assert external_id.isascii() and len(external_id) <= request.MAX_EXTERNAL_ID


def test_external_id_is_deterministic_distinct_ascii_and_short() -> None:
    longest_id = "a" * 64  # the longest campaign id the schema allows
    ids = {
        request.external_id("order-tracking-2026-11", "c-1001"),
        request.external_id("order-tracking-2026-11", "c-1002"),
        request.external_id("order-tracking-2026-12", "c-1001"),
        request.external_id(longest_id, "ключ-" * 100),
    }
    assert len(ids) == 4
    assert all(i.isascii() and len(i) <= 100 for i in ids)
    assert request.external_id("order-tracking-2026-11", "c-1001") in ids  # same inputs, same id


def test_external_id_does_not_carry_the_phone_number() -> None:
    assert "5558675309" not in request.external_id("c", "+15558675309")


def test_each_recipient_gets_its_own_external_id_and_the_same_one_on_every_expansion(tmp_path: Path) -> None:
    path = write(tmp_path, "campaigns/t.toml", TWO_RECIPIENTS)
    first_run = [m.external_id for m in expand(path).messages]
    second_run = [json.loads(m.body)["external_id"] for m in expand(path).messages]
    assert first_run == second_run
    assert len(set(first_run)) == 2
    assert first_run == [request.external_id("t-1", "a"), request.external_id("t-1", "b")]


def test_the_body_is_compact_utf8_json_exactly_as_posted() -> None:
    texts = Texts(viber_text="Zürich ❄️", url="https://x.example/", url_text="Go", url_id="u", sms_text=None)
    body = request.build(phone_e164="+41441234567", texts=texts, fallback_time=30, message_type="ARN", external_id=None)
    encoded = request.encode(body)
    assert (
        encoded
        == (
            '{"channels":[{"channel":"viber","fallback_time":30}],"phone_number":"41441234567",'
            '"message":{"viber":{"template":"url_action","parameters":{"url_text":"Go","text":"Zürich ❄️",'
            '"url_id":"u","url":"https://x.example/"}}},"message_type":"ARN"}'
        ).encode()
    )


def test_the_10_kb_limit_is_on_the_encoded_bytes(tmp_path: Path) -> None:
    """A body of exactly 10240 bytes passes; one byte more is refused at the recipient's line."""
    text = edit(
        TWO_RECIPIENTS,
        'text = "Thanks for your purchase on {{ shop }}! Track your order status here:"',
        'text = "{{ note }}"',
    )
    text = edit(text, 'order_id = "45390"', 'order_id = "45390", note = "@@A@@"')
    text = edit(text, 'order_id = "45391"', 'order_id = "45391", note = "@@B@@"')
    path = write(tmp_path, "campaigns/t.toml", text)
    overhead = len(expand(path).messages[0].body) - len("@@A@@")

    # "é" is two bytes in UTF-8: the limit counts bytes, not characters.
    fits = "é" * ((request.MAX_BODY_BYTES - overhead) // 2) + "x" * ((request.MAX_BODY_BYTES - overhead) % 2)
    path.write_text(text.replace("@@A@@", fits).replace("@@B@@", fits + "x"), encoding="utf-8")

    expanded = expand(path)
    assert [len(m.body) for m in expanded.messages] == [request.MAX_BODY_BYTES]
    [problem] = problems(path)
    assert f"the request body is {request.MAX_BODY_BYTES + 1} bytes, over Telesign's 10 KB limit" in problem
