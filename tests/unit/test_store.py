"""The state store on a SQLite file, in-process: the ledgers' claims (what exactly-once rests on),
alert re-claims, follows and their owners, thread context and feedback. PostgreSQL runs the same
claims under contention in tests/integration/test_clock.py."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine

from insights.alerts import Finding
from insights.kinds import AlertKind

from bot.store import Store

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.timezone.utc)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def store(tmp_path):
    s = Store(create_engine(f"sqlite:///{tmp_path / 'state.sqlite'}"), lease=dt.timedelta(minutes=2))
    s.create()
    return s


def test_a_period_is_claimed_once_then_taken_over_only_after_a_failure_or_the_lease(store):
    ledger = store.digest_ledger("C0SALES", "2026-W50")
    first = ledger.claim(NOW)
    assert (first.owned, first.recovering) == (True, False)
    assert not ledger.claim(NOW + MINUTE).owned  # a second run inside the lease waits
    left = ledger.claim(NOW + 3 * MINUTE)  # the first run died between claiming and recording
    assert (left.owned, left.recovering) == (True, True)
    ledger.posted("C0SALES", "1700000000.000100", NOW + 3 * MINUTE)
    done = ledger.claim(NOW + 60 * MINUTE)
    assert (done.owned, done.status, done.ts) == (False, "posted", "1700000000.000100")
    assert [(r["status"], r["ts"]) for r in store.digests()] == [("posted", "1700000000.000100")]


def test_a_failed_post_may_be_claimed_again_at_once(store):
    ledger = store.follow_ledger(7, "2026-12-07")
    assert ledger.claim(NOW).owned
    ledger.failed()
    again = ledger.claim(NOW + dt.timedelta(seconds=1))
    assert again.owned and again.recovering  # recovering: look whether the failure had reached Slack
    ledger.posted("D0DM", "1.2", NOW)
    assert [(r["follow_id"], r["period"], r["status"], r["channel"]) for r in store.follow_posts()] == [
        (7, "2026-12-07", "posted", "D0DM")]


def test_ledgers_of_different_keys_do_not_touch_each_other(store):
    assert store.digest_ledger("C0SALES", "2026-W50").claim(NOW).owned
    assert store.digest_ledger("C0OTHER", "2026-W50").claim(NOW).owned
    assert store.digest_ledger("C0SALES", "2026-W51").claim(NOW).owned
    store.digest_ledger("C0OTHER", "2026-W50").failed()
    assert sorted((r["channel"], r["period"], r["status"]) for r in store.digests()) == [
        ("C0OTHER", "2026-W50", "failed"), ("C0SALES", "2026-W50", "claimed"), ("C0SALES", "2026-W51", "claimed")]


def _finding(value: float) -> Finding:
    return Finding(rule_id=1, kind=AlertKind.DROP, segment={"region": "APAC"}, label="APAC", period="2026Q4",
                   value=value, details={})


def test_an_alert_is_said_again_only_when_worse_by_the_margin_or_after_the_cooldown(store):
    week = dt.timedelta(days=7)
    ledger = store.alert_ledger(_finding(0.30), week, margin=0.02)
    assert ledger.claim(NOW).owned
    ledger.posted("C0ALERTS", "9.1", NOW)
    assert not store.alert_ledger(_finding(0.29), week, 0.02).claim(NOW + MINUTE).owned  # 1 pp worse: already said
    assert store.alert_ledger(_finding(0.27), week, 0.02).claim(NOW + 2 * MINUTE).owned  # 3 pp worse: said again
    store.alert_ledger(_finding(0.27), week, 0.02).posted("C0ALERTS", "9.2", NOW + 2 * MINUTE)
    assert not store.alert_ledger(_finding(0.27), week, 0.02).claim(NOW + 3 * dt.timedelta(days=1)).owned
    assert store.alert_ledger(_finding(0.27), week, 0.02).claim(NOW + 8 * dt.timedelta(days=1)).owned
    row = store.alert(_finding(0.27).fingerprint)
    assert (row["fire_count"], row["ts"], row["channel"]) == (2, "9.2", "C0ALERTS")


def test_follows_belong_to_their_owner(store):
    mine = store.add_follow("/winrate APAC", "weekly", "C0SALES", "U0ME")
    theirs = store.add_follow("/trend", "daily", "U0YOU", "U0YOU")
    assert [f.id for f in store.follows("U0ME")] == [mine]
    assert not store.remove_follow(theirs, "U0ME")  # not mine: nothing changes
    assert not store.mute_follow(theirs, NOW + dt.timedelta(days=7), "U0ME")
    assert store.mute_follow(mine, NOW + dt.timedelta(days=7), "U0ME")
    assert store.follows("U0ME")[0].muted(NOW) and not store.follows("U0ME")[0].muted(NOW + dt.timedelta(days=8))
    assert store.remove_follow(mine, "U0ME") and store.follows("U0ME") == []
    assert [(f.id, f.to_dm) for f in store.follows()] == [(theirs, True)]


def test_a_thread_keeps_its_latest_command_until_it_goes_stale(store):
    assert store.thread_line("C0", "1.1", NOW) is None
    store.remember_thread("C0", "1.1", "/winrate APAC", "U0ME", NOW)
    store.remember_thread("C0", "1.1", "/why APAC", "U0ME", NOW + MINUTE)
    assert store.thread_line("C0", "1.1", NOW + 2 * MINUTE) == "/why APAC"
    assert store.thread_line("C0", "2.2", NOW) is None
    assert store.thread_line("C0", "1.1", NOW + 2 * MINUTE, ttl=dt.timedelta(seconds=30)) is None


def test_feedback_lists_the_misreads_newest_first_and_counts_every_verdict(store):
    store.record_feedback("how are we doing", "/trend", "right", "U0ME", NOW)
    store.record_feedback("is partner better", "/winrate", "wrong", "U0ME", NOW + MINUTE)
    store.record_feedback("asdf", None, "unread", "U0ME", NOW + 2 * MINUTE)
    assert [r["question"] for r in store.misread()] == ["asdf", "is partner better"]
    assert store.feedback_counts() == {"right": 1, "wrong": 1, "unread": 1}
