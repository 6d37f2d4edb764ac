"""`campaign optouts list | add PHONE | remove PHONE | export FILE.csv`: the repository's opt-outs
by hand, for what does not arrive as a reply (a complaint by e-mail, a support ticket). Each is an
event appended to the opt-out store, never an edit of it (docs/policy.md, "The opt-out store")."""

from __future__ import annotations

import csv
import os
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers

from runner import terminal
from runner.campaign.phones import NO_COUNTRY_CODE, BadNumber, to_e164
from runner.errors import ExitCode, UsageProblem
from runner.ledger.backend import shared_ledger_url
from runner.policy.store import OptEvent, RecipientStore, open_store, where


def _phone(raw: str, region: str | None) -> str:
    if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        # phonenumbers takes an unknown region for none and would blame the number
        raise UsageProblem(f"--region {region!r} is not a region code: use a two-letter one such as US or GB")
    try:
        return to_e164(raw, region.upper() if region else None, "possible")
    except BadNumber as error:
        if error.kind == NO_COUNTRY_CODE:  # its own advice names the campaign file's default_region
            raise UsageProblem(
                f"PHONE: {raw.strip()!r} has no country code: write it with +<country code>, or pass --region"
            ) from None
        raise UsageProblem(f"PHONE: {error} (write it with its country code, or pass --region)") from None


def list_optouts(outputs: Path, ledger_option: str | None = None) -> int:
    url = shared_ledger_url(ledger_option)
    store = open_store(outputs, url)
    try:
        count = 0
        for out in store.opted_out_all():
            terminal.out(f"{out.phone}  {out.reason}")
            count += 1
    finally:
        store.close()
    terminal.err(f"{count} phone(s) opted out in {where(outputs, url)}")
    return ExitCode.OK


def add(phone: str, region: str | None, outputs: Path, note: str | None, ledger_option: str | None = None) -> int:
    return _record(phone, region, outputs, "opt_out", note, shared_ledger_url(ledger_option))


def remove(phone: str, region: str | None, outputs: Path, note: str | None, ledger_option: str | None = None) -> int:
    return _record(phone, region, outputs, "opt_in", note, shared_ledger_url(ledger_option))


def _record(raw: str, region: str | None, outputs: Path, action: str, note: str | None, url: str | None) -> int:
    phone = _phone(raw, region)
    store = open_store(outputs, url)
    try:
        before = store.opted_out(phone)
        # A phone's state is its latest event by when the person asked (runner.policy.store): a
        # reply's time is Telesign's clock, which may run ahead of ours. What a user does by hand
        # now comes after whatever was recorded before it, or "opted in" would not be true.
        at = datetime.now(UTC)
        last = store.last_event_at(phone)
        if last is not None and last >= at:
            at = last + timedelta(milliseconds=1)
        store.record(
            OptEvent(
                f"manual:{uuid.uuid4()}", phone, "opt_out" if action == "opt_out" else "opt_in", at, "manual", note=note
            )
        )
    finally:
        store.close()
    if action == "opt_out":
        terminal.out(f"{phone}: opted out" + (" (already was: recorded again)" if before else ""))
    else:
        terminal.out(f"{phone}: opted in" if before else f"{phone}: was not opted out (recorded anyway)")
    return ExitCode.OK


def export(file: Path, outputs: Path, ledger_option: str | None = None) -> int:
    """The phones opted out now, as CSV (phone, opted_out_at, how, campaign), written atomically."""
    store: RecipientStore = open_store(outputs, shared_ledger_url(ledger_option))
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".optouts-", suffix=".csv", dir=file.parent)
    rows = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("phone", "opted_out_at", "source", "campaign"))
            for out in store.opted_out_all():
                writer.writerow((out.phone, out.at.isoformat().replace("+00:00", "Z"), out.source, out.campaign or ""))
                rows += 1
        os.replace(temp, file)
    except BaseException:
        os.unlink(temp)
        raise
    finally:
        store.close()
    terminal.out(f"{rows} opted-out phone(s) written to {file} (a `phone` column: usable as [audience] suppress)")
    return ExitCode.OK
