"""A scale test of the engine path (slow layer): the bundled deals copied 300 times with new ids (2.1M deals,
one Parquet file) answer through `python -m bot ask` with every count exactly 300 times the bundled data's
and the same rates, while the bot process stays under 1 GB resident. What it takes is printed, not timed:
the benchmark (tests/measure/bench_engine.py) measures speed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "deals.csv"
COPIES = 300
pytestmark = pytest.mark.slow
MEASURED = """
import runpy, sys
sys.argv[0] = "bot"
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
finally:  # VmHWM: this program's own peak (getrusage's would count the forked test process before exec)
    peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
    sys.stderr.write(f"\\npeak_kb={peak}\\n")
"""


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "deals.parquet"
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT * REPLACE (deal_id || '-' || copy AS deal_id)
                        FROM read_csv('{DEMO}', header=true) CROSS JOIN range({COPIES}) AS copies(copy))
                        TO '{path}' (FORMAT parquet)""")
    return path


def ask(source: Path, command: str, engine: str) -> tuple[dict, float]:
    """The answer's JSON and the bot process's peak resident MB, which the process reports itself as it exits."""
    env = {**os.environ, "DEALS_SOURCE": str(source), "DEALS_ENGINE": engine}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", MEASURED, "ask", "--format", "json", command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stderr.rsplit("peak_kb=", 1)[1].split()[0]) / 1024
    print(f"{command} ({engine}): {time.monotonic() - started:.1f} s, {peak_mb:.0f} MB resident at most")
    return json.loads(done.stdout), peak_mb


def scaled(rate: dict) -> dict:
    return {**rate, **{k: rate[k] * COPIES for k in ("won", "lost", "n")}}


def test_two_million_deals_answer_with_every_count_scaled_and_the_same_rates(big):
    small, _ = ask(DEMO, "/winrate by region", "memory")
    large, peak_mb = ask(big, "/winrate by region", "engine")
    assert peak_mb < 1024
    assert large["period"] == small["period"]
    keep = ("won", "lost", "n", "win_rate")
    assert {k: large["overall"][k] for k in keep} == {k: scaled(small["overall"])[k] for k in keep}
    assert [{k: g[k] for k in keep + ("label",)} for g in large["groups"]] == \
        [{**{k: scaled(g)[k] for k in keep}, "label": g["label"]} for g in small["groups"]]
    assert large["amount"]["won_amount"] == pytest.approx(small["amount"]["won_amount"] * COPIES)
    # the intervals narrow with 300 times the deals
    assert large["overall"]["ci_high"] - large["overall"]["ci_low"] < \
        (small["overall"]["ci_high"] - small["overall"]["ci_low"]) / 10


def test_why_and_health_answer_on_two_million_deals(big):
    why, peak_mb = ask(big, "/why", "engine")
    assert peak_mb < 1024
    assert why["command"] == "why" and why["period"]["label"]
    health, _ = ask(big, "/health", "engine")
    small, _ = ask(DEMO, "/health", "memory")
    text = json.dumps(health)
    assert str(7000 * COPIES) in text or f"{7000 * COPIES:,}" in text  # every row read and counted
    assert health["command"] == small["command"] == "health"
