"""Bad inputs an operator may hand the bot: wrongly typed mapping files and impossible data. Each gets
one clear message (or a counted set-aside), never a traceback, in the loader, the CLI, `http` and the clock."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from slack_harness import ROOT, clean_env

from insights.load import ColumnMapping, DataError
from insights.synthetic import DealSpec, generate_deals, write_csv

# -- 6. wrongly typed mapping files ------------------------------------------------------------------

BAD_MAPPINGS = {
    "columns_not_a_table": ('columns = "deal_id"\n', "`columns` must be a table"),
    "column_a_number": ("[columns]\ndeal_id = 5\n", "`columns.deal_id` must be a column name"),
    "outcome_a_string": ('outcome = "won"\n', "`outcome` must be a table"),
    "won_a_table": ("[outcome.won]\nyes = 1\n", "`outcome.won` must be a value or a list"),
    "others_are_a_number": ("[outcome]\nothers_are = 3\n", "`outcome.others_are` must be"),
    "dates_a_list": ("dates = [1, 2]\n", "`dates` must be a table"),
    "date_format_a_number": ("[dates]\nformat = 12\n", "`dates.format` must be a date format"),
    "dayfirst_a_string": ('[dates]\ndayfirst = "yes"\n', "`dates.dayfirst` must be true or false"),
    "absent_a_number": ("absent = 3\n", "`absent` must be a list"),
}


@pytest.fixture(scope="module")
def deals_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "deals.csv"
    write_csv(generate_deals(DealSpec(n_deals=1500, seed=5)), path)
    return path


def mapping_file(tmp_path, name):
    path = tmp_path / f"{name}.toml"
    path.write_text(BAD_MAPPINGS[name][0])
    return path


@pytest.mark.parametrize("name", sorted(BAD_MAPPINGS))
def test_a_wrongly_typed_mapping_is_one_clear_error(tmp_path, name):
    with pytest.raises(DataError) as raised:
        ColumnMapping.from_file(mapping_file(tmp_path, name))
    assert BAD_MAPPINGS[name][1] in str(raised.value)


def test_a_yaml_mapping_is_checked_the_same_way(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  - deal_id\n")
    with pytest.raises(DataError, match="`columns` must be a table, not a list"):
        ColumnMapping.from_file(path)


def run_bot(*args, **env):
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=clean_env(**env))


def test_the_cli_and_http_mode_say_what_is_wrong_without_a_traceback(tmp_path, deals_csv):
    path = mapping_file(tmp_path, "won_a_table")
    ask = run_bot("ask", "/winrate", "--data", str(deals_csv), "--mapping", str(path))
    assert ask.returncode == 1 and "Traceback" not in ask.stdout + ask.stderr
    assert "`outcome.won` must be a value or a list" in ask.stdout + ask.stderr
    http = run_bot("http", "--data", str(deals_csv), "--mapping", str(path), SLACK_BOT_TOKEN="xoxb-test",
                   SLACK_SIGNING_SECRET="s", SLACK_API_URL="http://127.0.0.1:9/", PORT="0",
                   DATABASE_URL=f"sqlite:///{tmp_path / 'state.sqlite'}")
    assert http.returncode == 1 and "Traceback" not in http.stdout + http.stderr
    assert "`outcome.won` must be a value or a list" in http.stdout + http.stderr


def test_the_clock_records_a_failed_refresh_and_alerts_on_a_bad_mapping(tmp_path, deals_csv):
    from slack_harness import TOKEN
    from slack_sdk import WebClient
    from slack_standin import SlackStandIn

    from bot.clock.alerting import AlertPolicy
    from bot.clock.digest import DigestSchedule
    from bot.clock.scheduler import Runtime, refresh_and_alert
    from bot.core.data import DealData
    from bot.store import Store

    store = Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}")
    data = DealData(str(deals_csv), str(mapping_file(tmp_path, "date_format_a_number")))
    with SlackStandIn(bot_token=TOKEN, channels={"C0ALERTS": "alerts"}) as slack:
        client = WebClient(token=TOKEN, base_url=slack.api_url)
        rt = Runtime(data, store, client, DigestSchedule(None), AlertPolicy("C0ALERTS"))
        posted = refresh_and_alert(rt, dt.datetime.now(dt.timezone.utc))
        assert [p.status for p in posted] == ["posted"]
        alert = slack.messages["C0ALERTS"][0]
        assert "refresh failed" in alert["blocks"][0]["text"]["text"]
        assert "dates.format" in alert["blocks"][0]["text"]["text"]
    last = store.last_refresh()
    assert last["ok"] is False and "`dates.format` must be a date format" in last["error"]
