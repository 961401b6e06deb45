"""`python -m bot ask ...` and `python -m bot console` as a user runs them: real subprocesses, real files.

Each subprocess costs about a second of imports, so the module starts every planned command at once
(a few at a time) and the tests read the finished results.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from bot.core.commands import COMMANDS
from insights.synthetic import demo_spec, generate_deals, write_csv

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "data" / "deals.csv"
REQUIRED_COMMANDS = ("winrate", "trend", "risk", "funnel", "health")
RATE_KEYS = {"win_rate", "won", "lost", "n", "ci_low", "ci_high"}
CHANGE_KEYS = {"change_pp", "p_value", "significant"}

QUIT_SESSION = "/trnd\n/foo\n/winrate Europe\nquit\n/health\n"
GARBLED = [
    "/winrate =..é ✓ \"\"",
    "/winrate apca lsat quater vs vs vs",
    "/winrate 0000Q1 vs previous",
    "/trend 9999-01-01..9999-12-31",
    "/risk region= by by by , , ..",
    "/funnel \u200b\u00a0“APAC”” 2024-02-30..2024-13-01",
    "/winrate " + "north america " * 300,
    "/winrate last 3660 years vs last year",
    "/winrate 9999-12-31 vs previous",
]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DEALS_SOURCE", "DEALS_MAPPING")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _run(args: tuple[str, ...], stdin: str | None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=_env(), input=stdin,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


class CLI:
    """Runs `python -m bot ARGS`; each distinct command runs once, started ahead by `plan`."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2) + 1))
        self.runs = {}

    def plan(self, *args, stdin: str | None = None) -> None:
        key = (tuple(str(a) for a in args), stdin)
        if key not in self.runs:
            self.runs[key] = self.pool.submit(_run, *key)

    def __call__(self, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
        self.plan(*args, stdin=stdin)
        return self.runs[(tuple(str(a) for a in args), stdin)].result()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_deals(demo_spec())


@pytest.fixture(scope="module")
def files(frame, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    deals = d / "deals.csv"
    write_csv(frame, deals)
    partial = d / "partial.csv"
    write_csv(frame.head(50).drop(columns=["region", "deal_amount"]), partial)
    opportunities = d / "opportunities.csv"  # a Salesforce-style report of the same deals
    pd.DataFrame({
        "Opportunity ID": frame["deal_id"],
        "Created Date": frame["created_date"].dt.strftime("%Y-%m-%d"),
        "Close Date": frame["closed_date"].dt.strftime("%Y-%m-%d").fillna(""),
        "Stage": frame["outcome"].map({"Won": "Closed Won", "Lost": "Closed Lost", "": "Prospecting"}),
        "Amount": frame["deal_amount"],
        "Lead Source": frame["lead_source"],
        "Opportunity Owner": frame["sales_rep_id"],
        "Industry": frame["industry"],
        "Region": frame["region"],
        "Product": frame["product_type"],
    }).to_csv(opportunities, index=False)
    mapping = d / "salesforce.toml"
    mapping.write_text(
        '[columns]\ndeal_id = "Opportunity ID"\ncreated_date = "Created Date"\nclosed_date = "Close Date"\n'
        'outcome = "Stage"\ndeal_stage = "Stage"\ndeal_amount = "Amount"\nlead_source = "Lead Source"\n'
        'sales_rep_id = "Opportunity Owner"\nindustry = "Industry"\nregion = "Region"\nproduct_type = "Product"\n'
        '[outcome]\nwon = ["Closed Won"]\nlost = ["Closed Lost"]\nothers_are = "open"\n')
    return {"deals": deals, "partial": partial, "opportunities": opportunities, "mapping": mapping,
            "missing": d / "no" / "such.csv"}


@pytest.fixture(scope="module")
def cli(files):
    runner = CLI()
    deals = files["deals"]
    # the slowest first: the console runs answer several commands each
    runner.plan("console", "--data", deals, stdin="\n".join(GARBLED) + "\n")
    runner.plan("console", "--data", deals, stdin="/winrate APAC\nhealth\n")
    runner.plan("console", "--data", deals, stdin=QUIT_SESSION)
    for line in ("/winrate APAC", "/winrate apca", "/winrat APAC", "/help", GARBLED[0]):
        runner.plan("ask", line, "--data", deals)
    runner.plan("ask", GARBLED[2], "--data", deals, "--format", "json")
    runner.plan("ask", "/winrate APAC", "--format", "json")
    runner.plan("ask", "/winrate APAC", "--data", deals, "--format", "json")
    runner.plan("ask", "/winrate APAC last quarter vs previous", "--data", deals, "--format", "json")
    runner.plan("ask", "/winrate by region last quarter vs previous", "--format", "json")
    runner.plan("ask", "/winrate APAC", "--data", deals, "--as-of", "2024-03-31")
    runner.plan("ask", "/winrate APAC", "--data", files["missing"])
    runner.plan("ask", "/winrate APAC", "--data", files["missing"], "--format", "json")
    runner.plan("ask", "/winrate", "--data", files["partial"])
    runner.plan("ask", "/health", "--data", files["opportunities"], "--mapping", files["mapping"])
    yield runner
    runner.pool.shutdown(wait=True)


def apac_counts(frame: pd.DataFrame, since: dt.date | None = None, until: dt.date | None = None) -> tuple[int, int]:
    closed = frame[(frame["outcome"] != "") & (frame["region"] == "APAC")]
    if since is not None:
        closed = closed[closed["closed_date"] >= pd.Timestamp(since)]
    if until is not None:
        closed = closed[closed["closed_date"] <= pd.Timestamp(until)]
    return int((closed["outcome"] == "Won").sum()), len(closed)


Q2 = (dt.date(2024, 4, 1), dt.date(2024, 6, 30))  # the period in question of the demo data (as of 2024-07-15)


# -- answers: exit 0 ----------------------------------------------------------------------------------------


def test_ask_answers_winrate_with_counts_interval_and_as_of(cli, files, frame):
    run = cli("ask", "/winrate APAC", "--data", files["deals"])
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    # plain /winrate answers about the period in question: the latest complete quarter
    won, n = apac_counts(frame, *Q2)
    assert (won, n) == (66, 315)
    first, footer = run.stdout.strip().splitlines()[0], run.stdout.strip().splitlines()[-1]
    assert first == f"*Win rate · APAC · 2024Q2* — 20.9% ({won} won of {n:,}; 95% CI 16.8–25.8%)"
    assert "data as of 2024-07-15" in footer and "by closed date" in footer
    assert "2024Q2 (2024-04-01 to 2024-06-30)" in footer


def test_ask_without_data_uses_the_bundled_demo_data(cli, files):
    bundled = cli("ask", "/winrate APAC", "--format", "json")
    generated = cli("ask", "/winrate APAC", "--data", files["deals"], "--format", "json")
    assert bundled.returncode == 0 and bundled.stderr == ""
    # data/deals.csv is write_csv(generate_deals(demo_spec())), so the answers agree exactly
    assert json.loads(bundled.stdout) == json.loads(generated.stdout)
    assert json.loads(bundled.stdout)["overall"]["n"] == 315
    assert BUNDLED.read_bytes() == files["deals"].read_bytes()


def test_json_has_the_documented_rate_keys_with_values_matching_the_data(cli, files, frame):
    run = cli("ask", "/winrate APAC", "--data", files["deals"], "--format", "json")
    assert run.returncode == 0 and run.stderr == ""
    result = json.loads(run.stdout)
    assert result["command"] == "winrate" and result["as_of"] == "2024-07-15"
    overall = result["overall"]
    assert RATE_KEYS <= set(overall)
    won, n = apac_counts(frame, *Q2)
    assert (overall["won"], overall["lost"], overall["n"]) == (won, n - won, n)
    assert overall["win_rate"] == round(won / n, 4)
    assert 0 <= overall["ci_low"] < overall["win_rate"] < overall["ci_high"] <= 1
    assert result["query"]["filters"] == {"region": ["APAC"]}
    assert result["change"] is None and result["compare_period"] is None


def test_json_with_vs_has_the_change_keys_and_finds_the_planted_apac_drop(cli, files):
    run = cli("ask", "/winrate APAC last quarter vs previous", "--data", files["deals"], "--format", "json")
    assert run.returncode == 0 and run.stderr == ""
    result = json.loads(run.stdout)
    assert result["period"] == {"start": "2024-04-01", "end": "2024-06-30", "label": "2024Q2", "complete": True,
                                "basis": "closed", "window_days": None}
    assert result["compare_period"]["label"] == "2024Q1"
    change = result["change"]
    assert CHANGE_KEYS <= set(change)
    assert RATE_KEYS <= set(change["baseline"])
    overall, baseline = result["overall"], change["baseline"]
    expected_pp = round(100 * (overall["won"] / overall["n"] - baseline["won"] / baseline["n"]), 2)
    assert change["change_pp"] == expected_pp < -15  # APAC falls from about 45% to 21% in 2024Q2
    assert change["significant"] is True and 0 <= change["p_value"] < 0.001


def test_json_by_region_with_vs_tests_each_region_against_its_own_past(cli):
    run = cli("ask", "/winrate by region last quarter vs previous", "--format", "json")
    assert run.returncode == 0 and run.stderr == ""
    result = json.loads(run.stdout)
    assert result["group_by"] == ["region"]
    groups = {g["label"]: g for g in result["groups"]}
    assert set(groups) == {"APAC", "Europe", "India", "North America"}
    assert sum(g["n"] for g in groups.values()) == result["overall"]["n"]
    for g in groups.values():
        assert RATE_KEYS <= set(g) and CHANGE_KEYS <= set(g["change"])
    significant = {label for label, g in groups.items() if g["change"]["significant"]}
    assert significant == {"APAC"}  # the planted drop, and only it
    assert CHANGE_KEYS <= set(result["change"])


def test_help_lists_every_command_and_exits_0(cli, files):
    run = cli("ask", "/help", "--data", files["deals"])
    assert run.returncode == 0 and run.stderr == ""
    assert set(REQUIRED_COMMANDS) <= set(COMMANDS)
    for name in COMMANDS:
        assert f"`/{name}" in run.stdout, name
    assert "/help COMMAND" in run.stdout


def test_as_of_changes_the_date_the_reply_states_and_the_deals_counted(cli, files, frame):
    run = cli("ask", "/winrate APAC", "--data", files["deals"], "--as-of", "2024-03-31")
    assert run.returncode == 0 and run.stderr == ""
    assert "data as of 2024-03-31" in run.stdout
    assert "2024-07-15" not in run.stdout
    # data that ends on a quarter's last day: that quarter is complete, and it is the one answered
    won, n = apac_counts(frame, dt.date(2024, 1, 1), dt.date(2024, 3, 31))
    assert "*Win rate · APAC · 2024Q1*" in run.stdout and f"({won} won of {n:,};" in run.stdout
    assert (won, n) == (124, 274)


def test_a_mapping_file_loads_a_salesforce_export(cli, files):
    run = cli("ask", "/health", "--data", files["opportunities"], "--mapping", files["mapping"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == ""
    assert "Rows read: 7,000 → 6,338 closed deals, 662 open, 0 set aside." in run.stdout


# -- the command text cannot be used: exit 2 ----------------------------------------------------------------


def test_unknown_command_suggests_the_closest_and_exits_2(cli, files):
    run = cli("ask", "/winrat APAC", "--data", files["deals"])
    assert run.returncode == 2 and run.stderr == ""
    assert "I don't know the command `winrat`. Did you mean `/winrate`?" in run.stdout
    for name in REQUIRED_COMMANDS:
        assert f"`/{name}`" in run.stdout


def test_unknown_commands_in_the_console_get_the_closest_or_the_list(cli, files):
    run = cli("console", "--data", files["deals"], stdin=QUIT_SESSION)
    assert "I don't know the command `trnd`. Did you mean `/trend`?" in run.stdout
    assert "I don't know the command `foo`.\nCommands: `/winrate`," in run.stdout  # nothing close: the list


def test_unknown_word_is_named_with_a_suggestion_and_exits_2(cli, files):
    run = cli("ask", "/winrate apca", "--data", files["deals"])
    assert run.returncode == 2 and run.stderr == ""
    assert '"apca" is not a segment, period or keyword I know. Did you mean APAC?' in run.stdout


def test_a_garbled_command_exits_2_without_a_traceback(cli, files):
    run = cli("ask", GARBLED[0], "--data", files["deals"])
    assert run.stderr == ""
    assert run.returncode == 2
    assert "I couldn't use all of" in run.stdout and '"✓" is not a segment' in run.stdout
    assert "Traceback" not in run.stdout


def test_a_period_outside_the_calendar_is_a_usage_problem_not_a_crash(cli, files):
    # regression: year 0 used to escape as a ValueError traceback (exit 1) from the period arithmetic
    run = cli("ask", GARBLED[2], "--data", files["deals"], "--format", "json")
    assert run.stderr == ""
    assert run.returncode == 2
    payload = json.loads(run.stdout)
    assert payload["kind"] == "usage"
    assert '"0000Q1" is not a period I can use' in payload["text"]


# -- the data cannot be used: exit 1 ------------------------------------------------------------------------


def test_a_missing_data_file_exits_1_naming_the_path(cli, files):
    run = cli("ask", "/winrate APAC", "--data", files["missing"])
    assert run.returncode == 1 and run.stderr == ""
    assert run.stdout.strip() == f":x: I can't use the deal data: No deal file at {files['missing']}."
    as_json = cli("ask", "/winrate APAC", "--data", files["missing"], "--format", "json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {"error": "data", "message": f"No deal file at {files['missing']}."}


def test_missing_columns_exit_1_naming_them(cli, files):
    run = cli("ask", "/winrate", "--data", files["partial"])
    assert run.returncode == 1 and run.stderr == ""
    assert "missing 1 required column(s): deal_amount." in run.stdout  # region may be missing; the amount may not
    assert "Columns found: deal_id, created_date," in run.stdout


# -- the console ------------------------------------------------------------------------------------------


def test_console_answers_commands_piped_on_stdin_and_exits_0_on_eof(cli, files):
    run = cli("console", "--data", files["deals"], stdin="/winrate APAC\nhealth\n")
    assert run.returncode == 0 and run.stderr == ""
    out = run.stdout
    assert out.startswith("Sales Intelligence console · 6,338 closed and 662 open deals")
    assert "*Win rate · APAC · 2024Q2* — 20.9% (66 won of 315;" in out
    assert "*Data health*" in out and "Rows read: 7,000" in out  # a command typed without its slash
    assert out.index("Win rate · APAC") < out.index("Data health")


def test_options_without_a_subcommand_open_the_console_on_that_data(cli, files):
    run = cli("--data", files["deals"], stdin="how is APAC doing lately?\n")
    assert run.returncode == 0 and run.stderr == ""
    assert run.stdout.startswith("Sales Intelligence console · 6,338 closed and 662 open deals")
    assert "_Read as: Trend of win rate · APAC" in run.stdout


def test_console_stops_at_quit(cli, files):
    run = cli("console", "--data", files["deals"], stdin=QUIT_SESSION)
    assert run.returncode == 0 and run.stderr == ""
    assert "*Win rate · Europe · 2024Q2*" in run.stdout
    assert "Data health" not in run.stdout


def test_console_survives_garbled_commands_without_a_traceback(cli, files):
    run = cli("console", "--data", files["deals"], stdin="\n".join(GARBLED) + "\n")
    assert run.returncode == 0
    assert run.stderr == ""
    assert "Traceback" not in run.stdout and "went wrong" not in run.stdout
    # every line but the long repetition of one known value is refused with the words it could not use
    assert run.stdout.count("I couldn't use all of") == len(GARBLED) - 1
    assert "*Win rate · North America · 2024Q2* —" in run.stdout


def test_a_chart_command_writes_its_png_and_prints_the_path(cli, files, tmp_path):
    out = cli("ask", "/trend APAC", "--data", files["deals"], "--chart-dir", tmp_path)
    assert out.returncode == 0 and out.stderr == ""
    # issue 9: every chart has its own file name, so /trend APAC no longer overwrites /trend
    written = sorted(tmp_path.glob("winrate-trend-apac-quarter-*.png"))
    assert len(written) == 1
    assert out.stdout.strip().splitlines()[-1] == f"Chart: {written[0]}"
    assert written[0].read_bytes().startswith(b"\x89PNG")
    plain = cli("ask", "/winrate APAC", "--data", files["deals"], "--chart-dir", tmp_path)
    assert "Chart:" not in plain.stdout


def test_cli_as_of_shows_the_pipeline_as_it_stood_and_its_own_backtest():
    run = subprocess.run([sys.executable, "-m", "bot", "ask", "/pipeline", "--as-of", "2024-03-31", "--format", "json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["as_of"] == "2024-03-31" and data["backtest"]["as_of"] == "2023-12-31"
    assert data["forecast"]["by_quarter"][0]["quarter"] == "2024Q2"
    assert len(data["deals"]) == data["open_deals"] > 662  # deals closed after March 31 are open again
