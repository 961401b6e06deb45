"""Bad inputs an operator may hand the bot: wrongly typed mapping files and impossible data. Each gets
one clear message (or a counted set-aside), never a traceback, in the loader, the CLI, `http` and the clock."""
from __future__ import annotations

import datetime as dt
import re
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


# -- 9. impossible values: set aside with a counted reason, or refused with a message ------------------

def _csv(tmp_path, frame, name="deals.csv"):
    path = tmp_path / name
    write_csv(frame, path)
    return path


@pytest.fixture(scope="module")
def base_frame():
    return generate_deals(DealSpec(n_deals=1500, seed=5))


def test_a_placeholder_close_date_is_set_aside_not_the_as_of_date(tmp_path, base_frame):
    from insights.load import load_deals

    clean = load_deals(_csv(tmp_path, base_frame, "clean.csv"))
    frame = base_frame.copy()
    closed = frame.index[frame["outcome"] != ""][:3]
    frame.loc[closed, "closed_date"] = "2099-12-31"
    frame.loc[frame.index[-1], "created_date"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    s = load_deals(_csv(tmp_path, frame))
    assert s.as_of == clean.as_of and s.as_of < dt.date.today()
    assert s.report.set_aside.get("future_closed_date") == 3
    assert s.report.set_aside.get("future_created_date") == 1
    assert s.report.closed_range[1] == clean.report.closed_range[1]


def test_an_infinite_amount_is_set_aside_and_never_printed(tmp_path, base_frame):
    from insights.load import load_deals

    from bot.core.commands import answer

    frame = base_frame.copy()
    frame["deal_amount"] = frame["deal_amount"].astype(object)
    frame.loc[frame.index[:2], "deal_amount"] = ["inf", "-inf"]
    frame.loc[frame.index[2], "sales_cycle_days"] = "inf"
    s = load_deals(_csv(tmp_path, frame))
    assert s.report.set_aside.get("non_finite_amount") == 2 and s.report.set_aside.get("bad_cycle_days") == 1
    assert np_all_finite(s.deals["deal_amount"]) and np_all_finite(s.open_deals["deal_amount"])
    for line in ("/risk", "/winrate by size", "/health", "/digest"):
        text = answer(s, line).text
        assert re.search(r"(?<![a-z_])inf(?![a-z_])", text.lower()) is None, line  # no "$infM", "inf%"
    assert "deal_amount is infinite" in answer(s, "/health").text


def np_all_finite(series) -> bool:
    import numpy as np

    return bool(np.isfinite(series.to_numpy(dtype=float)).all())


def test_a_duplicated_header_is_refused_by_name(tmp_path, base_frame):
    from insights.load import from_table, load_deals

    path = _csv(tmp_path, base_frame)
    lines = path.read_text().splitlines()
    lines[0] += ",Region"
    path.write_text("\n".join(line + ",x" if i else line for i, line in enumerate(lines)) + "\n")
    with pytest.raises(DataError, match="more than one column named 'Region'"):
        load_deals(path)
    twice = base_frame.assign(**{"deal_amount ": base_frame["deal_amount"]})
    with pytest.raises(DataError, match="more than one column named"):
        from_table(twice)


def test_a_gzip_bomb_is_stopped_at_the_limit_quickly(tmp_path, monkeypatch):
    import gzip

    from insights.load import load_deals, read

    path = tmp_path / "bomb.csv.gz"
    header = b"deal_id,created_date,closed_date,sales_rep_id,industry,region,product_type,lead_source,deal_stage," \
             b"deal_amount,sales_cycle_days,outcome\n"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header)
        block = b"0" * (1 << 20)
        for _ in range(64):  # 64 MB of zeros: a few hundred kB on disk
            f.write(block)
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(read, "MAX_TABLE_BYTES", 16 << 20)
    started = dt.datetime.now()
    with pytest.raises(DataError, match="decompresses to more than 16 MB"):
        load_deals(path)
    assert (dt.datetime.now() - started).total_seconds() < 5


def test_a_huge_sparse_file_is_refused_with_a_message(tmp_path):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(2 * (1 << 30) + 1)  # 2 GB of nothing, without writing it
    from insights.load import load_deals

    with pytest.raises(DataError) as raised:
        load_deals(path)
    assert "is 2.0 GB; the largest file read is 1.0 GB" in str(raised.value)
