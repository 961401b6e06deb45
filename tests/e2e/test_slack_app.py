"""End to end: the real HTTP app (python -m bot, waitress + Bolt) receives signed Slack requests
and answers through a local stand-in for Slack's Web API, over real HTTP on 127.0.0.1."""
from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request

import pytest
from slack_harness import TOKEN, RunningApp, all_text, reply
from slack_sdk import WebClient
from slack_standin import SlackStandIn, block_errors

from bot.core.commands import ALL_COMMANDS
from bot.slack.manifest import declared_commands


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales", "C0ALERTS": "alerts"},
                      users={"U0CRO": "cro", "U0REP": "rep"}) as standin:
        yield standin


@pytest.fixture(scope="module")
def app(slack, database):
    running = RunningApp(slack, DATABASE_URL=database, HEALTH_TOKEN="health-token")
    yield running
    running.stop()


def completed_files(slack) -> list[dict]:
    """Uploads that finished all three steps of files_upload_v2, in order."""
    return [f for f in slack.files.values() if f.get("completed")]


EXPECTED = {
    "winrate": "Win rate", "trend": "Win rate trend", "why": "Why did the win rate change", "drivers": "What goes with winning",
    "risk": "Where we lose most", "funnel": "Where deals stop", "reps": "Who needs to act", "health": "Data health",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_command_acknowledges_fast_and_answers_through_response_url(app, slack, name):
    status, elapsed = app.command(slack, f"/{name}", name=f"every-{name}")
    assert status == 200
    assert elapsed < 1.0  # Slack's deadline is 3 s; the answer itself comes later
    message = reply(slack, f"every-{name}")
    assert message["response_type"] == "ephemeral"
    assert block_errors(message["blocks"]) == []
    assert EXPECTED[name] in all_text(message)
    assert any(b["type"] == "actions" for b in message["blocks"])  # "Share in channel"


def test_manifest_declares_every_command_the_app_serves():
    assert set(declared_commands()) == set(ALL_COMMANDS) | {"sales"}


def test_the_umbrella_command_gives_help_and_runs_commands(app, slack):
    app.command(slack, "/sales", "help", name="umbrella-help")
    assert "/winrate" in all_text(reply(slack, "umbrella-help"))
    app.command(slack, "/sales", "winrate APAC", name="umbrella-winrate")
    assert "Win rate · APAC" in all_text(reply(slack, "umbrella-winrate"))


def test_the_answer_carries_real_numbers(app, slack):
    app.command(slack, "/winrate", "APAC last quarter vs previous", name="numbers")
    text = all_text(reply(slack, "numbers"))
    assert "20.9% (66 won of 315" in text and "a significant drop" in text


def test_a_garbled_command_gets_help_not_a_traceback(app, slack):
    app.command(slack, "/winrate", "apca <script> & 2024Q9", name="garbled")
    text = all_text(reply(slack, "garbled"))
    assert "Did you mean APAC?" in text
    assert "&lt;script&gt; &amp;" in text and "<script>" not in text  # user text escaped for mrkdwn
    assert "Traceback" not in text


@pytest.mark.parametrize("case", ["unsigned", "bad_signature", "stale"])
def test_requests_not_signed_by_slack_are_refused(app, slack, case):
    kwargs = {"unsigned": {"signed": False}, "bad_signature": {"signature": "v0=" + "0" * 64},
              "stale": {"timestamp": int(time.time()) - 6 * 60}}[case]
    status, _ = app.command(slack, "/winrate", name=f"refused-{case}", **kwargs)
    assert status == 401
    time.sleep(0.3)
    assert not slack.responses.get(f"refused-{case}")


def test_a_retried_request_is_not_answered_twice(app, slack):
    status, _ = app.command(slack, "/health", name="retried", headers={"X-Slack-Retry-Num": "1",
                                                                     "X-Slack-Retry-Reason": "http_timeout"})
    assert status == 200
    time.sleep(0.5)
    assert not slack.responses.get("retried")


def test_a_rate_limited_reply_is_retried_and_arrives(app, slack):
    slack.fail_next("respond", status=429, retry_after=0)
    app.command(slack, "/health", name="limited")
    message = reply(slack, "limited")
    assert "Data health" in all_text(message)
    statuses = [c.status for c in slack.calls_to("respond") if c.path.endswith("/limited")]
    assert statuses == [429, 200]


def test_share_posts_the_answer_and_its_chart_in_the_channel(app, slack):
    app.command(slack, "/trend", "APAC", name="to-share")
    ephemeral = reply(slack, "to-share")
    button = next(b for b in ephemeral["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["action_id"] == "share_reply" and button["value"] == "/trend APAC"
    files_before = len(completed_files(slack))
    status, _ = app.interact(slack, {
        "type": "block_actions", "user": {"id": "U0CRO"}, "team": {"id": "T0TEST"},
        "channel": {"id": "C0SALES"}, "container": {"type": "message", "channel_id": "C0SALES"},
        "response_url": slack.response_url("shared"), "trigger_id": "t-share", "api_app_id": "A0APP",
        "actions": [{"action_id": "share_reply", "block_id": "b", "type": "button", "value": "/trend APAC",
                     "action_ts": str(time.time())}]})
    assert status == 200
    shared = reply(slack, "shared")
    assert shared["response_type"] == "in_channel"
    assert "Shared by <@U0CRO>" in all_text(shared)
    uploaded = slack.wait_for(lambda s: len(completed_files(s)) > files_before and completed_files(s)[-1], timeout=30)
    assert uploaded["channel_id"] == "C0SALES" and uploaded["bytes"].startswith(b"\x89PNG")
    assert uploaded["alt_txt"]


def test_in_a_direct_message_the_chart_comes_with_the_answer(app, slack):
    files_before = len(completed_files(slack))
    app.command(slack, "/why", channel="D0CRO", name="dm-why")
    reply(slack, "dm-why")
    uploaded = slack.wait_for(lambda s: len(completed_files(s)) > files_before and completed_files(s)[-1], timeout=30)
    assert uploaded["channel_id"] == "D0CRO" and uploaded["bytes"].startswith(b"\x89PNG")


def test_the_home_tab_shows_headline_freshness_and_rules(app, slack):
    assert app.event({"type": "app_home_opened", "user": "U0CRO", "channel": "D0CRO", "tab": "home"}) == 200
    view = slack.wait_for(lambda s: s.home_views.get("U0CRO"))
    text = all_text(view)
    assert view["type"] == "home" and block_errors(view["blocks"], max_blocks=100) == []
    assert "Win rate 2024Q2" in text and "a significant drop" in text
    assert "6,338 closed" in text and "Alert rules" in text


def test_healthz_reports_the_data_to_the_health_token(app):
    request = urllib.request.Request(app.url + "/healthz", headers={"Authorization": "Bearer health-token"})
    with urllib.request.urlopen(request, timeout=2) as r:
        body = json.loads(r.read())
    assert body["ok"] and body["as_of"] == "2024-07-15" and body["closed_deals"] == 6338


def test_access_lists_deny_politely(slack):
    limited = RunningApp(slack, ALLOWED_USERS="U0CRO,U0REP", REPS_USERS="U0CRO")
    try:
        limited.command(slack, "/winrate", user="U0STRANGER", name="denied-user")
        assert "not opened Sales Intelligence to you" in all_text(reply(slack, "denied-user"))
        limited.command(slack, "/reps", user="U0REP", name="denied-reps")
        assert "limited to sales managers" in all_text(reply(slack, "denied-reps"))
        limited.command(slack, "/reps", user="U0CRO", name="allowed-reps")
        assert "Who needs to act" in all_text(reply(slack, "allowed-reps"))
    finally:
        limited.stop()


def test_alert_rules_are_managed_from_slack(app, slack):
    app.command(slack, "/alerts", "", name="alerts-list")
    listed = all_text(reply(slack, "alerts-list"))
    assert "significant drop in any segment" in listed and "(default)" in listed
    app.command(slack, "/alerts", "add winrate region=APAC below 40%", name="alerts-add")
    added = all_text(reply(slack, "alerts-add"))
    assert "win rate of APAC below 40%" in added
    rule_id = added.split("`")[1]
    app.command(slack, "/alerts", f"mute {rule_id} 7d", name="alerts-mute")
    assert f"Muted rule `{rule_id}`" in all_text(reply(slack, "alerts-mute"))
    app.command(slack, "/alerts", "add sometimes", name="alerts-bad")
    assert "/alerts list" in all_text(reply(slack, "alerts-bad"))
    assert app.event({"type": "app_home_opened", "user": "U0REP", "channel": "D0REP", "tab": "home"}) == 200
    home = all_text(slack.wait_for(lambda s: s.home_views.get("U0REP")))
    assert "win rate of APAC below 40%" in home and "muted until" in home


def test_digest_preview_in_slack(app, slack):
    app.command(slack, "/digest", "", name="digest-preview")
    text = all_text(reply(slack, "digest-preview"))
    assert "Preview of the weekly digest" in text and "Weekly Sales Health" in text


def test_acknowledge_and_snooze_update_the_alert(app, slack, database):
    from insights.alerts import Finding

    from bot.store import Store

    store = Store.from_url(database)
    finding = Finding(rule_id=1, kind="drop", segment={"region": "APAC"}, label="APAC", period="2024Q2", value=0.2)
    store.claim_alert(finding, dt.datetime.now(dt.timezone.utc), dt.timedelta(days=7), 0.02)
    posted = WebClient(token=TOKEN, base_url=slack.api_url).chat_postMessage(
        channel="C0ALERTS", text="APAC dropped", blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "APAC dropped"}},
            {"type": "actions", "elements": [{"type": "button", "action_id": "alert_ack", "value": finding.fingerprint,
                                              "text": {"type": "plain_text", "text": "Acknowledge"}}]}])
    store.alert_posted(finding.fingerprint, "C0ALERTS", posted["ts"], dt.datetime.now(dt.timezone.utc))
    for action in ("alert_snooze", "alert_ack"):
        status, _ = app.interact(slack, {
            "type": "block_actions", "user": {"id": "U0CRO"}, "team": {"id": "T0TEST"},
            "channel": {"id": "C0ALERTS"}, "message": {"ts": posted["ts"], "text": "APAC dropped",
                                                        "blocks": posted["message"]["blocks"]},
            "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": posted["ts"]},
            "response_url": slack.response_url(action), "trigger_id": "t", "api_app_id": "A0APP",
            "actions": [{"action_id": action, "block_id": "b", "type": "button", "value": finding.fingerprint,
                         "action_ts": str(time.time())}]})
        assert status == 200
    updated = slack.wait_for(lambda s: len(s.calls_to("chat.update")) >= 2 and s.messages["C0ALERTS"][-1])
    assert "Acknowledged by <@U0CRO>" in all_text(updated)
    row = store.alert(finding.fingerprint)
    assert row["acknowledged_by"] == "U0CRO" and row["snoozed_until"] is not None
