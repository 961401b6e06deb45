"""/follow end to end: followed questions are managed in Slack through the running app (signed
requests, replies through response_url, the Home tab), and the clock posts each exactly once per
period into the channel or the DM, against the local Web API stand-in."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from slack_harness import ROOT, SECRET, TOKEN, RunningApp, all_text, clean_env, reply
from slack_sdk import WebClient
from slack_standin import SlackStandIn, block_errors

from bot.clock.follows import EVENT_TYPE, FollowSchedule, post_follows
from bot.clock.scheduler import FOLLOW_JOB, Runtime, build_scheduler, follows_now
from bot.clock.alerting import AlertPolicy
from bot.clock.digest import DigestSchedule
from bot.core.data import DealData
from bot.core.access import Policy
from bot.store import STALE_CLAIM, Store

TUESDAY_0930 = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)  # a Tuesday; ISO week 2026-W49
SCHEDULE = FollowSchedule("tue", "09:00", "UTC")  # weekly follows due Tuesdays 09:00, daily ones every day


def add_standin_methods(standin: SlackStandIn) -> None:
    def history(params):
        with standin.lock:
            return {"ok": True, "messages": list(reversed(standin.messages.get(params["channel"], [])))}

    def open_dm(params):
        return {"ok": True, "channel": {"id": "D" + params["users"][1:]}}

    standin.add_method("conversations.history", history)
    standin.add_method("conversations.open", open_dm)


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales", "C0APAC": "apac"},
                      users={"U0CRO": "cro", "U0VP": "vp"}) as standin:
        add_standin_methods(standin)
        yield standin


@pytest.fixture(scope="module")
def app(slack, database):
    running = RunningApp(slack, DATABASE_URL=database, COMMAND_PREFIX="sales-")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def data():
    d = DealData(str(ROOT / "data" / "deals.csv"))
    assert d.refresh().ok
    return d


def client_for(slack) -> WebClient:
    return WebClient(token=TOKEN, base_url=slack.api_url)


def test_follows_are_added_listed_muted_and_removed_in_slack(app, slack, database):
    app.command(slack, "/follow", "winrate APAC weekly dm", name="f-add-dm")
    added = all_text(reply(slack, "f-add-dm"))
    assert "Following `1` `/winrate APAC` weekly, in a direct message" in added
    app.command(slack, "/follow", "/trend Enterprise daily here", channel="C0SALES", name="f-add-here")
    assert "`/trend Enterprise` daily, in <#C0SALES>" in all_text(reply(slack, "f-add-here"))
    app.command(slack, "/follow", "/winrate Atlantis", name="f-bad")
    assert '"Atlantis" is not a segment' in all_text(reply(slack, "f-bad"))
    app.command(slack, "/follow", "/alerts list", name="f-admin")
    assert "Questions you can follow" in all_text(reply(slack, "f-admin"))
    app.command(slack, "/follow", "/why", user="U0VP", channel="C0APAC", name="f-vp")
    assert "Following `3` `/why` weekly, in <#C0APAC>" in all_text(reply(slack, "f-vp"))

    app.command(slack, "/follow", "list", name="f-list")
    listed = all_text(reply(slack, "f-list"))
    assert "`/winrate APAC` weekly" in listed and "`/trend Enterprise` daily" in listed
    assert "/why" not in listed  # the VP's follow is theirs, not the CRO's

    app.command(slack, "/follow", "remove 3", name="f-remove-other")  # not the CRO's to remove
    assert "You have no active follow `3`" in all_text(reply(slack, "f-remove-other"))
    app.command(slack, "/follow", "mute 2 7d", name="f-mute")
    assert "Muted follow `2` until" in all_text(reply(slack, "f-mute"))

    assert app.event({"type": "app_home_opened", "user": "U0CRO", "channel": "D0CRO", "tab": "home"}) == 200
    view = slack.wait_for(lambda s: s.home_views.get("U0CRO"))
    home = all_text(view)
    assert block_errors(view["blocks"], max_blocks=100) == []
    assert "Your followed questions" in home and "`/winrate APAC` weekly, in a direct message" in home
    assert "`/trend Enterprise` daily, in <#C0SALES> — muted until" in home and "`/why` weekly" not in home

    store = Store.from_url(database)
    rows = {f.id: (f.question, f.frequency, f.destination, f.user_id) for f in store.follows()}
    assert rows == {1: ("/winrate APAC", "weekly", "U0CRO", "U0CRO"),
                    2: ("/trend Enterprise", "daily", "C0SALES", "U0CRO"),
                    3: ("/why", "weekly", "C0APAC", "U0VP")}


def test_prefixed_command_names_work_and_sales_always_does(app, slack):
    app.command(slack, "/sales-winrate", "APAC", name="prefixed")
    assert "Win rate · APAC" in all_text(reply(slack, "prefixed"))
    app.command(slack, "/sales", "winrate APAC", name="umbrella")
    assert "Win rate · APAC" in all_text(reply(slack, "umbrella"))
    app.command(slack, "/sales-follow", "list", user="U0NOBODY", name="prefixed-follow")
    assert "Your followed questions" in all_text(reply(slack, "prefixed-follow"))


def test_follow_time_is_checked_at_start():
    from bot.config import Settings, validate_clock

    assert validate_clock(Settings(follow_time="8 o'clock")) == ["FOLLOW_TIME \"8 o'clock\" is not a time such as 09:00"]
    assert validate_clock(Settings(follow_time="07:30")) == []


@pytest.fixture
def store(tmp_path):
    s = Store.from_url(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield s
    s.engine.dispose()


def test_the_clock_posts_each_follow_once_per_period(store, slack, data):
    slack.clear()
    weekly = store.add_follow("/winrate APAC all", "weekly", "U0CRO", "U0CRO")
    daily = store.add_follow("/trend", "daily", "C0SALES", "U0CRO")
    client = client_for(slack)

    early = post_follows(client, store, data, SCHEDULE, TUESDAY_0930.replace(hour=8))
    assert {o.status for o in early} == {"not_due"}

    first = {o.follow_id: o for o in post_follows(client, store, data, SCHEDULE, TUESDAY_0930)}
    assert first[weekly].status == "posted" and first[weekly].period == "2026-W49"
    assert first[daily].status == "posted" and first[daily].period == "2026-12-01"
    dm = slack.messages["D0CRO"]
    assert len(dm) == 1 and block_errors(dm[0]["blocks"]) == []
    text = all_text(dm[0])
    assert "Followed weekly" in text and "`/winrate APAC all`" in text and "37.9% (616 won of 1,626" in text
    assert dm[0]["metadata"] == {"event_type": EVENT_TYPE, "event_payload": {"follow_id": weekly, "period": "2026-W49"}}
    channel = slack.messages["C0SALES"]
    assert len(channel) == 1 and "Win rate trend" in all_text(channel[0])
    chart = slack.wait_for(lambda s: [f for f in s.files.values() if f.get("completed")], timeout=20)
    assert chart[0]["channel_id"] == "C0SALES" and chart[0]["thread_ts"] == channel[0]["ts"]
    assert chart[0]["bytes"].startswith(b"\x89PNG")

    again = post_follows(client, store, data, SCHEDULE, TUESDAY_0930 + dt.timedelta(hours=3))
    assert {o.status for o in again} == {"already"}
    wednesday = post_follows(client, store, data, SCHEDULE, TUESDAY_0930 + dt.timedelta(days=1))
    statuses = {o.follow_id: o.status for o in wednesday}
    assert statuses == {weekly: "already", daily: "posted"}
    assert len(slack.messages["D0CRO"]) == 1 and len(slack.messages["C0SALES"]) == 2
    next_week = post_follows(client, store, data, SCHEDULE, TUESDAY_0930 + dt.timedelta(days=7))
    assert {o.follow_id: o.status for o in next_week} == {weekly: "posted", daily: "posted"}
    assert [r["period"] for r in store.follow_posts() if r["follow_id"] == weekly] == ["2026-W49", "2026-W50"]


def test_concurrent_clocks_post_a_follow_once(store, slack, data):
    slack.clear()
    store.add_follow("/health", "weekly", "C0SALES", "U0CRO")
    client = client_for(slack)
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.extend(post_follows(client, store, data, SCHEDULE,
                                                                            TUESDAY_0930))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) == ["already"] * 5 + ["posted"]
    assert len(slack.messages["C0SALES"]) == 1


def test_a_crashed_post_is_recovered_not_repeated(store, slack, data):
    slack.clear()
    follow_id = store.add_follow("/health", "weekly", "C0SALES", "U0CRO")
    client = client_for(slack)
    assert post_follows(client, store, data, SCHEDULE, TUESDAY_0930)[0].status == "posted"
    # the crash: the message went out but its record did not (the claim is left as "claimed")
    from sqlalchemy import update

    from bot.store import follow_ledger

    with store.engine.begin() as conn:
        conn.execute(update(follow_ledger).values(status="claimed", ts=None))
    later = TUESDAY_0930 + STALE_CLAIM + dt.timedelta(minutes=1)
    outcome = post_follows(client, store, data, SCHEDULE, later)[0]
    assert outcome.status == "recovered" and outcome.ts == slack.messages["C0SALES"][0]["ts"]
    assert len(slack.messages["C0SALES"]) == 1
    assert store.follow_posts()[0]["status"] == "posted" and store.follow_posts()[0]["follow_id"] == follow_id


def test_a_failed_post_is_retried_and_muted_or_denied_follows_are_not_posted(store, slack, data):
    slack.clear()
    ok = store.add_follow("/health", "weekly", "C0SALES", "U0CRO")
    muted = store.add_follow("/trend", "weekly", "C0SALES", "U0CRO")
    store.mute_follow(muted, TUESDAY_0930 + dt.timedelta(days=3))
    stranger = store.add_follow("/winrate", "weekly", "C0SALES", "U0GONE")
    reps = store.add_follow("/reps", "weekly", "C0SALES", "U0VP")
    access = Policy(users=frozenset({"U0CRO", "U0VP"}), managers=frozenset({"U0CRO"}))
    client = client_for(slack)
    slack.fail_next("chat.postMessage", status=500, retry_after=None, times=1)  # this client does not retry
    first = {o.follow_id: o.status for o in post_follows(client, store, data, SCHEDULE, TUESDAY_0930, access)}
    assert first == {ok: "failed", muted: "muted", stranger: "denied", reps: "denied"}
    second = {o.follow_id: o.status for o in post_follows(client, store, data, SCHEDULE,
                                                          TUESDAY_0930 + dt.timedelta(hours=1), access)}
    assert second[ok] == "posted" and second[muted] == "muted"
    assert len(slack.messages["C0SALES"]) == 1


def test_the_clock_schedules_the_follow_job(store, slack, data):
    rt = Runtime(data, store, client_for(slack), DigestSchedule(None), AlertPolicy(None),
                 follows=FollowSchedule("mon", "07:45", "Europe/London"))
    scheduler = build_scheduler(rt)
    scheduler.start(paused=True)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    scheduler.shutdown(wait=False)
    assert FOLLOW_JOB in jobs
    nxt = jobs[FOLLOW_JOB].trigger.get_next_fire_time(None, dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc))
    assert (nxt.date(), nxt.hour, nxt.minute) == (dt.date(2026, 12, 2), 7, 45)
    assert follows_now(Runtime(data, store, client_for(slack), DigestSchedule(None), AlertPolicy(None)),
                       TUESDAY_0930) == []  # no follow schedule, no follows posted


def test_the_clock_process_posts_a_due_follow_on_start(slack, tmp_path):
    slack.clear()
    db = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = Store.from_url(db)
    store.add_follow("/winrate APAC", "daily", "C0APAC", "U0VP")
    store.engine.dispose()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "clock"], cwd=ROOT, stdout=tempfile.TemporaryFile(),
                            stderr=subprocess.STDOUT,  # a file: an unread pipe would block the app when full
                            env=clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
                                          SLACK_API_URL=slack.api_url, DATABASE_URL=db, FOLLOW_TIME="00:00"))
    store = Store.from_url(db)
    try:
        posted = slack.wait_for(lambda s: s.messages.get("C0APAC"), timeout=60)
        deadline = time.time() + 15
        while time.time() < deadline and [r["status"] for r in store.follow_posts()] != ["posted"]:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert len(posted) == 1 and "Win rate · APAC" in all_text(posted[0])
    ledger = store.follow_posts()
    assert [(r["status"], r["channel"], r["ts"]) for r in ledger] == [("posted", "C0APAC", posted[0]["ts"])]
