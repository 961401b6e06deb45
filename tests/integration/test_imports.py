"""The house rule, checked with import-linter (contracts in pyproject.toml): bot.core never imports
bot.slack, bot.clock or bot.cli; cli > clock > slack > core > store > config; insights/ never imports bot;
each module of insights/load/ imports only those below it; listeners never import each other; the data
holder never imports the commands; the clock never imports Slack's listeners, services or group membership."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint) if lint.exists() else "lint-imports", "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The core never imports the Slack app, the clock or the CLI KEPT" in done.stdout
    assert "The loader by concern: each module imports only those below it KEPT" in done.stdout
    assert "The data holder knows nothing of the commands, the answer path or access KEPT" in done.stdout
    assert "Contracts: 7 kept, 0 broken." in done.stdout
