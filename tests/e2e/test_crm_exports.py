"""Deal data shaped like real CRM exports (insights/synthetic.crm_spec), end to end: absent segment
columns, open deals without an amount or a created date, lost deals zeroed to 0, the demo-data line,
the DEALS_SINCE window in /health and typed date columns that stay typed."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from insights.load import typed as load_typed
from slack_harness import ROOT, RunningApp, all_text, clean_env, reply
from slack_standin import SlackStandIn
from bot.config import BUNDLED_DEALS
from bot.core.commands import COMMANDS, answer
from bot.core.data import DealData
from bot.core.digest import digest_text
from bot.store import load_default_rules
from insights.alerts import AlertRule, evaluate
from insights.load import ColumnMapping, from_table, load_deals
from insights.schema import SOURCE_DIMENSIONS
from insights.sources import SourceSpec, load_source
from insights.synthetic import crm_spec, demo_spec, generate_deals, write_csv

LACKS = re.compile(r"_This data has no [^_]* column: (it is|they are) left out of every breakdown and search\._")
DEMO_LINE = "Built on generated demo data"


def default_rules() -> list[AlertRule]:
    return [AlertRule(k + 1, r["kind"], tuple((d, tuple(v)) for d, v in r.get("filters", {}).items()),
                      r.get("threshold")) for k, r in enumerate(load_default_rules(None))]


# -- absent segment columns ----------------------------------------------------------------------------

@pytest.mark.parametrize("absent", [(c,) for c in SOURCE_DIMENSIONS] + [SOURCE_DIMENSIONS],
                         ids=list(SOURCE_DIMENSIONS) + ["all"])
def test_every_command_the_digest_and_the_alerts_answer_with_segment_columns_absent(absent):
    frame = generate_deals(crm_spec(n_deals=4_000, absent_columns=absent))
    assert not set(absent) & set(frame.columns)
    s = from_table(frame, ColumnMapping(absent=absent))
    assert s.report.absent == absent
    for name in list(COMMANDS) + ["digest"]:
        reply = answer(s, f"/{name}")
        assert reply.kind == "answer", (name, reply.text)
        assert len(LACKS.findall(reply.text)) == 1, name  # said once, not per section
    text, _ = digest_text(s)
    assert len(LACKS.findall(text)) == 1
    evaluate(s, default_rules())  # no KeyError for a rule about a column the data lacks


def test_the_lacking_line_names_every_absent_column_once():
    absent = ("lead_source", "industry")
    s = from_table(generate_deals(crm_spec(n_deals=3_000, absent_columns=absent)), ColumnMapping(absent=absent))
    text = answer(s, "/risk").text
    assert text.count("_This data has no industry or lead source column: they are left out") == 1
    assert "lead source" not in text.split("_This data has no")[0].lower()
    asked = answer(s, "/winrate by source")  # asked for by name: the refusal says why
    assert asked.kind == "usage" and "This data has no industry or lead source column" in asked.text


def dry_run(command: str, *data: str, **env) -> tuple[int, str]:
    """`python -m bot <command> --dry-run`, as a user runs it: (exit code, stdout and stderr)."""
    done = subprocess.run([sys.executable, "-m", "bot", command, "--dry-run", *data], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=clean_env(**env))
    return done.returncode, done.stdout + done.stderr


def test_the_digest_and_alerts_dry_runs_exit_0_on_an_export_without_lead_source(tmp_path):
    # the case: a Salesforce report without a lead-source column crashed both with KeyError
    write_csv(generate_deals(crm_spec(n_deals=3_000, absent_columns=("lead_source",))), tmp_path / "deals.csv")
    (tmp_path / "mapping.toml").write_text('absent = ["lead_source"]\n')
    data = ("--data", str(tmp_path / "deals.csv"), "--mapping", str(tmp_path / "mapping.toml"))
    code, digest = dry_run("digest", *data)
    assert code == 0 and "Weekly Sales Health" in digest and len(LACKS.findall(digest)) == 1, digest
    code, alerts = dry_run("alerts", *data)
    assert code == 0 and "Traceback" not in alerts, alerts


# -- open deals without an amount or a created date are kept --------------------------------------------

@pytest.fixture(scope="module")
def crm_frame() -> pd.DataFrame:
    return generate_deals(crm_spec(n_deals=6_000))


@pytest.fixture(scope="module")
def crm(crm_frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("crm") / "deals.csv"
    write_csv(crm_frame, path)
    return load_deals(path)


def test_open_deals_without_an_amount_or_created_date_are_kept_and_counted(crm_frame, crm):
    is_open = crm_frame["outcome"] == ""
    blank_amount = is_open & (crm_frame["deal_amount"] == "")
    no_created = is_open & crm_frame["created_date"].isna()
    assert blank_amount.sum() > 100 and no_created.sum() > 10  # the generator made both shapes
    assert len(crm.open_deals) == is_open.sum()
    assert crm.report.set_aside == {}
    assert crm.report.open_without_amount == blank_amount.sum()
    assert crm.report.open_without_created == no_created.sum()
    with_amount = pd.to_numeric(crm_frame.loc[is_open & ~blank_amount, "deal_amount"]).sum()
    assert crm.open_amount.sum() == pytest.approx(with_amount)


def test_pipeline_and_risk_say_how_many_open_deals_have_no_amount(crm_frame, crm):
    is_open = crm_frame["outcome"] == ""
    n, blank = int(is_open.sum()), int((is_open & (crm_frame["deal_amount"] == "")).sum())
    phrase = f"in {n - blank:,} of {n:,} open deals; {blank:,} have no amount"
    pipeline = answer(crm, "/pipeline")
    assert pipeline.result.open_deals == n and pipeline.result.open_without_amount == blank
    assert phrase in pipeline.text and "nan" not in pipeline.text
    assert pipeline.text.splitlines()[0].endswith(phrase.split("; ")[1])  # the forecast starts a line of its own
    assert pipeline.result.forecast is not None and np.isfinite(pipeline.result.forecast.expected_won_amount)
    risk = answer(crm, "/risk")
    assert risk.result.open_deals == n and phrase in risk.text
    assert np.isfinite(risk.result.revenue_at_risk) and risk.result.revenue_at_risk > 0
    assert phrase in answer(crm, "/digest").text and phrase in answer(crm, "/deals open").text


def test_health_lists_kept_with_gaps_not_set_aside(crm):
    text = answer(crm, "/health").text
    assert "No rows were set aside." in text
    assert "Kept with gaps (counted as open deals, not set aside):" in text
    assert f"{crm.report.open_without_amount:,} open deals without an amount" in text
    assert f"{crm.report.open_without_created:,} open deals without a created date" in text


def test_deals_without_a_created_date_have_no_age_and_are_never_stalled(crm):
    result = answer(crm, "/pipeline").result
    no_age = [d for d in result.all_deals() if d.age_days is None]
    assert no_age and not any(d.stalled for d in no_age)
    assert "open -1 days" not in answer(crm, "/pipeline").text


def test_closed_deals_keep_todays_rules_for_a_missing_amount_or_created_date(crm_frame):
    broken = crm_frame.copy()
    won = broken.index[broken["outcome"] == "Won"][:3]
    broken.loc[won[:2], "deal_amount"] = ""
    broken.loc[won[2], "created_date"] = pd.NaT
    open_garbled = broken.index[broken["outcome"] == ""][0]
    broken.loc[open_garbled, "deal_amount"] = "not a number"  # written but unreadable: still set aside
    s = from_table(broken)
    assert s.report.set_aside == {"missing_amount": 3, "unparseable_created_date": 1}


# -- lost deals zeroed to 0 ----------------------------------------------------------------------------

def test_lost_deals_at_zero_are_detected_and_amount_rates_withheld(crm):
    assert crm.report.lost_amounts_zeroed
    assert "size_band" not in crm.dimensions  # every lost deal in the smallest band would "explain" losing
    winrate = answer(crm, "/winrate")
    assert "By amount" not in winrate.text and "100.0%" not in winrate.text
    assert winrate.result.amount is None and "lost_amounts_zeroed" in winrate.result.notes
    assert "Rates by amount are withheld" in winrate.text
    grouped = answer(crm, "/winrate by region").text
    assert "by amount" not in grouped.split("Rates by amount")[0].lower()
    digest = answer(crm, "/digest").text
    assert "*By amount" not in digest and digest.count("Rates by amount are withheld") == 1
    health = answer(crm, "/health").text
    assert health.count("lost deal is recorded with an amount of 0") == 1


def test_lost_deals_with_their_amounts_keep_every_amount_figure():
    s = from_table(generate_deals(crm_spec(n_deals=3_000, lost_amount_zero=False)))
    assert not s.report.lost_amounts_zeroed and "size_band" in s.dimensions
    text = answer(s, "/winrate").text
    assert "By amount:" in text and "withheld" not in text


def test_a_few_lost_deals_at_zero_are_ordinary_data():
    frame = generate_deals(demo_spec(n_deals=3_000))
    lost = frame.index[frame["outcome"] == "Lost"]
    frame.loc[lost[: len(lost) // 2], "deal_amount"] = 0
    assert not from_table(frame).report.lost_amounts_zeroed


# -- demo data says so ---------------------------------------------------------------------------------

def test_the_bundled_demo_data_says_so_in_every_reply_and_a_copy_elsewhere_does_not(tmp_path):
    demo = DealData(str(BUNDLED_DEALS))
    assert demo.refresh().ok and demo.current.snapshot.report.demo
    for name in list(COMMANDS) + ["digest"]:
        text = answer(demo.current.snapshot, f"/{name}").text
        assert text.count(DEMO_LINE) == 1 and "DEALS_SOURCE" in text, name
    findings = evaluate(demo.current.snapshot, default_rules())
    assert findings and all(f.demo for f in findings)
    from bot.clock.alerting import alert_text

    assert all(DEMO_LINE in alert_text(f) for f in findings)
    copy = tmp_path / "deals.csv"
    copy.write_bytes(BUNDLED_DEALS.read_bytes())
    real = DealData(str(copy))
    assert real.refresh().ok and not real.current.snapshot.report.demo
    assert DEMO_LINE not in answer(real.current.snapshot, "/winrate").text


def test_the_slack_app_on_the_demo_data_warns_at_start_and_says_so_in_replies_and_home(database):
    with SlackStandIn(bot_token="xoxb-test", channels={"C0SALES": "sales"}, users={"U0CRO": "cro"}) as slack:
        app = RunningApp(slack, DATABASE_URL=database)
        try:
            assert app.command(slack, "/winrate", "APAC", name="demo-winrate")[0] == 200
            assert DEMO_LINE in all_text(reply(slack, "demo-winrate"))
            app.event({"type": "app_home_opened", "user": "U0CRO", "channel": "D0CRO", "tab": "home"})
            assert DEMO_LINE in all_text(slack.wait_for(lambda s: s.home_views.get("U0CRO")))
        finally:
            app.stop()
        assert "DEALS_SOURCE is not set: answering from the bundled generated demo data" in app.output()


def test_the_slack_app_and_its_home_tab_answer_on_an_export_without_lead_source(database, tmp_path):
    write_csv(generate_deals(crm_spec(n_deals=3_000, absent_columns=("lead_source",))), tmp_path / "deals.csv")
    (tmp_path / "mapping.toml").write_text('absent = ["lead_source"]\n')
    with SlackStandIn(bot_token="xoxb-test", channels={"C0SALES": "sales"}, users={"U0CRO": "cro"}) as slack:
        app = RunningApp(slack, DATABASE_URL=database, DEALS_SOURCE=str(tmp_path / "deals.csv"),
                         DEALS_MAPPING=str(tmp_path / "mapping.toml"))
        try:
            for k, command in enumerate(("/risk", "/why", "/digest")):
                assert app.command(slack, command, "", name=f"absent-{k}")[0] == 200
                text = all_text(reply(slack, f"absent-{k}", timeout=30))
                assert len(LACKS.findall(text)) == 1 and DEMO_LINE not in text, command
            app.event({"type": "app_home_opened", "user": "U0CRO", "channel": "D0CRO", "tab": "home"})
            home = all_text(slack.wait_for(lambda s: s.home_views.get("U0CRO")))
            assert "This data has no lead source column" in home and "Alert rules" in home
        finally:
            app.stop()


def test_the_digest_and_alerts_dry_runs_on_the_demo_data_say_so(tmp_path):
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"  # no stored rules: the configured defaults
    code, digest = dry_run("digest", DATABASE_URL=state)
    assert code == 0 and digest.count(DEMO_LINE) == 1, digest
    code, alerts = dry_run("alerts", DATABASE_URL=state)
    assert code == 0 and "would fire now" in alerts and alerts.count(DEMO_LINE) >= 1, alerts


# -- the DEALS_SINCE window in /health -----------------------------------------------------------------

def test_health_names_the_window_and_the_rows_it_left_out(tmp_path):
    frame = generate_deals(demo_spec(n_deals=3_000))
    typed = frame.assign(created_date=frame["created_date"].dt.date,
                         closed_date=frame["closed_date"].dt.date.where(frame["closed_date"].notna(), None),
                         deal_amount=frame["deal_amount"].astype(float))
    undated = typed.index[typed["outcome"] == ""][:5]
    typed.loc[undated, "created_date"] = None  # open deals without any date: kept by the window, not cut unseen
    url = f"sqlite:///{tmp_path / 'deals.sqlite'}"
    typed.to_sql("deals", sa.create_engine(url), index=False, dtype={"created_date": sa.Date, "closed_date": sa.Date})
    since = dt.date(2024, 1, 1)
    inside = (frame["created_date"] >= pd.Timestamp(since)) | (frame["closed_date"] >= pd.Timestamp(since))
    inside[undated] = True
    s = load_source(SourceSpec(url, table="deals", since=since.isoformat()))
    assert s.report.window_since == since and s.report.rows_outside_window == int((~inside).sum()) > 0
    assert s.report.rows_read == int(inside.sum()) and s.report.open_without_created == 5
    text = answer(s, "/health").text
    assert (f"only deals created or closed on or after {since} were read (DEALS_SINCE; `all` reads every row): "
            f"{int((~inside).sum()):,} older rows were left out") in text
    everything = load_source(SourceSpec(url, table="deals", since="all"))
    assert everything.report.window_since is None and "Read window" not in answer(everything, "/health").text


# -- typed columns stay typed --------------------------------------------------------------------------

def texts_made(monkeypatch) -> list[str]:
    """The canonical columns the loader turns into text (a typed column should never be among them)."""
    made, original = [], load_typed.as_text
    monkeypatch.setattr(load_typed, "as_text", lambda column: made.append(column.name) or original(column))
    return made


def test_a_typed_date_parquet_file_answers_as_the_csv_without_a_round_trip_through_text(tmp_path, demo_csv,
                                                                                         monkeypatch):
    frame = generate_deals(demo_spec())
    table = pa.table({
        **{c: pa.array(frame[c].astype(str)) for c in frame.columns if c not in ("created_date", "closed_date",
                                                                                 "deal_amount", "sales_cycle_days")},
        "created_date": pa.array(frame["created_date"].dt.date, type=pa.date32()),
        "closed_date": pa.array(frame["closed_date"].dt.date.where(frame["closed_date"].notna(), None), type=pa.date32()),
        "deal_amount": pa.array(frame["deal_amount"].astype(float)),
        "sales_cycle_days": pa.array(pd.to_numeric(frame["sales_cycle_days"], errors="coerce")),
    })
    pq.write_table(table, tmp_path / "deals.parquet")
    made = texts_made(monkeypatch)
    s = load_deals(tmp_path / "deals.parquet")
    assert not {"created_date", "closed_date", "deal_amount", "sales_cycle_days"} & set(made)
    for line in ("/winrate by region", "/trend", "/why", "/risk", "/drivers", "/pipeline", "/health"):
        mine, theirs = answer(s, line), answer(demo_csv, line)
        if line == "/health":  # the source's name and the load time differ, nothing else
            assert mine.text.split("\n", 1)[1] == theirs.text.split("\n", 1)[1]
            continue
        assert mine.text == theirs.text, line


def test_python_dates_and_decimals_from_a_driver_become_typed_columns(monkeypatch):
    frame = generate_deals(demo_spec(n_deals=2_000))
    from decimal import Decimal

    as_driver = frame.assign(created_date=frame["created_date"].dt.date.astype(object),
                             closed_date=frame["closed_date"].dt.date.where(frame["closed_date"].notna(), None)
                             .astype(object),
                             deal_amount=[Decimal(str(a)) for a in frame["deal_amount"]])
    made = texts_made(monkeypatch)
    s = from_table(as_driver)
    assert not {"created_date", "closed_date", "deal_amount"} & set(made)
    assert answer(s, "/why").text == answer(from_table(frame), "/why").text
