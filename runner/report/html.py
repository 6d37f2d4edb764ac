"""report.html: one page that summarises report.csv (docs/report.md), written beside it.

Self-contained: inline CSS and inline SVG charts (runner.report.charts), no script, no font, no
image, nothing fetched, so it opens from file:// anywhere, and its size depends on how many
states, codes, countries and minutes there are, not on how many recipients. Every text that comes
from a campaign or from Telesign is HTML-escaped. Numbers carry `data-n` attributes with their
exact values so that a test (or a script) can read them off the rendered page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from runner.atomic import atomic_write
from runner.ledger.records import RunInfo
from runner.report import charts
from runner.report.charts import FAILED, NEUTRAL, PENDING, SMS, VIBER, Bar, Series, esc
from runner.report.style import CSS
from runner.report.summary import Reason, ReasonGroup, Summary, bucket_for, buckets, per_bucket

EXIT_MEANINGS = {
    0: "all done",
    1: "invalid input, nothing sent",
    2: "usage",
    3: "some messages not accepted",
    4: "could not proceed",
    130: "stopped (Ctrl-C)",
    143: "stopped (SIGTERM)",
}
SHOWN_REASONS = 25


def pct(part: int, whole: int) -> str:
    return "–" if whole == 0 else f"{100 * part / whole:.1f} %"


def num(value: int, name: str) -> str:
    return f'<span data-n="{esc(name)}">{value:,}</span>'


def render(summary: Summary, campaign_id: str, runs: list[RunInfo], total_runs: int, now: datetime) -> str:
    sections = [
        _funnel(summary),
        _channels(summary),
        _countries(summary),
        _reasons(summary),
        _timeline(summary),
        _engagement(summary),
        _cost(summary),
        _states(summary),
        _runs(runs, total_runs, summary),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Report: {esc(campaign_id)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>Campaign report <span class="id">{esc(campaign_id)}</span></h1>'
        f'<p class="meta">{num(summary.recipients, "recipients")} recipients in report.csv · written '
        f"{esc(now.strftime('%Y-%m-%d %H:%M UTC'))}</p></header><main>"
        + "".join(s for s in sections if s)
        + "</main></body></html>\n"
    )


def _section(key: str, title: str, body: str, note: str = "") -> str:
    return (
        f'<section id="{key}"><h2>{esc(title)}</h2>'
        + (f'<p class="note">{esc(note)}</p>' if note else "")
        + body
        + "</section>"
    )


def _table(head: list[str], rows: list[str], key: str) -> str:
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    return f'<table id="{key}-table"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _funnel(s: Summary) -> str:
    steps = [
        ("recipients", "Recipients", s.recipients, s.recipients),
        ("sent", "Sent (a request made)", s.sent, s.recipients),
        ("accepted", "Accepted by Telesign", s.accepted, s.sent),
        ("delivered", "Delivered", s.delivered, s.accepted),
        ("read", "Read on Viber", s.read, s.delivered),
    ]
    colors = [NEUTRAL, NEUTRAL, NEUTRAL, SMS, VIBER]
    bars = [Bar(label, n, c, pct(n, s.recipients)) for (_, label, n, _), c in zip(steps, colors, strict=True)]
    rows = [
        f'<tr data-step="{key}"><td>{esc(label)}</td><td class="n">{num(n, "funnel." + key)}</td>'
        f'<td class="n">{pct(n, s.recipients)}</td>'
        f'<td class="n">{pct(n, before) if key != "recipients" else ""}</td></tr>'
        for key, label, n, before in steps
    ]
    return _section(
        "funnel",
        "Funnel",
        charts.hbars(bars, "Funnel")
        + _table(["step", "count", "% of recipients", "% of the step before"], rows, "funnel"),
    )


def _channels(s: Summary) -> str:
    c = s.channels
    parts = [
        ("viber", "Delivered on Viber", c.viber, VIBER),
        ("sms", "Fell back to SMS, delivered", c.sms, SMS),
        ("failed", "Failed on every channel", c.failed, FAILED),
        ("in_progress", "No final status yet", c.in_progress, PENDING),
    ]
    rows = [
        f'<tr data-channel="{key}"><td><span class="swatch" style="background:{color}"></span>{esc(label)}</td>'
        f'<td class="n">{num(n, "channels." + key)}</td><td class="n">{pct(n, s.accepted)}</td></tr>'
        for key, label, n, color in parts
    ]
    return _section(
        "channels",
        "Where accepted messages ended up",
        charts.stacked([Bar(label, n, color) for _, label, n, color in parts], "Delivery by channel")
        + _table(["channel", "messages", "% of accepted"], rows, "channels"),
        "From Telesign's delivery callbacks (report columns delivery_status_code and last_channel).",
    )


def _countries(s: Summary) -> str:
    ordered = sorted(s.countries.items(), key=lambda item: (-item[1].recipients, item[0]))
    rows = [
        f'<tr data-country="{esc(region)}"><td>{esc(region)}</td>'
        f'<td class="n">{num(c.recipients, "countries." + region + ".recipients")}</td>'
        f'<td class="n">{num(c.accepted, "countries." + region + ".accepted")}</td>'
        f'<td class="n">{num(c.delivered, "countries." + region + ".delivered")}</td>'
        f'<td class="n">{pct(c.delivered, c.accepted)}</td></tr>'
        for region, c in ordered
    ]
    bars = [Bar(region, c.delivered, SMS, f"of {c.accepted:,} accepted") for region, c in ordered[:15]]
    return _section(
        "countries",
        "Delivered by country",
        charts.hbars(bars, "Delivered by country", label_width=60)
        + _table(["country", "recipients", "accepted", "delivered", "delivered % of accepted"], rows, "countries"),
        "The region of each phone number, as the phonenumbers library tells it (?? where it cannot).",
    )


def _reason_rows(groups: dict[Reason, ReasonGroup], key: str, state_label: str) -> str:
    ordered = sorted(groups.items(), key=lambda item: (-item[1].count, item[0].state, item[0].code))
    rows = []
    for i, (reason, group) in enumerate(ordered[:SHOWN_REASONS]):
        example = esc(group.description) + (
            ' <span class="varies">(one example; the texts vary)</span>' if group.varies else ""
        )
        rows.append(
            f'<tr data-reason="{i}"><td>{esc(reason.state)}</td><td>{esc(reason.code)}</td><td>{example}</td>'
            f'<td class="n">{num(group.count, f"{key}.{i}")}</td></tr>'
        )
    rest = sum(group.count for _, group in ordered[SHOWN_REASONS:])
    if rest:
        rows.append(
            f'<tr data-reason="rest"><td colspan="3">{len(ordered) - SHOWN_REASONS} more reasons</td>'
            f'<td class="n">{num(rest, key + ".rest")}</td></tr>'
        )
    if not rows:
        return f'<p class="none" id="{key}-none">None.</p>'
    return _table([state_label, "status code", "description", "messages"], rows, key)


def _reasons(s: Summary) -> str:
    return _section(
        "reasons",
        "Why messages were not sent or not delivered",
        "<h3>Not accepted</h3>"
        + _reason_rows(s.not_sent, "not-sent", "state")
        + "<h3>Accepted, not delivered</h3>"
        + _reason_rows(s.not_delivered, "not-delivered", "last channel"),
        "Largest first. Each description as report.csv has it: Telesign's, or for a skipped row the runner's "
        "reason; where a group's descriptions differ (one naming the number refused), one example.",
    )


def _timeline(s: Summary) -> str:
    bucket = bucket_for(s.accepted_per_minute, s.delivered_per_minute)
    accepted = per_bucket(s.accepted_per_minute, bucket)
    delivered = per_bucket(s.delivered_per_minute, bucket)
    keys = set(accepted) | set(delivered)
    if not keys:
        return _section("timeline", "Timeline", '<p class="none">Nothing accepted yet.</p>')
    labels = buckets(accepted, min(keys), max(keys), bucket)
    series = [
        Series("accepted", [accepted.get(k, 0) for k in labels], NEUTRAL),
        Series("delivered", [delivered.get(k, 0) for k in labels], SMS),
    ]
    rows = [
        f'<tr data-bucket="{esc(k)}"><td>{esc(k)}</td><td class="n">{num(a, "timeline.accepted." + k)}</td>'
        f'<td class="n">{num(d, "timeline.delivered." + k)}</td></tr>'
        for k, a, d in zip(labels, series[0].values, series[1].values, strict=True)
        if a or d
    ]
    return _section(
        "timeline",
        f"Accepted and delivered per {bucket} (UTC)",
        charts.timeline(labels, series, "Timeline")
        + f'<p class="legend">{charts.legend(series)}</p>'
        + f"<details><summary>Per {esc(bucket)}</summary>"
        + _table([bucket, "accepted", "delivered"], rows, "timeline")
        + "</details>",
        "Accepted at submitted_at; delivered at status_updated_on, the time of the latest status "
        "(for a message read, when it was read).",
    )


def _engagement(s: Summary) -> str:
    rows = []
    if s.replied is not None:
        rows.append(f'<tr><td>Replied</td><td class="n">{num(s.replied, "replied")}</td></tr>')
    if s.opted_out is not None:
        rows.append(f'<tr><td>Opted out</td><td class="n">{num(s.opted_out, "opted_out")}</td></tr>')
    deferred = s.states.get("deferred", 0)
    if deferred or s.has("not_before"):
        rows.append(f'<tr><td>Deferred</td><td class="n">{num(deferred, "deferred")}</td></tr>')
        rows.extend(
            f'<tr><td class="sub">until {esc(day)}</td><td class="n">{num(n, "deferred." + day)}</td></tr>'
            for day, n in sorted(s.deferred_until.items())[:30]
        )
    if s.timezones:
        rows.extend(
            f'<tr><td class="sub">time zone {esc(zone)}</td><td class="n">{num(n, "timezone." + zone)}</td></tr>'
            for zone, n in s.timezones.most_common(10)
        )
    if not rows:
        return ""
    return _section("engagement", "Replies, opt-outs and deferrals", _table(["", "recipients"], rows, "engagement"))


def _cost(s: Summary) -> str:
    if not s.has("price"):
        return ""
    rows = [
        f'<tr data-currency="{esc(cur)}"><td>{esc(cur or "(no currency)")}</td>'
        f'<td class="n" data-n="price.{esc(cur)}">{total:f}</td>'
        f'<td class="n">{num(s.priced[cur], "priced." + cur)}</td></tr>'
        for cur, total in sorted(s.prices.items())
    ]
    body = (
        _table(["currency", "total price", "priced messages"], rows, "cost")
        if rows
        else '<p class="none">No prices.</p>'
    )
    return _section("cost", "Cost", body, "The sum of the report's price column per currency.")


def _states(s: Summary) -> str:
    rows = [
        f'<tr data-state="{esc(state)}"><td>{esc(state)}</td><td class="n">{num(n, "states." + state)}</td>'
        f'<td class="n">{pct(n, s.recipients)}</td></tr>'
        for state, n in sorted(s.states.items(), key=lambda item: (-item[1], item[0]))
    ]
    return _section("states", "Recipients by state", _table(["state", "recipients", "%"], rows, "states"))


def _runs(runs: list[RunInfo], total: int, s: Summary) -> str:
    rows = []
    for i, run in enumerate(runs):
        if run.exit_code is not None:
            code = f"{run.exit_code} ({EXIT_MEANINGS.get(run.exit_code, '?')})"
        else:  # the newest unfinished run is the one writing this page; an older one never finished
            code = "this run" if i == 0 else "did not finish (stopped hard)"
        accepted = run.counts.get("accepted")
        commit = (run.campaign_commit or "")[:12] + (" (edited)" if run.campaign_commit and run.tree_dirty else "")
        rows.append(
            f'<tr data-run="{run.id}"><td>{run.id}</td><td>{esc(run.command)}</td><td>{esc(run.started_at)}</td>'
            f"<td>{esc(run.finished_at or '')}</td><td>{esc(code)}</td>"
            f'<td class="n">{"" if accepted is None else f"{accepted:,}"}</td><td><code>{esc(commit)}</code></td></tr>'
        )
    if total > len(runs):
        rows.append(f'<tr><td colspan="7">{total - len(runs):,} earlier runs not shown</td></tr>')
    commits = ""
    if s.commits:
        commits = "<h3>Campaign commits in the report</h3>" + _table(
            ["commit", "recipients"],
            [
                f'<tr><td><code>{esc(c)}</code></td><td class="n">{num(n, "commits." + c)}</td></tr>'
                for c, n in s.commits.most_common(20)
            ],
            "commits",
        )
    if not rows and not commits:
        return ""
    return _section(
        "runs",
        "Run history",
        _table(
            ["run", "command", "started (UTC)", "finished (UTC)", "exit code", "accepted after it", "commit"],
            rows,
            "runs",
        )
        + commits,
    )


def write(summary: Summary, campaign_id: str, runs: list[RunInfo], total_runs: int, path: Path) -> None:
    """Write the page atomically (runner.atomic), like report.csv: a reader never sees half a page."""
    page = render(summary, campaign_id, runs, total_runs, datetime.now(UTC))
    with atomic_write(path, "w", encoding="utf-8") as handle:
        handle.write(page)
