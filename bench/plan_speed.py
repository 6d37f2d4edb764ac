"""How fast `campaign plan` gets through a large audience beside `campaign check` on the same
files, and whether its memory stays flat as the audience grows.

    nice .venv/bin/python -m bench.plan_speed                      # 1,000,000 rows (and 100,000)
    nice .venv/bin/python -m bench.plan_speed --rows 200000 --small 20000

The campaign is bench/check_speed.py's (shaped like campaigns/winter-sale.toml: five countries, a
suppression list, a Viber template, an SMS fallback), with a price table beside it so that the
plan also prices every message by country. Each command runs as its own process (`python -m
runner check FILE`, `python -m runner plan FILE --format json`), measured alone through wait4:
CPU seconds (the ratio is taken on them: on a shared machine wall time swings with other
processes, CPU time barely) and peak RSS. Three runs at each size:

  check         the fast gate;
  plan          a first send's plan (no ledger yet);
  plan+ledger   the plan against a ledger holding every recipient (synced by the send's own
                `sync`, as a send that was interrupted before sending leaves it): one state look-up
                per message and a digest of the whole ledger.

Targets (issue 12): plan within 2x check's CPU time (it renders the same messages, then looks
up the ledger, hashes the inputs and prices each number); memory flat: what the plan holds beyond
check's own peak (check's de-duplication sets grow by design, 8 bytes a recipient) within 10 MB
of the small size's, and the whole under 150 MB."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.check_speed import write_campaign
from bench.common import Measured, figure, measure

KINDS = ("check", "plan", "plan+ledger")
PRICES = "country,channel,price,currency\nGB,viber,0.012,EUR\nGB,sms,0.038,EUR\n*,viber,0.015,EUR\n*,sms,0.06,EUR\n"


def sync_ledger(campaign: Path, outputs: Path) -> None:
    """The ledger a send leaves after its sync and before any message left: every recipient pending."""
    from runner.campaign.expansion import Expansion
    from runner.campaign.schema import load
    from runner.ledger.backend import open_ledger
    from runner.outputs import campaign_folder
    from runner.sending.audience_pass import planned_rows

    loaded = load(campaign)
    ledger = open_ledger(campaign_folder(outputs, loaded.id), loaded.id)
    try:
        run_id = ledger.runs.start("send")
        ledger.audience.sync(run_id, planned_rows(Expansion(loaded)))
        ledger.runs.finish(run_id, 0, ledger.counts(run_id))
    finally:
        ledger.close()


def run(kind: str, campaign: Path, outputs: Path) -> Measured:
    verb = ["check", str(campaign)] if kind == "check" else ["plan", str(campaign), "--format", "json"]
    # Each with outputs of its own: check remembers what it validated under <outputs>/.cache, and the
    # repository's outputs/ would serve it from an earlier run's cache (same generated files): a
    # cold check beside a cold plan.
    done = measure([sys.executable, "-m", "runner", *verb, "--outputs", str(outputs)])
    if done.exit_code != 0:
        raise SystemExit(f"{kind} exited with {done.exit_code}: {done.output[-2000:]}")
    return done


def size(rows: int, folder: Path, kinds: list[str]) -> dict[str, Measured]:
    started = time.perf_counter()
    campaign = write_campaign(folder, rows)
    (campaign.parent / "prices.csv").write_text(PRICES, encoding="utf-8")
    print(f"{rows:,} rows: files written in {time.perf_counter() - started:.1f} s", flush=True)
    empty, synced = folder / "outputs-empty", folder / "outputs-synced"
    found: dict[str, Measured] = {}
    for kind in kinds:
        if kind == "plan+ledger":
            started = time.perf_counter()
            sync_ledger(campaign, synced)
            print(f"{rows:,} rows: ledger synced in {time.perf_counter() - started:.1f} s", flush=True)
        m = found[kind] = run(
            "plan" if kind != "check" else "check",
            campaign,
            synced if kind == "plan+ledger" else folder / "outputs-check" if kind == "check" else empty,
        )
        rate = rows / m.cpu_seconds
        print(f"  {kind:<12} {m.cpu_seconds:8.1f} CPU s {m.seconds:8.1f} wall s {rate:10,.0f} rows/CPU-s "
              f"{m.peak_rss_mb:8.1f} MB peak RSS", flush=True)  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="audience rows (default 1,000,000)")
    parser.add_argument("--small", type=int, default=100_000, help="the small size memory is compared with")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"what to measure, of {','.join(KINDS)} (check is always first)"
    )
    args = parser.parse_args()
    kinds = ["check", *(k for k in args.kinds.split(",") if k in KINDS and k != "check")]
    results = {}
    for rows in (args.small, args.rows):
        with tempfile.TemporaryDirectory(prefix="plan-speed-") as tmp:
            results[rows] = size(rows, Path(tmp), kinds)
    large, small = results[args.rows], results[args.small]
    check_cpu = large["check"].cpu_seconds
    for kind in kinds[1:]:
        ratio = large[kind].cpu_seconds / check_cpu
        figure(f"campaign {kind}, CPU time vs check at {args.rows:,} rows", round(ratio, 2), "x", 1.0, "<= 2x",
               ratio <= 2.0, f"{large[kind].cpu_seconds:.1f} s vs {check_cpu:.1f} s")  # fmt: skip
        # check's own memory grows with the audience by design (its de-duplication sets, 8 bytes a
        # recipient: runner/campaign/seen.py); what the plan adds on top of it must not grow.
        rss = large[kind].peak_rss_mb
        extra, extra_small = rss - large["check"].peak_rss_mb, small[kind].peak_rss_mb - small["check"].peak_rss_mb
        name = (
            f"campaign {kind}, peak RSS beyond check's at {args.rows:,} rows (at {args.small:,}: {extra_small:.1f} MB)"
        )
        figure(name,
               round(extra, 1), "MB", round(extra_small, 1), "within 10 MB of the small size's, total < 150 MB",
               extra <= extra_small + 10 and rss < 150, f"{rss:.1f} MB in all")  # fmt: skip


if __name__ == "__main__":
    main()
