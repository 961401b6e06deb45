"""The web process as the network treats it: clients that hang up mid-reply, hundreds of idle
connections, replayed requests, malformed signed events. The real `python -m bot http` as a
subprocess, over real sockets, against the local Slack stand-in."""
from __future__ import annotations

import socket
import struct
import time
import urllib.parse

import pytest
from slack_harness import SECRET, TOKEN, RunningApp, reply
from slack_sdk.signature import SignatureVerifier
from slack_standin import SlackStandIn


HEALTH_TOKEN = "health-test-token"


@pytest.fixture(scope="module")
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales"}, users={"U0CRO": "cro"}) as standin:
        yield standin


@pytest.fixture(scope="module")
def app(slack, database):
    running = RunningApp(slack, DATABASE_URL=database, ALLOWED_USERS="U0CRO", HEALTH_TOKEN=HEALTH_TOKEN)
    yield running
    running.stop()


def signed_command(slack, name: str, text: str = "", user: str = "U0CRO") -> bytes:
    """A whole signed HTTP request for a slash command, as bytes for a raw socket."""
    body = urllib.parse.urlencode({"command": "/health", "text": text, "user_id": user, "channel_id": "C0SALES",
                                   "team_id": "T0TEST", "response_url": slack.response_url(name),
                                   "trigger_id": f"t-{name}"})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return (f"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {signature}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def assert_still_answers(app, slack, name: str):
    assert app.proc.poll() is None, f"the web process ended with {app.proc.returncode}"
    status, elapsed = app.command(slack, "/health", "", name=name)
    assert status == 200 and elapsed < 3.0
    assert "deal" in reply(slack, name)["text"].lower()


def test_clients_that_hang_up_before_reading_the_reply_leave_the_process_answering(app, slack):
    for k in range(5):
        # many pipelined requests, then gone: the replies after the first are written to a closed socket
        with socket.create_connection(("127.0.0.1", app.port)) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n" * 200)
        with socket.create_connection(("127.0.0.1", app.port)) as s:
            s.sendall(signed_command(slack, f"hangup-{k}") * 3)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, not a close
        time.sleep(0.2)
    assert_still_answers(app, slack, "after-hangups")


def test_hundreds_of_idle_connections_do_not_stop_acknowledgements(app, slack):
    idle = []
    try:
        for k in range(300):
            s = socket.create_connection(("127.0.0.1", app.port))
            if k % 2:
                s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")  # headers begun, never finished
            idle.append(s)
        time.sleep(0.5)
        assert_still_answers(app, slack, "among-idle")
    finally:
        for s in idle:
            s.close()


def dm_event(user: str, text: str, channel: str) -> dict:
    return {"type": "message", "channel_type": "im", "channel": channel, "user": user, "text": text,
            "ts": f"{time.time():.6f}"}


def test_long_messages_from_an_outsider_cost_nothing_and_acks_stay_fast(app, slack):
    slowest = 0.0
    for k in range(16):
        started = time.perf_counter()
        assert app.event(dm_event("U0OUTSIDER", "a b " * 25_000, "D0OUT")) == 200  # 100,000 characters
        slowest = max(slowest, time.perf_counter() - started)
        status, elapsed = app.command(slack, "/health", "", name=f"among-long-{k}")
        slowest = max(slowest, elapsed)
        assert status == 200
    assert slowest < 1.0
    refusals = slack.wait_for(lambda s: len(s.messages.get("D0OUT", [])) >= 16 and s.messages["D0OUT"])
    assert all("not opened Sales Intelligence to you" in m["text"] for m in refusals)
    for k in range(16):
        assert "deal" in reply(slack, f"among-long-{k}")["text"].lower()


def test_an_allowed_users_over_long_message_is_refused_in_words_unread(app, slack):
    assert app.event(dm_event("U0CRO", "APAC " * 20_000, "D0LONG")) == 200
    refusal = slack.wait_for(lambda s: s.messages.get("D0LONG"))[0]
    assert "100,000 characters long; I read at most 5,000" in refusal["text"]


def test_an_answer_rate_limited_in_the_body_is_retried_and_arrives(app, slack):
    slack.fail_next("chat.postMessage", status=200, error="ratelimited", retry_after=None)
    assert app.event(dm_event("U0CRO", "what is our win rate?", "D0LIMITED")) == 200
    answer = slack.wait_for(lambda s: s.messages.get("D0LIMITED"), timeout=15)[0]
    assert "Win rate" in answer["text"] or "win rate" in answer["text"].lower()
    posts = [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == "D0LIMITED"]
    assert [c.error for c in posts] == ["ratelimited", None]


def test_a_replayed_signed_request_is_answered_once(app, slack):
    import json

    body = urllib.parse.urlencode({"command": "/health", "text": "", "user_id": "U0CRO", "channel_id": "C0SALES",
                                   "team_id": "T0TEST", "response_url": slack.response_url("replayed"),
                                   "trigger_id": "t-replayed"})
    timestamp = int(time.time())
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=str(timestamp), body=body)
    for _ in range(5):  # the same bytes, the same signature, well within its five minutes
        assert app.post(body, timestamp=timestamp, signature=signature)[0] == 200
    reply(slack, "replayed")
    time.sleep(1.0)
    assert len(slack.responses["replayed"]) == 1

    event = dm_event("U0CRO", "what is our win rate?", "D0REPLAY")
    for k in range(3):  # one event, re-signed each time (as only Slack could): one event_id, one answer
        assert app.event(dict(event, client_msg_id=f"copy-{k}"), event_id="EvReplayed") == 200
    slack.wait_for(lambda s: s.messages.get("D0REPLAY"))
    time.sleep(1.5)
    assert len(slack.messages["D0REPLAY"]) == 1, json.dumps(slack.messages["D0REPLAY"])[:500]


def test_the_replay_memory_forgets_after_its_window_and_stays_bounded():
    from bot.slack.replay import Seen

    now = [0.0]
    seen = Seen(window=600, limit=3, clock=lambda: now[0])
    assert seen.first("a") and not seen.first("a")
    now[0] = 601
    assert seen.first("a")  # the signature's five minutes are long over: a new request
    for key in "bcd":
        assert seen.first(key)
    assert not seen.first("d")  # the newest are kept
    assert seen.first("a")  # at the limit the oldest was forgotten


def healthz(app, token: str | None = None) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(app.url + "/healthz", headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


def test_healthz_says_ok_and_nothing_more_without_the_health_token(app):
    assert healthz(app) == {"ok": True}
    assert healthz(app, "guessed") == {"ok": True}
    details = healthz(app, HEALTH_TOKEN)
    assert details["ok"] and details["closed_deals"] == 6338 and details["as_of"] == "2024-07-15"
    assert details["source"] == "deals.csv"  # the file's name, not where it lives on the server


SHAPELESS = ['{"type": "event_callback", "event": "x"}', '{"type": "event_callback", "event": {"type": "message"}}',
             '{"type": "event_callback", "event": {"type": "app_home_opened"}}',
             '{"type": "event_callback", "event": {"type": "app_mention", "text": 5, "channel": "C0SALES", "ts": "1"}}',
             '{"type": "event_callback", "event": {"type": "message", "channel_type": "im", "user": "U0CRO", '
             '"text": ["x"], "channel": "D0X", "ts": "1"}}', "[1, 2]", '{"type": "block_actions"}',
             "payload=" + urllib.parse.quote('{"type": "block_actions", "actions": []}'),
             "payload=" + urllib.parse.quote('{"type": "block_actions", "actions": [{"action_id": "share_reply"}]}'),
             "command=%2Fwinrate"]


@pytest.mark.parametrize("body", SHAPELESS)
def test_a_signed_request_of_the_wrong_shape_gets_a_400(app, body):
    content_type = "application/json" if body[0] in "[{" else "application/x-www-form-urlencoded"
    assert app.post(body, headers={"Content-Type": content_type})[0] == 400
    assert app.proc.poll() is None


class Gate:
    """A TCP forwarder to the local PostgreSQL that can be shut (every connection cut, new ones
    refused) and opened again on the same port: the state database going away and coming back."""

    def __init__(self, target=("127.0.0.1", 5432)):
        import threading

        self.target, self.port, self.conns, self.lock = target, free_port(), [], threading.Lock()
        self.listener = None
        self.open()

    def open(self):
        import threading

        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener = self.listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while chunk := a.recv(65536):
                b.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def shut(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close() alone would not
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_with_the_state_database_down_every_surface_still_answers_and_recovers(slack):
    from conftest import postgres_schema
    from slack_harness import all_text

    with postgres_schema("si_down") as (schema, _, _engine):
        gate = Gate()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{gate.port}/test?options=-csearch_path%3D{schema}"
        running = RunningApp(slack, DATABASE_URL=url)
        try:
            running.command(slack, "/follow", "/winrate APAC weekly", name="down-follow-add")
            assert "/winrate APAC" in all_text(reply(slack, "down-follow-add"))
            gate.shut()
            assert running.event(dm_event("U0CRO", "what is our win rate?", "D0DOWN")) == 200
            answer = slack.wait_for(lambda s: s.messages.get("D0DOWN"), timeout=20)[0]
            assert "Win rate" in all_text(answer) and "database is not answering" in all_text(answer)
            assert running.event({"type": "app_home_opened", "user": "U0CRO", "channel": "D0CRO", "tab": "home"}) == 200
            home = all_text(slack.wait_for(lambda s: s.home_views.get("U0CRO"), timeout=20))
            assert "Win rate" in home and home.count("Unavailable right now") == 2
            for command in ("/alerts", "/follow"):
                running.command(slack, command, "list", name=f"down-{command[1:]}")
                assert "can't reach the bot's database" in all_text(reply(slack, f"down-{command[1:]}", timeout=20))
            gate.open()
            running.command(slack, "/follow", "list", name="back-follow")
            assert "/winrate APAC" in all_text(reply(slack, "back-follow", timeout=20))  # nothing lost
        finally:
            running.stop()
            gate.shut()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


SOAK_LINES = ["/winrate", "/winrate APAC", "/winrate by region", "/trend Europe", "/why", "/drivers", "/risk",
              "/funnel by region", "/health", "/deals APAC lost", "/pipeline", "/winrate zq", "/sales help", "/winrate nonsense x",
              "/winrate by region and industry and product", "/trend last quarter vs previous"]


@pytest.mark.slow
def test_memory_stays_flat_over_twenty_thousand_varied_requests(app, slack):
    """SOAK_REQUESTS (default 20,000) varied requests: commands with varied and junk text, DMs, outsiders,
    replays. RSS sampled every 200 requests; the median of the last tenth of the samples within 10% of the
    median of the tenth after the warm-up (medians: one sample taken while an answer is being built is a
    spike of that answer, not a leak)."""
    import os
    import random
    import statistics

    total = int(os.environ.get("SOAK_REQUESTS", "20000"))
    rng = random.Random(17)
    samples = []
    for k in range(total):
        kind = k % 10
        if kind < 6:
            line = rng.choice(SOAK_LINES) + (f" {rng.randrange(10**9)}" if kind == 5 else "")
            name, text = line.split(" ", 1)[0], line.split(" ", 1)[1] if " " in line else ""
            assert app.command(slack, name, text, name=f"soak-{k}")[0] == 200
        elif kind < 8:
            user = "U0CRO" if kind == 6 else f"U0OUT{k}"
            assert app.event(dm_event(user, rng.choice(["what is our win rate?", "why did APAC drop?",
                                                        "x" * rng.randrange(1, 9000)]), f"D0SOAK{k % 50}")) == 200
        else:
            assert app.post("junk=" + "y" * rng.randrange(1, 5000), signed=kind == 8)[0] in (200, 400, 401)
        if k % 200 == 199:
            time.sleep(1.0)  # let the analysis pool drain: a soak, not a flood
            samples.append(rss_mb(app.proc.pid))
            with slack.lock:  # the stand-in keeps everything; the bot should not
                slack.responses.clear(), slack.messages.clear(), slack.calls.clear()
    print(f"RSS MB every 200 requests: {samples}")
    tenth = max(1, len(samples) // 10)
    warm, end = statistics.median(samples[tenth:2 * tenth]), statistics.median(samples[-tenth:])
    assert end <= warm * 1.10, (warm, end, samples)
