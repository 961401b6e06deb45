"""The fault suite: real processes killed at the worst moment, on SQLite and PostgreSQL, against the
local Slack stand-in. Nothing here waits on a schedule longer than a short claim lease."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from slack_harness import ROOT, TOKEN, clean_env
from slack_standin import SlackStandIn
from conftest import POSTGRES, postgres_schema
from sqlalchemy import create_engine, text

LEASE = 12  # seconds: CLAIM_LEASE_SECONDS for the clocks below (the retry tick runs every 6 s)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """A DATABASE_URL the clock processes share, and an engine to read the ledger with."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
        yield url, create_engine(url)
        return
    with postgres_schema("si_fault") as (schema, _, engine):
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}", engine


def start_clock(slack: SlackStandIn, database_url: str, **settings) -> subprocess.Popen:
    """`python -m bot clock` with this week's digest due a minute ago (unless `settings` say otherwise)."""
    due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    env = clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_API_URL=slack.api_url, DATABASE_URL=database_url,
                    DIGEST_CHANNEL="C0DIGEST", DIGEST_DAY=due.strftime("%a").lower(), DIGEST_TIME=due.strftime("%H:%M"),
                    TIMEZONE="UTC", CLAIM_LEASE_SECONDS=str(LEASE))
    env.update(settings)
    return subprocess.Popen([sys.executable, "-m", "bot", "clock"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ledger(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT channel, period, status FROM digest_ledger"))]


def serve_history(slack: SlackStandIn) -> None:
    """conversations.history (newest first, with metadata) and conversations.open (D + the user's id)."""
    def history(params):
        with slack.lock:
            return {"ok": True, "messages": list(reversed(slack.messages.get(params["channel"], [])))}
    slack.add_method("conversations.history", history)
    slack.add_method("conversations.open", lambda params: {"ok": True, "channel": {"id": "D" + params["users"]}})


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


@pytest.mark.slow
def test_a_clock_killed_between_claim_and_post_posts_the_digest_once_after_restart(database):
    url, engine = database
    with SlackStandIn(bot_token=TOKEN, channels={"C0DIGEST": "sales"}) as slack:
        serve_history(slack)
        hold = slack.hold_next("chat.postMessage")  # the first digest post reaches Slack, unanswered
        first = start_clock(slack, url)
        try:
            assert hold.reached.wait(90), "the clock never tried to post the digest"
            rows = ledger(engine)
            assert len(rows) == 1 and rows[0][0] == "C0DIGEST" and rows[0][2] == "claimed"
            os.kill(first.pid, signal.SIGKILL)  # between claim and post: the post never completes
            first.wait(10)
        finally:
            hold.release.set()
            if first.poll() is None:
                first.kill()
        assert slack.messages.get("C0DIGEST", []) == [] and ledger(engine)[0][2] == "claimed"
        restarted = start_clock(slack, url)  # within the lease: its catch-up finds a live claim
        try:
            slack.wait_for(lambda s: s.messages.get("C0DIGEST"), timeout=LEASE * 2 + 60)
            time.sleep(LEASE)  # two more retry ticks: nothing posts twice
            digests = slack.messages["C0DIGEST"]
            assert len(digests) == 1
            assert "Weekly Sales Health" in digests[0]["blocks"][0]["text"]["text"]
            assert [r[2] for r in ledger(engine)] == ["posted"]
        finally:
            restarted.terminate()
            restarted.wait(10)
    engine.dispose()


def test_a_connection_reset_on_the_digest_chart_leaves_the_clock_running(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with SlackStandIn(bot_token=TOKEN, channels={"C0DIGEST": "sales"}) as slack:
        slack.reset_next("files.getUploadURLExternal", times=10)  # more than the client's retries
        clock = start_clock(slack, url)
        try:
            digest = slack.wait_for(lambda s: s.messages.get("C0DIGEST"), timeout=90)
            assert "Weekly Sales Health" in digest[0]["blocks"][0]["text"]["text"]
            time.sleep(LEASE)  # past the start-up steps and two retry ticks
            assert clock.poll() is None, f"the clock ended with {clock.returncode}"
            engine = create_engine(url)
            assert [(r[0], r[2]) for r in ledger(engine)] == [("C0DIGEST", "posted")]
            engine.dispose()
            assert len(slack.messages["C0DIGEST"]) == 1 and not slack.files  # the chart lost, the digest kept
        finally:
            clock.terminate()
            clock.wait(10)


def kill_after_slack_posts(slack: SlackStandIn, url: str, **settings) -> None:
    """Start a clock and kill -9 it once its first post is in Slack and before Slack's answer reaches
    it: the post made, the ledger still saying claimed."""
    hold = slack.hold_next("chat.postMessage", after=True)
    clock = start_clock(slack, url, **settings)
    try:
        assert hold.reached.wait(90), "the clock never posted"
        kill(clock)
    finally:
        hold.release.set()
        if clock.poll() is None:
            clock.kill()


def fired(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT fingerprint, status, ts FROM fired_alerts ORDER BY id"))]


@pytest.mark.slow
def test_a_clock_killed_after_slack_posted_an_alert_records_it_and_never_posts_it_twice(database):
    url, engine = database
    with SlackStandIn(bot_token=TOKEN, channels={"C0ALERTS": "alerts"}) as slack:
        serve_history(slack)
        kill_after_slack_posts(slack, url, DIGEST_CHANNEL="", ALERT_CHANNEL="C0ALERTS")
        assert len(slack.messages["C0ALERTS"]) == 1 and [r[1] for r in fired(engine)] == ["claimed"]
        in_flight = fired(engine)[0][0]
        restarted = start_clock(slack, url, DIGEST_CHANNEL="", ALERT_CHANNEL="C0ALERTS")
        try:
            # the rest are posted at start-up; the one in flight when the first clock died, after its lease
            slack.wait_for(lambda s: all(r[1] == "posted" for r in fired(engine)) and len(fired(engine)) > 1,
                           timeout=LEASE * 3 + 60)
            time.sleep(LEASE)  # more retry ticks: nothing is posted twice
            rows = fired(engine)
            fingerprints = [m["metadata"]["event_payload"]["fingerprint"] for m in slack.messages["C0ALERTS"]]
            assert sorted(fingerprints) == sorted(r[0] for r in rows)  # one post per alert, none twice
            held = next(r for r in rows if r[0] == in_flight)
            assert held[2] == slack.messages["C0ALERTS"][0]["ts"]  # recorded as the message the dead clock posted
        finally:
            restarted.terminate()
            restarted.wait(10)
    engine.dispose()


@pytest.mark.slow
def test_a_clock_killed_after_slack_posted_a_dm_follow_records_it_and_never_posts_it_twice(database):
    from bot.store import Store

    url, engine = database
    Store.from_url(url).add_follow("/winrate APAC", "daily", "U0CRO", "U0CRO")  # to the follower's DM
    due = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).strftime("%H:%M")
    with SlackStandIn(bot_token=TOKEN, channels={}, users={"U0CRO": "cro"}) as slack:
        serve_history(slack)
        kill_after_slack_posts(slack, url, DIGEST_CHANNEL="", FOLLOW_TIME=due)
        assert len(slack.messages["DU0CRO"]) == 1
        restarted = start_clock(slack, url, DIGEST_CHANNEL="", FOLLOW_TIME=due)
        try:
            def settled(_):
                with engine.connect() as conn:
                    return conn.execute(text("SELECT status, ts FROM follow_ledger")).all()
            rows = slack.wait_for(lambda s: [r for r in settled(s) if r[0] == "posted"], timeout=LEASE * 3 + 60)
            time.sleep(LEASE)
            assert len(slack.messages["DU0CRO"]) == 1  # found in the DM, recorded, not posted again
            assert rows[0][1] == slack.messages["DU0CRO"][0]["ts"]
        finally:
            restarted.terminate()
            restarted.wait(10)
    engine.dispose()
