"""DEALS_SOURCE=hubspot against a local stand-in of the CRM v3 endpoints (never the real service): the
pipelines decide open/won/lost and the stage order, search paging (and its 10,000 cap), incremental sync
by hs_lastmodifieddate into the state store, archived deals, 429s, and the local copy while HubSpot is down."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from hubspot_standin import HubSpotStandIn, hubspot_deals, owner_records
from conftest import reply_body
from sqlalchemy import create_engine

from bot.cli import source_cache, source_spec
from bot.config import Settings
from bot.core.commands import answer
from bot.core.data import DealData
from bot.store import SourceCache
from insights.load import DataError, load_deals
from insights.sources import SourceSpec, load_source
from insights.sources import hubspot
from insights.sources.hubspot import DEALS, cached_frame, default_mapping, properties_for
from insights.synthetic import demo_spec, generate_deals

SAME_AS_CANONICAL = ("/winrate by region", "/winrate by region last quarter vs previous", "/trend",
                     "/trend APAC by month", "/risk", "/drivers", "/reps", "/winrate APAC Enterprise")
EVERY = SAME_AS_CANONICAL + ("/funnel all", "/why", "/why APAC 2024Q2 vs 2023Q2", "/health", "/pipeline")


@pytest.fixture(scope="module")
def frame():
    return generate_deals(demo_spec())


@pytest.fixture
def hs(frame):
    owners, ids = owner_records(frame["sales_rep_id"].unique())
    with HubSpotStandIn() as standin:
        standin.owners = owners
        standin.put(hubspot_deals(frame, owners=ids))
        yield standin


def options(hs, **extra):
    return {"access_token": hs.token, "base_url": hs.url, "region_property": "region",
            "product_property": "product_family", "industry_property": "industry",
            "lead_source_property": "lead_source", "retries": "3", **extra}


def spec(hs, since="all", **extra) -> SourceSpec:
    return SourceSpec("hubspot", since=since, options=options(hs, **extra))


@pytest.fixture
def cache(tmp_path):
    return SourceCache(create_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"))


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def load(hs, cache, sleeps=None, **extra):
    s = spec(hs, **extra)
    client = hubspot.Client(s.options, sleep=Sleeps() if sleeps is None else sleeps)
    table, mapping = hubspot.read_hubspot(s, None, cache, client)
    from insights.load import from_table

    return from_table(table, mapping, s.describe())


@pytest.fixture(scope="module")
def canonical(demo_csv):
    return demo_csv


def searches(hs) -> int:
    return sum(1 for m, p in hs.log if p == "/crm/v3/objects/deals/search")


def test_a_full_sync_answers_as_the_csv_of_the_same_deals(hs, cache, canonical, tmp_path):
    s = load_source(spec(hs), cache=cache)
    assert s.report.set_aside == {} and s.report.rows_read == 7000
    assert len(s.deals) == 6338 and len(s.open_deals) == 662 and s.as_of == dt.date(2024, 7, 15)
    # 70 search pages of 100, sorted by hs_lastmodifieddate, the configured properties asked for
    assert hs.served == [100] * 70 and searches(hs) == 70
    first = hs.searches[0]
    assert first["filterGroups"] == [] and first["limit"] == 100 and "after" not in first
    assert first["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert first["properties"] == ["hs_object_id", "createdate", "closedate", "dealstage", "pipeline", "amount",
                                   "hubspot_owner_id", "hs_lastmodifieddate", "region", "product_family", "industry",
                                   "lead_source"]
    assert [b.get("after") for b in hs.searches[1:3]] == ["100", "200"]
    assert cache.state(DEALS)["rows"] == 7000 and cache.state(DEALS)["watermark"] == "2024-07-16T03:56:39.000Z"
    # stages and their order from the pipeline's definition (displayOrder), not from the data
    assert s.report.stage_order == ("Qualified", "Demo", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
    assert set(s.open_deals["deal_stage"].astype(str)) == {"Qualified", "Demo", "Proposal", "Negotiation"}
    for line in SAME_AS_CANONICAL:  # stage aside, the same answers as the demo CSV (owner names = rep ids)
        assert answer(s, line).text == answer(canonical, line).text, line
    # and every command exactly as the same deals exported to a CSV and read with the same mapping
    table, order = cached_frame(cache, properties_for(options(hs)))
    table.to_csv(tmp_path / "hubspot_deals.csv", index=False)
    from_csv = load_deals(tmp_path / "hubspot_deals.csv", default_mapping(options(hs), None, order))
    for line in EVERY:
        mine, theirs = answer(s, line), answer(from_csv, line)
        assert reply_body(mine.text) == reply_body(theirs.text), line
    assert "stage_outcome_only" in answer(s, "/funnel all").result.notes


def test_won_and_lost_come_from_the_pipeline_metadata_not_the_labels(hs, cache, frame):
    # rename the stages: "Signed" (closed, probability 1.0) is won, "Gone quiet" (closed, 0.0) lost
    stages = {s["id"]: s for s in hs.pipelines[0]["stages"]}
    pipeline = {**hs.pipelines[0], "stages": [{**stages["closedwon"], "label": "Signed"},
                                              {**stages["closedlost"], "label": "Gone quiet"},
                                              *[s for k, s in stages.items() if k not in ("closedwon", "closedlost")]]}
    hs.pipelines = [pipeline]
    s = load(hs, cache)
    assert s.report.stage_order[-2:] == ("Signed", "Gone quiet")
    assert int((s.deals["outcome"] == "Won").sum()) == int((frame["outcome"] == "Won").sum()) == 2623
    assert len(s.open_deals) == 662


def test_an_incremental_refresh_fetches_only_changed_deals_and_drops_archived_ones(hs, cache):
    first = load(hs, cache)
    hs.clear_log()
    ids = sorted(hs.deals)
    open_id = str(first.open_deals["deal_id"].iloc[0])
    closed_id = str(first.deals["deal_id"].iloc[0])
    in_lag = {i for i, d in hs.deals.items() if d["hs_lastmodifieddate"] >= "2024-07-16T03:51:39.000Z"}
    later = "2024-07-20T08:00:00.000Z"
    hs.put([{**hs.deals[open_id], "dealstage": "closedwon", "closedate": "2024-07-19T00:00:00Z",
             "hs_lastmodifieddate": later},
            {**hs.deals[ids[0]], "hs_object_id": "99000001", "hs_lastmodifieddate": later}])
    hs.archive(closed_id)
    second = load(hs, cache)
    stamp_filter = hs.searches[0]["filterGroups"][0]["filters"][0]
    # from the newest cached change less the search lag (300 s): 03:51:39Z, in epoch milliseconds
    assert stamp_filter == {"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                            "value": str(int(pd.Timestamp("2024-07-16T03:51:39Z").timestamp() * 1000))}
    # the 301 deals modified in those five minutes (03:51:39 to 03:56:39, one a second) again, and the two changes
    assert len(in_lag) == 301 and not in_lag & {open_id, closed_id}
    assert sum(hs.served) == 301 + 2 and searches(hs) == 4
    assert ("GET", "/crm/v3/objects/deals?archived=true&limit=100&properties=hs_object_id") in hs.log
    assert second.report.rows_read == 7000  # one archived, one added
    assert closed_id not in set(second.deals["deal_id"])
    assert second.deals.set_index("deal_id").loc[open_id, "outcome"] == "Won"
    assert second.as_of == dt.date(2024, 7, 19) and "99000001" in set(second.open_deals["deal_id"])
    assert cache.state(DEALS)["watermark"] == later
    hs.clear_log()
    third = load(hs, cache, search_lag_seconds="0")
    assert sum(hs.served) == 2 and third.report.rows_read == 7000  # only what was modified at the watermark


def test_more_than_the_search_cap_is_read_by_asking_again_from_the_last_change(hs, cache):
    hs.search_cap = 2500  # HubSpot's is 10,000; a small one here so that 7,000 deals need three queries
    s = load(hs, cache, search_cap="2500")
    assert s.report.rows_read == 7000 and cache.state(DEALS)["rows"] == 7000
    starts = [b["filterGroups"][0]["filters"][0]["value"] if b["filterGroups"] else None
              for b in hs.searches if "after" not in b]
    assert len(starts) == 3 and starts[0] is None  # the whole set, then from the newest change seen, twice
    assert all(int(b.get("after", 0)) < 2500 for b in hs.searches)  # never asked past the cap
    assert sum(hs.served) == 7000 + 2  # the deal at each restart's watermark comes again


def test_the_window_is_pushed_into_the_first_sync_s_searches(hs, cache, frame):
    hs.search_cap = 1000  # so that the window's 3,154 deals need four searches, each with the window
    s = load(hs, cache, since="2024-01-01", search_cap="1000")
    cut = str(int(pd.Timestamp("2024-01-01").tz_localize("UTC").timestamp() * 1000))
    window = [{"propertyName": "createdate", "operator": "GTE", "value": cut},
              {"propertyName": "closedate", "operator": "GTE", "value": cut}]
    assert hs.searches[0]["filterGroups"] == [{"filters": [w]} for w in window]
    restarts = [b for b in hs.searches if "after" not in b][1:]
    assert len(restarts) == 3
    for b in restarts:  # from the newest change seen, still within the window
        assert [g["filters"][-1] for g in b["filterGroups"]] == window
        assert all(g["filters"][0]["propertyName"] == "hs_lastmodifieddate" for g in b["filterGroups"])
    deals = hubspot_deals(frame)
    expected = sum(1 for d in deals if d["createdate"] >= "2024-01-01" or d["closedate"] >= "2024-01-01")
    assert s.report.rows_read == expected == 3154 and sum(hs.served) == expected + 3  # open deals closing in it too


def test_a_429_is_retried_after_the_wait_hubspot_asks_for(hs, cache):
    hs.fail_next("/crm/v3/objects/deals/search", 429, times=2, retry_after="2")
    hs.fail_next("/crm/v3/pipelines/deals", 502)
    sleeps = Sleeps()
    s = load(hs, cache, sleeps)
    assert s.report.rows_read == 7000
    assert sleeps == [0.5, 2.0, 2.0]  # the 502's own back-off, then Retry-After twice
    assert searches(hs) == 70 + 2


def test_hubspot_down_keeps_the_last_good_data_and_a_restart_answers_from_the_local_copy(hs, tmp_path):
    from bot.store import Store

    store = Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}")
    source = spec(hs, retries="2")
    data = DealData(source, cache=SourceCache(store.engine))
    assert data.refresh().ok
    good = data.current
    hs.fail_next("/crm/v3/objects/deals/search", 503, times=10)
    outcome = data.refresh()
    assert not outcome.ok
    assert "HubSpot is unavailable (HTTP 503 Service Unavailable) after 2 attempts" in outcome.error
    assert "local copy of 7,000 deals" in outcome.error and hs.token not in outcome.error
    assert data.current is good
    restarted = DealData(source, cache=SourceCache(store.engine))  # a new process while HubSpot is down
    hs.fail_next("/crm/v3/pipelines/deals", 503, times=10)
    assert not restarted.refresh().ok
    snapshot = restarted.current.snapshot
    assert len(snapshot.deals) == 6338 and "(local copy)" in snapshot.report.source
    assert snapshot.report.stage_order[0] == "Qualified"  # the pipelines come from the local copy too


def test_a_bad_token_names_the_setting_and_never_the_token(hs, cache):
    with pytest.raises(DataError) as caught:
        load_source(SourceSpec("hubspot", options={**options(hs), "access_token": "pat-na1-wrong-1234"}), cache=cache)
    assert "HUBSPOT_ACCESS_TOKEN" in str(caught.value) and "HTTP 401" in str(caught.value)
    assert "pat-na1-wrong-1234" not in str(caught.value)
    with pytest.raises(DataError, match="No HubSpot token: set HUBSPOT_ACCESS_TOKEN"):
        load_source(SourceSpec("hubspot", options={"base_url": hs.url}), cache=cache)
    with pytest.raises(DataError, match="needs the state store"):
        load_source(spec(hs), cache=None)
    with pytest.raises(DataError, match="HUBSPOT_PIPELINE 'Renewals' is neither the id nor the label"):
        load_source(spec(hs, pipeline="Renewals"), cache=cache)


def test_health_names_the_source_without_the_token(hs, cache):
    s = load_source(spec(hs), cache=cache)
    text = answer(s, "/health").text
    assert f"hubspot {hs.url} deals" in text and hs.token not in text
    assert DealData(spec(hs), cache=cache).source == f"hubspot {hs.url} deals"
    assert SourceSpec("hubspot").describe() == "hubspot https://api.hubapi.com deals"


def test_the_environment_configures_it(hs, tmp_path):
    env = {"DEALS_SOURCE": "hubspot", "HUBSPOT_ACCESS_TOKEN": hs.token, "HUBSPOT_BASE_URL": hs.url,
           "HUBSPOT_REGION_PROPERTY": "region", "HUBSPOT_OWNER_NAMES": "false", "DEALS_SINCE": "all",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'state.sqlite'}", "SALESFORCE_CLIENT_ID": "not-this-one"}
    settings = Settings.from_env(env)
    assert settings.hubspot == {"access_token": hs.token, "base_url": hs.url, "region_property": "region",
                                "owner_names": "false"}

    class Args:
        data, table, query, since = "hubspot", None, None, "all"

    s = load_source(source_spec(Args, settings), cache=source_cache(Args, settings))
    assert s.report.set_aside == {} and s.report.rows_read == 7000
    assert s.dimensions.count("region") == 1 and "industry" not in s.dimensions
    assert not [p for m, p in hs.log if p.startswith("/crm/v3/owners")]  # owner ids kept, no owners read
    assert set(s.deals["sales_rep_id"].astype(str)) <= {str(500 + k) for k in range(25)}


def test_the_local_copy_works_in_a_postgresql_state_store(hs):
    from conftest import postgres_schema

    with postgres_schema("si_hs") as (_, _, engine):
        assert load(hs, SourceCache(engine)).report.rows_read == 7000
        first = sorted(hs.deals)[0]
        hs.put([{**hs.deals[first], "amount": "1.0", "hs_lastmodifieddate": "2024-08-01T00:00:00.000Z"}])
        hs.clear_log()
        s = load(hs, SourceCache(engine), search_lag_seconds="0")  # a new process: the same copy
        assert sum(hs.served) == 2 and s.report.rows_read == 7000  # the deal at the watermark, and the change
        assert 1.0 in set(s.deals["deal_amount"]) | set(s.open_deals["deal_amount"])


def test_a_deal_at_a_stage_no_pipeline_has_is_set_aside_and_counted(hs, cache):
    first = sorted(hs.deals)[0]
    hs.put([{**hs.deals[first], "dealstage": "stage-deleted-since"}])
    s = load(hs, cache)
    assert s.report.rows_read == 7000 and s.report.set_aside == {"unknown_outcome": 1}
    assert first not in set(s.deals["deal_id"]) | set(s.open_deals["deal_id"])


def test_bad_settings_and_a_missing_scope_are_clear_errors(hs, cache):
    with pytest.raises(DataError, match="HUBSPOT_PAGE_SIZE 'lots' is not a whole number from 1 to 200"):
        load_source(spec(hs, page_size="lots"), cache=cache)
    with pytest.raises(DataError, match="HUBSPOT_RETRIES '0' is not a whole number from 1 to 20"):
        load_source(spec(hs, retries="0"), cache=cache)
    hs.fail_next("/crm/v3/owners", 403)
    with pytest.raises(DataError, match="HTTP 403.*scopes crm.objects.deals.read and crm.objects.owners.read") as caught:
        load_source(spec(hs), cache=cache)
    assert hs.token not in str(caught.value)


@pytest.mark.parametrize("json_body", [True, False])
def test_a_crm_that_echoes_the_request_in_its_error_never_puts_the_token_in_a_message(cache, json_body):
    """A server (or a proxy before it) that quotes the request back in its error body: the token it
    was sent must not reach the error that /health, /healthz and the data alert show."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            body = (json.dumps({"category": "VALIDATION_ERROR", "message": f"bad request; you sent Authorization: {auth}",
                                "echo": dict(self.headers)}) if json_body else f"<html>400: {self.headers}</html>")
            raw = body.encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "pat-na1-0123456789abcdef0123456789abcdef"
    try:
        with pytest.raises(DataError) as caught:
            load_source(SourceSpec("hubspot", since="all", options={
                "access_token": token, "base_url": f"http://127.0.0.1:{server.server_address[1]}"}), cache=cache)
    finally:
        server.shutdown()
    message = str(caught.value)
    assert "HTTP 400" in message and token not in message and "0123456789abcdef" not in message
    assert ("VALIDATION_ERROR" in message) == json_body and "<html>" not in message
