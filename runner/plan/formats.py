"""A plan as a person reads it: plain text for a terminal, markdown for a pull-request comment (a
summary table first, the details folded below in <details>), docs/plan.md, "Reading a plan"."""

from __future__ import annotations

from runner.plan.model import Plan


def _n(value: int) -> str:
    return f"{value:,}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _money(value: float | None, currency: str | None) -> str:
    if value is None:
        return "no price"
    shown = f"{value:,.2f}" if value >= 10 else f"{value:.4f}"  # a few messages cost fractions of a cent
    return f"{shown} {currency or ''}".strip()


def _deferred(plan: Plan) -> str:
    until = sorted(at[:16] + "Z" for at in plan.counts.deferred_until if at)  # to the minute
    if not plan.counts.deferred:
        return "0"
    when = f"from {until[0]}" + (f" to {until[-1]}" if until[-1] != until[0] else "") if until else ""
    return f"{_n(plan.counts.deferred)}, as their windows open {when}".rstrip()


def _time(plan: Plan) -> str:
    shown = _duration(plan.timing.seconds)
    if plan.timing.finishes_at is not None:
        shown += f" now; the last deferred by {plan.timing.finishes_at.isoformat(timespec='minutes')}"
    return shown


def _already(plan: Plan) -> str:
    done = plan.counts.already
    return ", ".join(f"{_n(n)} {state}" for state, n in done.items()) if done else "none"


def _suppressed(plan: Plan) -> str:
    by = plan.counts.suppressed
    total = sum(by.values())
    return f"{_n(total)}" + (" (" + ", ".join(f"{name}: {_n(n)}" for name, n in by.items()) + ")" if by else "")


def _sms(plan: Plan) -> str:
    m = plan.messages
    if not m.sms_encodings:
        return "no SMS fallback" if not m.counted else "no SMS fallback in this campaign"
    encodings = ", ".join(f"{enc} {_n(n)}" for enc, n in m.sms_encodings.items())
    segments = ", ".join(f"{s} segment{'s' if s != 1 else ''}: {_n(n)}" for s, n in m.sms_segments.items())
    return f"{encodings}; {segments}"


def _ucs2(plan: Plan) -> str:
    chars = plan.messages.ucs2_characters
    return ", ".join(f"{c.character!r} ({c.name}, {_n(c.messages)})" for c in chars)


def _cost(plan: Plan) -> str:
    cost = plan.cost
    if cost.table is None:
        segments = sum(s * n for s, n in plan.messages.sms_segments.items())
        return f"no price table: {_n(plan.counts.to_send)} Viber messages, up to {_n(segments)} SMS segments"
    text = f"{_money(cost.best, cost.currency)} to {_money(cost.worst, cost.currency)}"
    if cost.unpriced:
        text += f" (no price for {', '.join(cost.unpriced)})"
    return text


def _summary(plan: Plan) -> list[tuple[str, str]]:
    c, m = plan.counts, plan.messages
    rows = [
        ("Audience rows", _n(c.audience_rows)),
        ("To send now", _n(c.to_send)),
        ("Deferred (outside send windows)", _deferred(plan)),
    ]
    if c.over_cap:
        rows.append(("Left for later runs (--limit / max_per_run)", _n(c.over_cap)))
    rows += [
        ("Already done (ledger)", _already(plan)),
        ("Suppressed", _suppressed(plan)),
        ("Duplicates", _n(c.duplicates)),
        ("Invalid (skipped)", _n(c.invalid)),
        ("Viber text", f"longest {m.viber_text_longest} of {m.viber_text_limit} characters shown"
         + (f", {_n(m.viber_text_over)} longer (cut on the phone)" if m.viber_text_over else "")),
        ("Button caption", f"longest {m.button_longest} of {m.button_limit} characters shown"
         + (f", {_n(m.button_over)} longer (cut on the phone)" if m.button_over else "")),
        ("SMS fallback", _sms(plan)),
    ]  # fmt: skip
    if m.ucs2_characters:
        rows.append(("Characters forcing UCS-2", _ucs2(plan)))
    rows += [
        ("Cost (best to worst)", _cost(plan)),
        (f"Time at {plan.timing.rate:g}/s", _time(plan)),
        ("Fingerprint", plan.fingerprint[:16]),
        ("Valid until", plan.valid_until.isoformat(timespec="seconds")),
    ]
    return rows


def _notes(plan: Plan) -> list[str]:
    notes = []
    if plan.schedule:
        notes.append(f"Schedule: {plan.schedule}.")
    if plan.at_send_time:
        notes.append("Decided when the send runs, not now: " + "; ".join(plan.at_send_time) + ".")
    if plan.git:
        notes.append(f"Provenance: {plan.git}.")
    dirty = [i.path for i in plan.inputs if i.dirty]
    if dirty:
        notes.append("Differs from its last commit: " + ", ".join(dirty) + ".")
    return notes


def _commit(commit: str | None, dirty: bool | None) -> str:
    if dirty is None:
        return "-"
    shown = commit[:12] if commit else "never committed"
    return shown + (" (work tree differs)" if dirty and commit else "")


def text(plan: Plan) -> str:
    lines = [f"{plan.campaign_id} ({plan.campaign_file}): plan at {plan.created_at.isoformat(timespec='seconds')}"]
    width = max(len(label) for label, _ in _summary(plan))
    lines += [f"  {label.ljust(width)}  {value}" for label, value in _summary(plan)]
    lines += [f"  {note}" for note in _notes(plan)]
    if plan.counts.invalid_examples:
        lines.append("  invalid rows:")
        lines += [f"    {example}" for example in plan.counts.invalid_examples]
    if plan.messages.samples:
        sample = plan.messages.samples[0]
        lines.append(f"  {sample.why} ({sample.recipient}): {sample.viber_text!r} [{sample.url_text}]")
    lines.append("  inputs:")
    for i in plan.inputs:
        rows = f", {_n(i.rows)} row{'s' if i.rows != 1 else ''}" if i.rows is not None else ""
        lines.append(f"    {i.role}: {i.path}{rows}, {_commit(i.commit, i.dirty)}")
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", "<br>")


def _block(value: str) -> str:
    fence = "````" if "```" in value else "```"
    return f"{fence}\n{value.rstrip()}\n{fence}"


def markdown(plan: Plan) -> str:
    out = [f"### Plan: `{plan.campaign_id}` ({plan.campaign_file})", "", "| | |", "|---|---|"]
    out += [f"| {label} | {_cell(value)} |" for label, value in _summary(plan)]
    out.append("")
    out += [f"> {note}" for note in _notes(plan)]
    if plan.counts.invalid_examples:
        out += ["", "<details><summary>Invalid rows (first few)</summary>", ""]
        out += [f"- `{example}`" for example in plan.counts.invalid_examples]
        out += ["", "</details>"]
    if plan.cost.countries:
        cur = plan.cost.currency or ""
        out += ["", "<details><summary>Cost by country</summary>", ""]
        out += [f"| Country | Messages | SMS segments | Best ({cur}) | Worst ({cur}) |", "|---|--:|--:|--:|--:|"]
        for c in plan.cost.countries:
            best, worst = _money(c.best, None), _money(c.worst, None)
            out.append(f"| {c.country} | {_n(c.messages)} | {_n(c.sms_segments)} | {best} | {worst} |")
        out += ["", f"Prices from `{plan.cost.table}`. Best: every Viber message delivered; "
                "worst: every message also falls back to SMS.", "", "</details>"]  # fmt: skip
    if plan.messages.samples:
        out += ["", f"<details><summary>Samples ({len(plan.messages.samples)})</summary>", ""]
        for s in plan.messages.samples:
            out += [f"**{s.why}**: `{s.recipient}` ({s.line})", "", _block(s.viber_text), ""]
            out += [f"Button: **{_cell(s.url_text)}** → {s.url}", ""]
            if s.sms_text is not None:
                out += [f"SMS ({s.sms}):", "", _block(s.sms_text), ""]
        out.append("</details>")
    if plan.messages.templates:
        out += ["", f"<details><summary>Templates ({len(plan.messages.templates)})</summary>", ""]
        for t in plan.messages.templates:
            names = ", ".join(f"`{v}`" for v in t.variables) or "none"
            out += [f"**{t.field}** ({t.where}); variables: {names}", "", _block(t.source), ""]
        out.append("</details>")
    out += ["", "<details><summary>Inputs and provenance</summary>", ""]
    out += ["| Role | File | Rows | Commit | sha256 |", "|---|---|--:|---|---|"]
    for i in plan.inputs:
        rows = _n(i.rows) if i.rows is not None else ""
        out.append(
            f"| {i.role} | `{i.path}` | {rows} | {_commit(i.commit, i.dirty)} | `{(i.sha256 or 'missing')[:12]}` |"
        )
    out += ["", f"Runner {plan.runner_version}; fingerprint `{plan.fingerprint}`.", "", "</details>"]
    return "\n".join(out) + "\n"
