"""Memory against audience size: peak RSS of `campaign check` and `campaign send --dry-run` at
10k, 100k and 1M recipients, each in its own process (wait4's ru_maxrss), beside the interpreter
with the runner imported and nothing else as the baseline. Flat is the goal; target < 100 MB at 1M.

    python -m bench.memory_scaling [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.common import figure, measure, write_campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    idle = measure([sys.executable, "-c", "import runner.commands.send, runner.commands.check"])
    print(f"baseline: the runner imported, nothing done: {idle.peak_rss_mb:.0f} MB")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as temp:
        for size in args.sizes:
            file = write_campaign(Path(temp) / str(size), size)
            check = measure([sys.executable, "-m", "runner", "check", str(file)])
            dry = measure(
                [sys.executable, "-m", "runner", "send", "--dry-run", str(file), "--outputs", str(Path(temp) / "out")]
            )
            assert check.exit_code == 0 and dry.exit_code == 0, check.output + dry.output
            print(
                f"{size:>9,} recipients: check {check.peak_rss_mb:5.0f} MB ({size / check.seconds:,.0f}/s), "
                f"send --dry-run {dry.peak_rss_mb:5.0f} MB ({size / dry.seconds:,.0f}/s)"
            )
            if size == max(args.sizes):
                worst = max(check.peak_rss_mb, dry.peak_rss_mb)
                figure(
                    f"peak RSS, check and dry-run at {size:,} recipients",
                    round(worst, 1),
                    "MB",
                    round(idle.peak_rss_mb, 1),
                    "< 100 MB",
                    worst < 100,
                )


if __name__ == "__main__":
    main()
