"""Benchmark: heavy commands among normal traffic, against the running HTTP app (not a test).

    python tests/measure/bench_load.py            # 1 and 4 heavy commands among 200 normal ones, 20 per second
    python tests/measure/bench_load.py 1 4 10     # chosen numbers of heavy commands

Starts the Slack Web API stand-in and `python -m bot` in HTTP mode on the bundled data, then sends
200 normal slash commands at 20 per second, each from its own thread (as Slack would), with the
heavy ones (`/winrate by <all eight dimensions>` and 100k characters of nonsense, alternately) spread
among them. Reports acknowledgement p50/p99/max, how many took longer than Slack's 3 s (or were
lost), and how many answers arrived. pytest does not collect it.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))  # the Slack stand-in and harness
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest's data helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from slack_harness import TOKEN, RunningApp  # noqa: E402
from slack_standin import SlackStandIn  # noqa: E402

NORMAL = [("/winrate", "APAC"), ("/trend", ""), ("/why", ""), ("/risk", ""), ("/winrate", "by region"),
          ("/funnel", ""), ("/drivers", ""), ("/health", "")]
HEAVY = [("/winrate", "by region and industry and product and source and stage and rep and size and cycle"),
         ("/winrate", "zq " * 33_000)]
N, RATE, DEADLINE = 200, 20.0, 3.0


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run(app: RunningApp, slack: SlackStandIn, heavy: int, tag: str) -> dict:
    plan = [NORMAL[i % len(NORMAL)] for i in range(N)]
    for k in range(heavy):  # spread through the first half, so normal traffic follows each one
        plan.insert(1 + k * (N // 2) // max(1, heavy), HEAVY[k % len(HEAVY)])
    acks: list[float | None] = [None] * len(plan)

    def send(i, command, text):
        try:
            status, elapsed = app.command(slack, command, text, name=f"{tag}-{i}")
            acks[i] = elapsed if status == 200 else None
        except Exception:
            acks[i] = None  # no acknowledgement within the client's 10 s: lost, as far as Slack goes

    threads, started = [], time.perf_counter()
    for i, (command, text) in enumerate(plan):
        delay = started + i / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=send, args=(i, command, text))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline and sum(bool(slack.responses.get(f"{tag}-{i}")) for i in range(len(plan))) < len(plan):
        time.sleep(0.2)
    answered = sum(bool(slack.responses.get(f"{tag}-{i}")) for i in range(len(plan)))
    got = [a for a in acks if a is not None]
    return {"heavy": heavy, "sent": len(plan), "p50": percentile(got, 50), "p99": percentile(got, 99), "max": max(got),
            "late": sum(a > DEADLINE for a in got), "lost": sum(a is None for a in acks), "answered": answered}


def main(argv):
    counts = [int(a) for a in argv] or [1, 4]
    with SlackStandIn(bot_token=TOKEN) as slack:
        app = RunningApp(slack)
        try:
            run(app, slack, 0, "warm")  # the first answers pay for imports and caches
            results = [run(app, slack, n, f"h{n}") for n in counts]
        finally:
            app.stop()
    print(f"| heavy among {N} at {RATE:.0f}/s | ack p50 ms | ack p99 ms | ack max ms | acks over 3 s | lost | answered |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['heavy']} | {1000 * r['p50']:.0f} | {1000 * r['p99']:.0f} | {1000 * r['max']:.0f} | {r['late']} "
              f"| {r['lost']} | {r['answered']}/{r['sent']} |")


if __name__ == "__main__":
    main(sys.argv[1:])
