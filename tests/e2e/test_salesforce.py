"""DEALS_SOURCE=salesforce against a local stand-in of the REST endpoints (never the real service):
token, queryAll with nextRecordsUrl pages, incremental sync by SystemModstamp into the state store,
an expired session, 503s, and the bot answering from its local copy while Salesforce is down."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from salesforce_standin import SalesforceStandIn, opportunities
from conftest import reply_body
from sqlalchemy import create_engine

from bot.core.commands import answer
from bot.core.data import DealData
from bot.store import SalesforceCache
from insights.load import DataError, load_deals
from insights.sources import SourceSpec, load_source
from insights.sources.salesforce import CACHE_NAME, Client, default_mapping
from insights.synthetic import demo_spec, generate_deals

SAME_AS_CANONICAL = ("/winrate by region", "/winrate by region last quarter vs previous", "/trend",
                     "/trend APAC by month", "/risk", "/drivers", "/reps", "/winrate APAC Enterprise")
EVERY = SAME_AS_CANONICAL + ("/funnel all", "/why", "/why APAC 2024Q2 vs 2023Q2", "/health")


@pytest.fixture(scope="module")
def frame():
    return generate_deals(demo_spec())


@pytest.fixture
def sf(frame):
    with SalesforceStandIn(page_size=1000) as standin:
        standin.put(opportunities(frame))
        yield standin


def options(sf, **extra):
    return {"login_url": sf.url, "client_id": sf.client_id, "client_secret": sf.client_secret,
            "region_field": "Region__c", "product_field": "Product_Family__c", "retries": "3", **extra}


def spec(sf, **extra) -> SourceSpec:
    return SourceSpec("salesforce", since="all", options=options(sf, **extra))


@pytest.fixture
def cache(tmp_path):
    return SalesforceCache(create_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"))


def no_sleep(_):
    pass


def load(sf, cache, **extra):
    from insights.sources import salesforce

    original = salesforce.Client
    salesforce.Client = lambda opts: original(opts, sleep=no_sleep)  # retries without waiting
    try:
        return load_source(spec(sf, **extra), cache=cache)
    finally:
        salesforce.Client = original


@pytest.fixture(scope="module")
def canonical(demo_csv):
    return demo_csv


def test_a_full_sync_answers_as_the_csv_of_the_same_deals(sf, cache, canonical, frame, tmp_path):
    s = load(sf, cache)
    assert s.report.set_aside == {} and s.report.rows_read == 7000
    assert len(s.deals) == 6338 and len(s.open_deals) == 662 and s.as_of == dt.date(2024, 7, 15)
    # 7 pages of 1,000 records, each nextRecordsUrl followed; the fields asked for are the configured ones
    assert sf.served == [1000] * 7 and len(sf.queries) == 1
    assert sf.queries[0].startswith("SELECT Id, CreatedDate, CloseDate, StageName, IsClosed, IsWon, Amount, LeadSource, "
                                    "Owner.Name, Account.Industry, Region__c, Product_Family__c, SystemModstamp")
    assert "WHERE" not in sf.queries[0]  # since=all: no window
    assert cache.state(CACHE_NAME)["rows"] == 7000
    for line in SAME_AS_CANONICAL:  # stage aside (Closed Won / Closed Lost), the same answers as the demo CSV
        assert answer(s, line).text == answer(canonical, line).text, line
    # and every command exactly as the same Opportunities exported to a CSV and read with the same mapping
    export = pd.DataFrame([{k: v for k, v in r.items() if k != "SystemModstamp"} for r in opportunities(frame)])
    export["CreatedDate"] = export["CreatedDate"].str.slice(0, 10)
    export.to_csv(tmp_path / "opportunities.csv", index=False)
    from_csv = load_deals(tmp_path / "opportunities.csv", default_mapping(options(sf), None))
    for line in EVERY:
        mine, theirs = answer(s, line), answer(from_csv, line)
        assert reply_body(mine.text) == reply_body(theirs.text), line
    assert "stage_outcome_only" in answer(s, "/funnel all").result.notes


def test_a_refresh_fetches_only_what_changed_and_sees_deletions(sf, cache, frame):
    first = load(sf, cache)
    assert cache.state(CACHE_NAME)["watermark"] == "2024-07-16T03:56:39.000+0000"  # the 7000th record's stamp
    sf.clear_log()
    open_id = first.open_deals["deal_id"].iloc[0]
    closed_id = first.deals["deal_id"].iloc[0]
    later = "2024-07-20T08:00:00.000+0000"
    won = {**sf.records[open_id], "IsClosed": True, "IsWon": True, "StageName": "Closed Won",
           "CloseDate": "2024-07-19", "SystemModstamp": later}
    gone = {**sf.records[closed_id], "IsDeleted": True, "SystemModstamp": later}
    new = {**sf.records[open_id], "Id": "006NEW0000000001", "SystemModstamp": later}
    sf.put([won, gone, new])
    second = load(sf, cache)
    assert "SystemModstamp >= 2024-07-16T03:56:39Z" in sf.queries[0]  # from the newest cached stamp
    assert sum(sf.served) == 1 + 3  # the newest cached record again (>=: nothing missed), and the three changes
    assert second.report.rows_read == 7000  # one deleted, one added
    assert closed_id not in set(second.deals["deal_id"])
    assert second.deals.set_index("deal_id").loc[open_id, "outcome"] == "Won"
    assert second.as_of == dt.date(2024, 7, 19)
    assert "006NEW0000000001" in set(second.open_deals["deal_id"])
    sf.clear_log()
    third = load(sf, cache)
    assert "SystemModstamp >= 2024-07-20T08:00:00Z" in sf.queries[0] and sum(sf.served) == 3
    assert third.report.rows_read == 7000


def test_an_expired_session_is_renewed_and_the_sync_carries_on(sf, cache):
    sf.expire_sessions(after_pages=3)
    s = load(sf, cache)
    assert s.report.rows_read == 7000 and sf.issued == 2  # logged in, then once more after the 401
    assert sf.served == [1000] * 7
    assert [p for m, p in sf.log if m == "POST"] == ["/services/oauth2/token"] * 2


def test_an_expired_access_token_without_a_connected_app_says_what_to_set(sf, cache):
    opts = {"instance_url": sf.url, "access_token": "00Dexpired!token", "region_field": "Region__c",
            "product_field": "Product_Family__c"}
    with pytest.raises(DataError, match="SALESFORCE_ACCESS_TOKEN\\) has expired") as caught:
        load_source(SourceSpec("salesforce", since="all", options=opts), cache=cache)
    assert "00Dexpired" not in str(caught.value)
    # a valid token works without any login
    sf.tokens.add("00Dvalid!token")
    opts["access_token"] = "00Dvalid!token"
    s = load_source(SourceSpec("salesforce", since="all", options=opts), cache=cache)
    assert s.report.rows_read == 7000 and sf.issued == 0


def test_a_503_is_retried(sf, cache):
    sf.fail_next("/queryAll", 503, times=2)
    s = load(sf, cache)
    assert s.report.rows_read == 7000
    assert [p for m, p in sf.log if "/queryAll" in p].__len__() == 3


def test_salesforce_down_keeps_the_last_good_data_raises_the_data_alert_and_a_restart_answers_from_the_cache(
        sf, tmp_path, frame):
    from bot.clock.alerting import AlertPolicy, findings_now
    from bot.store import Store

    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = Store.from_url(url)
    source = spec(sf, retries="2")
    data = DealData(source, cache=SalesforceCache(store.engine))
    assert data.refresh().ok
    good = data.current
    sf.fail_next("/queryAll", 503, times=10)
    outcome = data.refresh()
    assert not outcome.ok and "Salesforce is unavailable (HTTP 503 Service Unavailable) after 2 attempts" in outcome.error
    assert "local copy of 7,000 opportunities" in outcome.error
    assert data.current is good  # the last good data stays
    now = dt.datetime.now(dt.timezone.utc)
    store.record_refresh(now, now, False, 0, 0, outcome.error)
    findings = findings_now(store, data.current.snapshot, now, AlertPolicy("C0ALERTS"), outcome.error)
    assert [f.details["problem"] for f in findings if f.kind == "data"] == ["refresh_failed"]
    assert "Salesforce is unavailable" in findings[-1].details["error"] if findings else False

    restarted = DealData(source, cache=SalesforceCache(store.engine))  # a new process while Salesforce is down
    sf.fail_next("/queryAll", 503, times=10)
    assert not restarted.refresh().ok
    assert restarted.current is not None and len(restarted.current.snapshot.deals) == 6338
    assert "(local copy)" in restarted.current.snapshot.report.source


def test_without_a_cache_or_credentials_the_error_says_what_to_do(sf, cache):
    with pytest.raises(DataError, match="needs the state store"):
        load_source(spec(sf), cache=None)
    with pytest.raises(DataError, match="No Salesforce credentials: set SALESFORCE_CLIENT_ID"):
        load_source(SourceSpec("salesforce", options={"login_url": sf.url}), cache=cache)
    with pytest.raises(DataError, match="HTTP 400.*invalid_client") as caught:
        load_source(SourceSpec("salesforce", options={**options(sf), "client_secret": "wrong-secret"}), cache=cache)
    assert "wrong-secret" not in str(caught.value)


def test_the_source_is_named_without_secrets(sf, cache):
    s = load(sf, cache)
    text = answer(s, "/health").text
    assert f"salesforce {sf.url} Opportunity" in text
    assert sf.client_secret not in text and "token" not in text.lower()
    assert DealData(spec(sf), cache=cache).source == f"salesforce {sf.url} Opportunity"


def test_the_first_sync_pushes_the_window_into_soql(sf, cache, frame):
    client = Client(options(sf), sleep=no_sleep)
    from insights.sources.salesforce import read_salesforce

    table, _ = read_salesforce(SourceSpec("salesforce", since="2024-01-01", options=options(sf)), None, cache, client)
    assert "WHERE (CreatedDate >= 2024-01-01T00:00:00Z OR CloseDate >= 2024-01-01)" in sf.queries[0]
    expected = sum(1 for r in opportunities(frame) if r["CreatedDate"] >= "2024-01-01" or r["CloseDate"] >= "2024-01-01")
    assert len(table) == expected and client.logins == 1


def test_a_different_field_list_resyncs_in_full(sf, cache):
    load(sf, cache)
    sf.clear_log()
    s = load(sf, cache, product_field="none")
    assert "WHERE" not in sf.queries[0] and sum(sf.served) == 7000
    assert "product_type" not in s.dimensions and "Product_Family__c" not in sf.queries[0]


def test_the_local_copy_works_in_a_postgresql_state_store(sf):
    from conftest import postgres_schema

    with postgres_schema("si_sf") as (_, _, engine):
        cache = SalesforceCache(engine)
        assert load(sf, cache).report.rows_read == 7000
        sf.put([{**sf.records["D0000001"], "Amount": 1.0, "SystemModstamp": "2024-08-01T00:00:00.000+0000"}])
        sf.clear_log()
        s = load(sf, SalesforceCache(engine))  # a new process: the same copy
        assert sum(sf.served) == 2 and s.report.rows_read == 7000
        assert 1.0 in set(s.deals["deal_amount"]) | set(s.open_deals["deal_amount"])


# -- the JWT bearer flow: a key made here, its public half "uploaded" to the stand-in ---------------------
def rsa_key_file(path) -> tuple[str, bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.write_bytes(pem)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return str(path), public


@pytest.fixture
def jwt_sf(sf, tmp_path):
    key_file, public = rsa_key_file(tmp_path / "server.key")
    sf.jwt_public_key = public
    sf.key_file = key_file
    return sf


def jwt_options(sf, key_file=None):
    return {"login_url": sf.url, "client_id": sf.client_id, "username": sf.username,
            "private_key_file": key_file or sf.key_file, "region_field": "Region__c",
            "product_field": "Product_Family__c", "retries": "2"}


def test_a_jwt_flow_sync_answers_as_the_csv(jwt_sf, cache, canonical):
    s = load_source(SourceSpec("salesforce", since="all", options=jwt_options(jwt_sf)), cache=cache)
    assert jwt_sf.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"] and jwt_sf.issued == 1
    assert s.report.rows_read == 7000 and len(s.deals) == 6338 and len(s.open_deals) == 662
    for line in SAME_AS_CANONICAL:
        assert answer(s, line).text == answer(canonical, line).text, line


def test_a_wrong_key_names_the_setting_to_fix_and_never_the_key(jwt_sf, cache, tmp_path):
    other, _ = rsa_key_file(tmp_path / "other.key")
    with pytest.raises(DataError) as caught:
        load_source(SourceSpec("salesforce", since="all", options=jwt_options(jwt_sf, other)), cache=cache)
    message = str(caught.value)
    assert "Salesforce refused the JWT bearer login (invalid_grant: invalid assertion)" in message
    assert "SALESFORCE_PRIVATE_KEY_FILE" in message and "SALESFORCE_CLIENT_ID" in message
    key_text = open(other).read()
    assert "PRIVATE KEY-----\n" not in message and key_text.splitlines()[1] not in message
    assert jwt_sf.issued == 0
    # a file that is not a key, and one that is not there, say so before anything is sent
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(DataError, match="junk.key is not an RSA private key in PEM form"):
        load_source(SourceSpec("salesforce", options=jwt_options(jwt_sf, str(tmp_path / "junk.key"))), cache=cache)
    with pytest.raises(DataError, match="SALESFORCE_PRIVATE_KEY_FILE .*missing.key cannot be read"):
        load_source(SourceSpec("salesforce", options=jwt_options(jwt_sf, str(tmp_path / "missing.key"))), cache=cache)
    assert jwt_sf.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]  # only the wrong key's attempt


def test_an_expired_assertion_is_refused_with_the_clock_named(jwt_sf, cache):
    jwt_sf.clock_offset = 600  # Salesforce's clock ten minutes ahead: the three-minute assertion has expired
    with pytest.raises(DataError, match=r"invalid_grant: expired authorization code\).*clock is correct"):
        load_source(SourceSpec("salesforce", since="all", options=jwt_options(jwt_sf)), cache=cache)
    jwt_sf.clock_offset = 0
    assert load_source(SourceSpec("salesforce", since="all", options=jwt_options(jwt_sf)),
                       cache=cache).report.rows_read == 7000


def test_an_expired_session_re_logs_in_with_a_new_jwt(jwt_sf, cache):
    jwt_sf.expire_sessions(after_pages=3)
    s = load_source(SourceSpec("salesforce", since="all", options=jwt_options(jwt_sf)), cache=cache)
    assert s.report.rows_read == 7000 and jwt_sf.served == [1000] * 7
    assert jwt_sf.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"] * 2 and jwt_sf.issued == 2
    assert [p for m, p in jwt_sf.log if m == "POST"] == ["/services/oauth2/token"] * 2
