"""Issue 9, day one for a Slack admin and a CRO: install and run without surprises, answers that
don't mislead at a glance. (The /follow and row-level access end-to-end tests are in test_follow.py
and test_segment_access.py.)"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import snapshot_of
from matplotlib.figure import Figure
from slack_harness import TOKEN
from slack_standin import SlackStandIn

from bot.core import charts
from bot.core.charts import chart_for
from bot.core.commands import ALL_COMMANDS, answer
from bot.core.render import money, redact
from bot.slack.manifest import manifest
from insights.drivers import drivers
from insights.kinds import AlertKind
from insights.query import Query
from insights.reps import rep_performance
from insights.synthetic import DealSpec
from insights.trend import trend
from insights.winrate import win_rate

ROOT = Path(__file__).resolve().parents[2]


def run_bot(*args, env=None, timeout=120):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "CONSOLE_STATE",
                                                                      "COMMAND_PREFIX", "CURRENCY"))}
    base.update(PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING", **(env or {}))
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=timeout)


# -- the manifest ---------------------------------------------------------------------------------

def test_the_manifest_prefixes_every_command_but_sales():
    data = yaml.safe_load(manifest("https://bot.example.com", prefix="sales-"))
    names = [c["command"] for c in data["features"]["slash_commands"]]
    assert "/sales" in names and "/sales-winrate" in names and "/sales-alerts" in names
    assert "/winrate" not in names and "/health" not in names
    assert sorted(names) == sorted(["/sales"] + [f"/sales-{c}" for c in ALL_COMMANDS])
    assert {c["url"] for c in data["features"]["slash_commands"]} == {"https://bot.example.com/slack/events"}
    assert data["settings"]["interactivity"]["request_url"] == "https://bot.example.com/slack/events"


def test_manifest_cli_rejects_a_url_without_https_and_takes_a_prefix():
    bad = run_bot("manifest", "--url", "http://bot.example.com")
    assert bad.returncode == 2 and "is not an https:// URL" in bad.stderr and bad.stdout == ""
    bare = run_bot("manifest", "--url", "bot.example.com")
    assert bare.returncode == 2 and "is not an https:// URL" in bare.stderr
    good = run_bot("manifest", "--url", "https://bot.example.com/", "--prefix", "sales-")
    assert good.returncode == 0, good.stderr
    data = yaml.safe_load(good.stdout)
    assert data["features"]["slash_commands"][0]["command"] == "/sales-winrate"
    assert data["features"]["slash_commands"][0]["url"] == "https://bot.example.com/slack/events"
    socket = run_bot("manifest", "--socket", "--prefix", "si-")
    assert socket.returncode == 0 and "/si-trend" in socket.stdout and "YOUR-HOST" not in socket.stdout


# -- the console's scratch state --------------------------------------------------------------------

def _rules(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select kind, threshold, origin from alert_rules where active").fetchall()


def test_the_console_never_writes_to_the_live_state_store_unless_told(tmp_path):
    live = tmp_path / "live.sqlite"
    env = {"DATABASE_URL": f"sqlite:///{live}", "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    added = run_bot("ask", "/alerts add winrate region=APAC below 40%", env=env)
    assert added.returncode == 0, added.stderr
    assert "win rate of APAC below 40%" in added.stdout
    muted = run_bot("ask", "/alerts mute 1 7d", env=env)
    assert "Muted rule `1`" in muted.stdout
    assert not live.exists()  # not even created
    scratch = tmp_path / "tmp" / "sales-intelligence-console" / "state.sqlite"
    assert ("winrate_below", 0.4, "user") in _rules(scratch)
    # the scratch copy persists between runs, so a script can add then list
    listed = run_bot("ask", "/alerts list", env=env)
    assert "win rate of APAC below 40%" in listed.stdout

    told = run_bot("ask", "/alerts add winrate region=Europe below 30%", "--state", "live", env=env)
    assert told.returncode == 0, told.stderr
    assert ("winrate_below", 0.3, "user") in _rules(live)
    assert ("winrate_below", 0.4, "user") not in _rules(live)
    by_env = run_bot("ask", "/alerts add gap 12pp", env={**env, "CONSOLE_STATE": "live"})
    assert by_env.returncode == 0 and ("lead_source_gap", 12.0, "user") in _rules(live)


def test_the_console_says_which_state_it_uses(tmp_path):
    env = {"TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot", "console"], cwd=ROOT, input="quit\n", capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert "a scratch copy for this console" in done.stdout and "--state live" in done.stdout


# -- Slack start-up ---------------------------------------------------------------------------------

def test_the_app_starts_without_the_token_warning(caplog, monkeypatch):
    from bot.config import Settings
    from bot.core.data import DealData
    from bot.slack.app import build_app

    with SlackStandIn(bot_token=TOKEN) as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)  # Bolt reads it by itself: the cause of the warning
        settings = Settings.from_env({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "s",
                                      "SLACK_API_URL": slack.api_url})
        with caplog.at_level(logging.DEBUG):
            app = build_app(settings, DealData(str(ROOT / "data" / "deals.csv")))
        assert app.client.token == TOKEN
    messages = [r.getMessage() for r in caplog.records]
    assert not any("will be unused" in m for m in messages), messages


# -- nothing from the server leaks into Slack -------------------------------------------------------

@pytest.mark.parametrize("text,shown,hidden", [
    ("No deal file at /srv/sales/data/deals.csv.", "No deal file at deals.csv.", "/srv/sales"),
    ("from `/home/app/exports/q2.parquet`", "from `q2.parquet`", "/home/app"),
    ("could not connect to postgresql://admin:s3cret@db.internal:5432/sales",
     "could not connect to postgresql://***@db.internal:5432/sales", "s3cret"),
    ("sqlite:////var/lib/si/state.sqlite", "sqlite:///…/state.sqlite", "/var/lib"),
    (r"Cannot read C:\Users\cro\deals.csv as csv", "Cannot read deals.csv as csv", "Users"),
    ("from `exports/2024/deals.parquet`", "from `deals.parquet`", "exports"),
])
def test_redact_hides_paths_and_credentials(text, shown, hidden):
    assert redact(text) == shown and hidden not in redact(text)


@pytest.mark.parametrize("text", ["/winrate APAC last quarter vs previous", "region=APAC,Europe 10k-25k 30-60d",
                                  "2024-01-01..2024-03-31", "see https://api.slack.com/apps", "/sales help",
                                  "rate/mix effects, 10k/25k", "`/winrate APAC all`"])
def test_redact_leaves_ordinary_replies_alone(text):
    assert redact(text) == text


# -- the CRO: /reps, charts, money ----------------------------------------------------------------

def test_reps_sort_lowest_after_luck_rate_first_with_a_matching_footnote(demo):
    r = rep_performance(demo, Query())
    keys = [(x.shrunk_win_rate, x.win_rate) for x in r.reps]
    assert keys == sorted(keys)
    reply = answer(demo, "/reps")
    assert "Sorted by the after-luck rate, lowest first." in reply.text
    table = reply.text.split("```")[1].splitlines()[2:]
    after_luck = [float(line.split()[4].rstrip("%")) for line in table if line.strip()]
    assert after_luck == sorted(after_luck)


def test_reps_with_no_spread_beyond_luck_sort_by_win_rate(noise):
    reply = answer(noise, "/reps 2024Q2")
    r = reply.result
    assert r.prior_strength is None  # every rep's after-luck estimate is the team rate
    rates = [x.win_rate for x in r.reps]
    assert rates == sorted(rates) and len(set(x.shrunk_win_rate for x in r.reps)) == 1
    assert "here all equal, so by win rate, lowest first" in reply.text


def test_every_chart_has_its_own_file_name(demo):
    everything = chart_for(trend(demo, Query()))
    apac = answer(demo, "/trend APAC")
    monthly = answer(demo, "/trend APAC monthly")
    names = {everything.unique_filename, chart_for(apac.result).unique_filename,
             chart_for(monthly.result).unique_filename}
    assert len(names) == 3
    assert chart_for(apac.result).unique_filename.startswith("winrate-trend-apac-quarter-")
    assert everything.unique_filename.startswith("winrate-trend-quarter-")


def test_the_console_writes_one_file_per_chart(tmp_path):
    for line in ("/trend", "/trend APAC"):
        done = run_bot("ask", line, "--chart-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and any("apac" in f for f in files)


def test_the_trend_chart_axis_starts_at_zero(demo, monkeypatch):
    drawn = {}
    monkeypatch.setattr(charts, "_render", lambda title, caption, draw: drawn.update(draw=draw, caption=caption)
                        or b"\x89PNG")
    chart_for(answer(demo, "/trend APAC").result)
    fig = Figure()
    ax = fig.add_subplot()
    drawn["draw"](fig, ax)
    low, high = ax.get_ylim()
    assert low == 0.0 and high > 40
    assert "y axis from 0%" in drawn["caption"]


def test_a_chart_carries_the_texts_caveats(noise):
    none = drivers(noise, Query())
    assert not any(d.significant for d in none.drivers)
    chart = chart_for(none)
    assert "no reliable drivers" in chart.title and chart.alt_text.startswith("No reliable drivers in this data.")
    censored = snapshot_of(DealSpec(n_deals=6000, seed=4, created_until=dt.date(2023, 12, 31)))
    t = chart_for(trend(censored, Query()))
    assert "Right-censored after 2023-12-31" in t.alt_text
    why = answer(censored, "/why 2024Q2 vs 2024Q1")
    assert ":warning:" in why.text  # the text warns ...
    bridge = chart_for(why.result)
    assert bridge is not None and "right-censored" in bridge.alt_text  # ... and so does its chart


def test_the_dollar_weighted_win_rate_is_won_amount_over_closed_amount(demo):
    r = win_rate(demo, answer(demo, "/winrate APAC 2024Q2").result.query)
    deals = demo.deals
    sel = deals[(deals.region == "APAC") & (deals.closed_date >= "2024-04-01") & (deals.closed_date <= "2024-06-30")]
    won = sel.loc[sel.outcome == "Won", "deal_amount"].sum()
    assert r.amount.closed_amount == pytest.approx(sel.deal_amount.sum(), abs=0.01)
    assert r.amount.won_amount == pytest.approx(won, abs=0.01)
    assert r.amount.amount_win_rate == pytest.approx(won / sel.deal_amount.sum(), abs=1e-4)
    assert r.amount.ci_low < r.amount.amount_win_rate < r.amount.ci_high
    by = win_rate(demo, answer(demo, "/winrate by region 2024Q2").result.query)
    for g in by.groups:
        part = deals[(deals.region == g.segment["region"]) & (deals.closed_date >= "2024-04-01")
                     & (deals.closed_date <= "2024-06-30")]
        assert g.amount.amount_win_rate == pytest.approx(
            part.loc[part.outcome == "Won", "deal_amount"].sum() / part.deal_amount.sum(), abs=1e-4)


def test_the_interval_of_the_dollar_weighted_rate_covers_it(demo):
    # equal amounts: the ratio estimator is the count-based rate and its interval is close to Wald's
    from insights.results import AmountRate

    a = AmountRate.of([1000.0] * 200, [True] * 80 + [False] * 120)
    assert a.amount_win_rate == 0.4
    se = (0.4 * 0.6 / 200) ** 0.5
    assert a.ci_low == pytest.approx(0.4 - 1.96 * se, abs=0.002) and a.ci_high == pytest.approx(0.4 + 1.96 * se, abs=0.002)


def test_winrate_and_the_digest_show_the_rate_by_amount(demo):
    text = answer(demo, "/winrate APAC last quarter vs previous").text
    assert "20.9% (66 won of 315" in text
    assert "By amount: 23.8% of the $10.8M closed was won ($2.6M;" in text
    grouped = answer(demo, "/winrate by region").text
    assert "by amount" in grouped
    from bot.core.digest import digest_text

    digest, _ = digest_text(demo)
    assert "*By amount 2024Q2*: 37.2% of the $39.9M closed was won" in digest


def test_the_currency_is_configurable(demo, monkeypatch):
    monkeypatch.setenv("CURRENCY", "EUR")
    assert money(1_250_000) == "€1.2M" or money(1_250_000) == "€1.3M"
    assert "€10.8M closed" in answer(demo, "/winrate APAC 2024Q2").text
    monkeypatch.setenv("CURRENCY", "CHF")
    assert money(12_000) == "CHF\u00a012k"
    monkeypatch.delenv("CURRENCY")
    assert money(12_000) == "$12k"
    done = run_bot("ask", "/risk", env={"CURRENCY": "GBP"})
    assert "£" in done.stdout and "$" not in done.stdout


def test_alert_kinds_are_one_enum_equal_to_their_stored_strings():
    assert AlertKind.parse("long-cycle") is AlertKind.LONG_CYCLE and AlertKind.parse("nonsense") is None
    assert AlertKind.DROP == "drop" and f"{AlertKind.WINRATE_BELOW}" == "winrate_below"
    assert AlertKind.WINRATE_BELOW.takes_threshold and not AlertKind.DROP.takes_threshold
    assert AlertKind.DROP.rate_valued and not AlertKind.LEAD_SOURCE_GAP.rate_valued


def test_a_dry_run_writes_nothing_to_the_live_store(tmp_path):
    live = tmp_path / "live.sqlite"
    done = run_bot("alerts", "--dry-run", env={"DATABASE_URL": f"sqlite:///{live}"})
    assert done.returncode == 0, done.stderr
    assert "rules" in done.stdout and not live.exists()
    with sqlite3.connect(live) as conn:  # a live store with only its rules table
        conn.execute("create table alert_rules (id integer primary key, kind text, filters text, threshold real, "
                     "origin text, created_by text, created_at timestamp, muted_until timestamp, active boolean)")
    run_bot("alerts", "--dry-run", env={"DATABASE_URL": f"sqlite:///{live}"})
    with sqlite3.connect(live) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    assert tables == {"alert_rules"}  # no tables created by a dry run


@pytest.mark.parametrize("amount,text", [(999, "$999"), (999_499, "$999k"), (999_600, "$1.0M"), (29_666_900_000, "$29.7B"),
                                         (999_940_000, "$999.9M"), (999_960_000, "$1.0B"), (-2_500_000_000, "\u22122.5B")])
def test_money_moves_to_the_next_unit_instead_of_printing_a_thousand_of_one(amount, text):
    assert money(amount) == text.replace("\u22122", "\u2212$2")
