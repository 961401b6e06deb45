"""Benchmark: signed slash commands against the running HTTP app, at 5k and 1M deals.

    python tests/bench_slack.py              # 5k and 1M deals
    python tests/bench_slack.py 5000         # chosen sizes

Starts the Slack Web API stand-in and `python -m bot` in HTTP mode on the generated data, then
sends each command REPEATS times, one at a time, and measures the acknowledgement (the HTTP
response to the signed request) and the full answer (until the reply reaches the response_url).
Not a test: asserts nothing and pytest does not collect it.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_harness import TOKEN, RunningApp  # noqa: E402
from slack_standin import SlackStandIn  # noqa: E402

COMMANDS = [("/winrate", "APAC"), ("/trend", ""), ("/why", ""), ("/drivers", ""), ("/risk", "")]
REPEATS = 20


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run(size: int, workdir: Path) -> dict:
    from insights.synthetic import demo_spec, generate_deals, write_csv

    path = workdir / f"deals_{size}.csv"
    write_csv(generate_deals(demo_spec(n_deals=size)), path)
    acks, answers = [], []
    with SlackStandIn(bot_token=TOKEN) as slack:
        app = RunningApp(slack, DEALS_SOURCE=str(path))
        try:
            for k in range(REPEATS):
                for command, text in COMMANDS:
                    name = f"{command[1:]}-{k}"
                    started = time.perf_counter()
                    status, ack = app.command(slack, command, text, name=name)
                    assert status == 200
                    slack.wait_for(lambda s: s.responses.get(name), timeout=30)
                    acks.append(ack)
                    answers.append(time.perf_counter() - started)
        finally:
            app.stop()
    return {"size": size, "ack": acks, "answer": answers}


def main(argv):
    sizes = [int(a) for a in argv] or [5_000, 1_000_000]
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(size, Path(tmp)) for size in sizes]
    print(f"| {len(COMMANDS)} commands x {REPEATS}, ms | " + " | ".join(f"{r['size']:,} deals" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for key, label in (("ack", "acknowledgement"), ("answer", "full answer")):
        for q in (50, 99):
            cells = [f"{1000 * percentile(r[key], q):.0f}" for r in results]
            print(f"| {label} p{q} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
