"""runner.report.summary on report rows whose delivery time Telesign sent is no time the
timeline can draw: the page is still written, the row still counted, the time left off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.report import html as report_html
from runner.report.csv import COLUMNS
from runner.report.summary import summarise_rows


def delivered(updated_on: str) -> list[str]:
    values = {
        "phone_number": "+447400123401",
        "state": "accepted",
        "attempts": "1",
        "submitted_at": "2026-12-01T10:00:00.000Z",
        "delivery_status_code": "3000",
        "last_channel": "viber",
        "status_updated_on": updated_on,
    }
    return [values.get(name, "") for name in COLUMNS]


@pytest.mark.parametrize(
    "updated_on",
    [
        "2026-99-99T99:99:00",  # ISO-shaped, kept raw because no format reads it
        "2026-12-01T25:00:00",
        "9999-12-31T23:59:59.000000Z",  # read, but the calendar has no bucket after it
        "9999-12-31 23:59:59.000",  # Telesign's own format, the same moment
    ],
)
def test_a_delivery_time_the_timeline_cannot_draw_is_left_off_and_the_page_is_written(updated_on: str) -> None:
    summary = summarise_rows(COLUMNS, [delivered(updated_on), delivered("2026-12-01T10:01:30.000000Z")])
    assert summary.delivered == 2  # both rows count as delivered
    assert dict(summary.delivered_per_minute) == {"2026-12-01T10:01": 1}
    page = report_html.render(summary, "c", [], 0, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert 'data-n="funnel.delivered">2<' in page
    assert 'data-n="timeline.delivered.2026-12-01T10:01">1<' in page
