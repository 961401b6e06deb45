"""`python -m bot ask` takes the engine path by the setting (DEALS_ENGINE), and answers as the in-memory path
does: two real subprocesses on the bundled data. The in-process parity of every command through both paths is
tests/integration/test_engine_answers.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "data" / "deals.csv")


def ask(mode: str, command: str) -> dict:
    env = {**os.environ, "DEALS_SOURCE": DEMO, "DEALS_ENGINE": mode}
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "--format", "json", command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_python_m_bot_ask_answers_through_the_engine_by_the_setting():
    engine, memory = ask("engine", "/why"), ask("memory", "/why")
    assert engine == memory
    assert engine["command"] == "why" and engine["period"]["label"]  # a diagnosis, not a sentence


def test_python_m_bot_ask_lists_and_forecasts_through_the_engine_as_in_memory():
    for command in ("/pipeline by region", "/deals lost APAC"):
        engine, memory = ask("engine", command), ask("memory", command)
        assert engine == memory and engine["command"] == command.split()[0][1:]
    assert memory["count"] > 15 and len(memory["deals"]) == 15
