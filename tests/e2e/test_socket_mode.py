"""End to end over Socket Mode: `python -m bot` as the worker, connected to a local WebSocket
stand-in (returned by the Web API stand-in's apps.connections.open), answering a DM, a follow-up
in its thread and a slash command, each acknowledged on the socket."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

import pytest
from slack_harness import ROOT, TOKEN, all_text, clean_env, reply
from slack_standin import SlackStandIn
from socket_standin import SocketStandIn

APP_TOKEN = "xapp-test"


@pytest.fixture(scope="module")
def socket():
    with SocketStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def slack(socket):
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales"}, users={"U0CRO": "cro"},
                      app_token=APP_TOKEN, socket_url=socket.url) as standin:
        yield standin


@pytest.fixture(scope="module")
def worker(slack, socket, tmp_path_factory):
    database = f"sqlite:///{tmp_path_factory.mktemp('state') / 'state.sqlite'}"
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, stdout=tempfile.TemporaryFile(),
                            stderr=subprocess.STDOUT,  # a file: an unread pipe would block the app when full
                            env=clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_APP_TOKEN=APP_TOKEN,
                                          SLACK_API_URL=slack.api_url, DATABASE_URL=database))
    try:
        socket.wait_connected()
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def event(text: str, ts: str, thread_ts: str | None = None) -> dict:
    body = {"type": "message", "channel_type": "im", "channel": "D0CRO", "user": "U0CRO", "text": text, "ts": ts}
    if thread_ts:
        body["thread_ts"] = thread_ts
    return {"type": "event_callback", "team_id": "T0TEST", "api_app_id": "A0APP", "event": body,
            "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time())}


def thread(slack, ts: str, count: int) -> list[dict]:
    return slack.wait_for(lambda s: (lambda m: m if len(m) >= count else None)(
        [m for m in s.messages.get("D0CRO", []) if m.get("thread_ts") == ts]), timeout=20)


def test_a_dm_and_its_follow_up_are_answered_over_socket_mode(worker, slack, socket):
    first = socket.send("events_api", event("why did win rate drop in APAC last quarter?", "1700000001.000100"))
    assert socket.acked(first)["envelope_id"] == first
    answer = thread(slack, "1700000001.000100", 1)[0]
    assert "Why did the win rate change? · APAC* — 2024Q2 against 2023Q2 to 2024Q1" in all_text(answer)
    socket.send("events_api", event("what about Europe?", "1700000002.000100", thread_ts="1700000001.000100"))
    follow = thread(slack, "1700000001.000100", 2)[1]
    assert "Why did the win rate change? · Europe*" in all_text(follow)


def test_a_slash_command_is_acknowledged_on_the_socket_and_answered(worker, slack, socket):
    envelope = socket.send("slash_commands", {
        "token": "legacy", "team_id": "T0TEST", "channel_id": "C0SALES", "user_id": "U0CRO",
        "command": "/winrate", "text": "APAC", "response_url": slack.response_url("socket-winrate"),
        "trigger_id": "t"})
    assert socket.acked(envelope)["envelope_id"] == envelope
    assert "Win rate · APAC · 2024Q2" in all_text(reply(slack, "socket-winrate", timeout=20))
    json.dumps(socket.acks)  # every acknowledgement is plain JSON


def test_a_redelivered_envelope_is_acknowledged_and_not_answered_again(worker, slack, socket):
    body = event("what drives wins?", "1700000003.000100")
    socket.acked(socket.send("events_api", body))
    thread(slack, "1700000003.000100", 1)
    socket.acked(socket.send("events_api", body, retry=1))
    socket.send("events_api", event("hello", "1700000004.000100"))  # a later message still gets its answer
    thread(slack, "1700000004.000100", 1)
    assert len([m for m in slack.messages["D0CRO"] if m.get("thread_ts") == "1700000003.000100"]) == 1
