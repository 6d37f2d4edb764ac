"""`campaign send` against what a user would write instead: a loop over Telesign's own Python SDK
(telesignenterprise MessagingClient.omniMessage, Basic auth), the same 600 messages to the same
simulator answering with 25 ms of latency. Target (issue 16): 15x faster or more. Both are timed
by the wall clock: on a loaded machine `campaign send` (CPU-bound at start-up) suffers more than the
SDK loop (which mostly waits), so read the figure with the load average it prints.

    pip install -e '.[bench]' && python -m bench.sdk_compare [--messages 600] [--latency-ms 25] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import SimulatorProcess, figure, measure, write_campaign
from runner.telesign.auth import DEMO_API_KEY, DEMO_CUSTOMER_ID


def sdk_loop(url: str, bodies: list[dict[str, object]]) -> float:
    from telesignenterprise.messaging import MessagingClient

    client = MessagingClient(DEMO_CUSTOMER_ID, DEMO_API_KEY, rest_endpoint=url, auth_method="Basic")
    started = time.perf_counter()
    for body in bodies:
        response = client.omniMessage(body)
        if response.status_code != 200:
            sys.exit(f"the SDK loop got {response.status_code}: {response.body}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--latency-ms", type=float, default=25)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3, help="sends timed (the median is the figure)")
    args = parser.parse_args()
    env = {"TELESIGN_CUSTOMER_ID": DEMO_CUSTOMER_ID, "TELESIGN_API_KEY": DEMO_API_KEY}
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as temp:
        folder = Path(temp)
        file = write_campaign(folder / "c", args.messages, concurrency=args.concurrency)
        dry = measure(
            [sys.executable, "-m", "runner", "send", "--dry-run", str(file), "--outputs", str(folder / "dry")]
        )
        assert dry.exit_code == 0, dry.output
        bodies = [json.loads(line) for line in (folder / "dry" / "bench" / "dry-run.jsonl").read_text().splitlines()]
        for body in bodies:
            body.pop("external_id", None)  # the SDK user's loop would not have one
        with SimulatorProcess("--latency-ms", str(args.latency_ms)) as sim:
            sdk_seconds = sdk_loop(sim.url, bodies)
        # The send is timed --runs times, each into fresh outputs against a fresh simulator, and
        # the median taken: a single whole-process run of about a second moves by a tenth with
        # the machine's load, where the SDK loop's 16 s average it out.
        runs = []
        for n in range(args.runs):
            with SimulatorProcess("--latency-ms", str(args.latency_ms)) as sim:
                run = measure(
                    [sys.executable, "-m", "runner", "send", str(file), "--outputs", str(folder / f"out{n}"),
                     "--log-format", "plain"],
                    env={**env, "TELESIGN_BASE_URL": sim.url},
                )  # fmt: skip
                assert run.exit_code == 0, run.output
                runs.append(run.seconds)
    seconds = statistics.median(runs)
    ratio = sdk_seconds / seconds
    print(
        f"SDK loop (telesignenterprise omniMessage, Basic): {args.messages} messages in {sdk_seconds:.2f}s "
        f"= {args.messages / sdk_seconds:.0f}/s"
    )
    print(
        f"campaign send (concurrency {args.concurrency}, whole process incl. start-up): {seconds:.2f}s "
        f"= {args.messages / seconds:.0f}/s, the median of {len(runs)} runs ({', '.join(f'{s:.2f}s' for s in runs)})"
    )
    print(f"campaign send is {ratio:.1f}x faster (target >= 15x); load average {os.getloadavg()[0]:.1f}")
    figure(
        f"send vs Telesign SDK loop ({args.messages} msgs, {args.latency_ms:g} ms latency)",
        round(args.messages / seconds, 1),
        "msgs/s",
        round(args.messages / sdk_seconds, 1),
        ">= 15x",
        ratio >= 15,
    )


if __name__ == "__main__":
    main()
