"""A callback whose updated_on cannot be read, but looks like a report time, on the way from the
log to report.html."""

from __future__ import annotations

import json
from pathlib import Path

from tests.enrich.test_enrich import callback, report, sent_two
from tests.fixtures.simulator import MakeSimulator
from tests.sending.helpers import campaign


def test_an_unreadable_updated_on_shaped_like_a_report_time_still_gives_report_html(
    tmp_path: Path, make_simulator: MakeSimulator
) -> None:
    file, out, (odd, plain) = sent_two(tmp_path, make_simulator())
    log = tmp_path / "callbacks.jsonl"
    log.write_text(
        json.dumps(callback(odd, 3000, "2026-13-45T99:99:99"))
        + "\n"
        + json.dumps(callback(plain, 3000, "2026-12-01T10:00:00Z"))
        + "\n",
        encoding="utf-8",
    )
    page = out / "test-campaign" / "report.html"
    page.unlink()
    # (before: ValueError "month must be in 1..12" from the timeline, after the ledger had committed:
    # no report.html, and every later send or enrich of the campaign failed the same way)
    result = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert result.exit_code == 0, result.output
    rows = report(out)
    # the time is kept as Telesign wrote it; the page counts the delivery, and leaves it off the timeline
    assert [r["status_updated_on"] for r in rows] == ["2026-13-45T99:99:99", "2026-12-01T10:00:00.000000Z"]
    html = page.read_text(encoding="utf-8")
    assert '<span data-n="funnel.delivered">2</span>' in html
    assert 'data-n="timeline.delivered.2026-12-01' in html and "2026-13-45" not in html
    again = campaign("enrich", str(file), "--callbacks", str(log), "--outputs", str(out))
    assert again.exit_code == 0, again.output
