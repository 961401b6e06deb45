"""Benchmark: signed slash commands against the running HTTP app, at 5k and 1M deals.

    python tests/measure/bench_slack.py              # 5k and 1M deals
    python tests/measure/bench_slack.py 5000         # chosen sizes
    python tests/measure/bench_slack.py --file deals.parquet   # an existing file (e.g. ten million deals)

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))  # the Slack stand-in and harness
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # conftest's data helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from slack_harness import TOKEN, RunningApp  # noqa: E402
from slack_standin import SlackStandIn  # noqa: E402

COMMANDS = [("/winrate", "APAC"), ("/trend", ""), ("/why", ""), ("/drivers", ""), ("/risk", "")]
REPEATS = 20


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def peak_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB; None off Linux."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None


def run(size: int, workdir: Path) -> dict:
    from insights.synthetic import demo_spec, generate_deals, write_csv

    path = workdir / f"deals_{size}.csv"
    write_csv(generate_deals(demo_spec(n_deals=size)), path)
    return run_on(path, f"{size:,} deals")


def run_on(path: Path, label: str) -> dict:
    acks, answers, slowest = [], [], []
    with SlackStandIn(bot_token=TOKEN) as slack:
        started = time.perf_counter()
        app = RunningApp(slack, startup_seconds=300, DEALS_SOURCE=str(path))
        up = time.perf_counter() - started
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
                    slowest.append((answers[-1], command, k))
            peak = peak_mb(app.proc.pid)
        finally:
            app.stop()
    slowest = ", ".join(f"{command} #{k + 1} {1000 * t:.0f} ms" for t, command, k in sorted(slowest)[-3:][::-1])
    print(f"{label}: slowest full answers: {slowest}", file=sys.stderr)
    return {"label": label, "ack": acks, "answer": answers, "up": up, "peak": peak}


def main(argv):
    if argv[:1] == ["--file"]:
        results = [run_on(Path(argv[1]), Path(argv[1]).name)]
    else:
        sizes = [int(a) for a in argv] or [5_000, 1_000_000]
        with tempfile.TemporaryDirectory() as tmp:
            results = [run(size, Path(tmp)) for size in sizes]
    print(f"| {len(COMMANDS)} commands x {REPEATS}, ms | " + " | ".join(r["label"] for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for key, label in (("ack", "acknowledgement"), ("answer", "full answer")):
        for q in (50, 99):
            cells = [f"{1000 * percentile(r[key], q):.0f}" for r in results]
            print(f"| {label} p{q} | " + " | ".join(cells) + " |")
    print("| start until /healthz answers (s) | " + " | ".join(f"{r['up']:.1f}" for r in results) + " |")
    print("| peak memory of the bot process (MB) | "
          + " | ".join("n/a" if r["peak"] is None else f"{r['peak']:.0f}" for r in results) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
