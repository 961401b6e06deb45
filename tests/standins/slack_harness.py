"""Running the real HTTP app against the Slack stand-in: shared by the end-to-end tests and the benchmark."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from slack_sdk.signature import SignatureVerifier
from slack_standin import SlackStandIn

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-signing-secret"
TOKEN = "xoxb-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("SLACK_")}
    env.update(SKIP_SLACK_SDK_WARNING="1", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT), **extra)
    return env


class RunningApp:
    """`python -m bot` in HTTP mode as a subprocess, pointed at the stand-in."""

    def __init__(self, slack: SlackStandIn, startup_seconds: float = 30, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the app's log goes to a file: a pipe nobody reads fills after 64 kB and blocks the app's next write
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot"], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env=clean_env(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
                          PORT=str(self.port), **env),
        )
        deadline = time.time() + startup_seconds
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError(self.output())
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the app did not come up")

    def output(self) -> str:
        """What the app has logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def post(self, body: str, *, signed=True, timestamp=None, signature=None, headers=None):
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        h = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp}
        if signed:
            h["X-Slack-Signature"] = signature or SignatureVerifier(SECRET).generate_signature(
                timestamp=timestamp, body=body)
        h.update(headers or {})
        request = urllib.request.Request(self.url + "/slack/events", data=body.encode(), headers=h, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, time.perf_counter() - started
        except urllib.error.HTTPError as e:
            return e.code, time.perf_counter() - started

    def command(self, slack, command, text="", *, name, user="U0CRO", channel="C0SALES", **kw):
        body = urllib.parse.urlencode({
            "token": "legacy", "team_id": "T0TEST", "channel_id": channel, "channel_name": "sales",
            "user_id": user, "user_name": "cro", "command": command, "text": text,
            "response_url": slack.response_url(name), "trigger_id": f"trigger-{name}",
        })
        return self.post(body, **kw)

    def interact(self, slack, payload: dict):
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}))

    def event(self, event: dict, event_id: str | None = None, retry: int | None = None):
        body = json.dumps({"type": "event_callback", "team_id": "T0TEST", "api_app_id": "A0APP",
                           "event": event, "event_id": event_id or f"Ev{time.time_ns()}",
                           "event_time": int(time.time())})
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": signature}
        if retry is not None:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        request = urllib.request.Request(self.url + "/slack/events", data=body.encode(), method="POST",
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status


def reply(slack, name, timeout=10):
    return slack.wait_for(lambda s: s.responses.get(name) and s.responses[name][-1], timeout=timeout)


def all_text(message) -> str:
    """Every piece of text in a message's blocks, in order."""
    def text_of(node):
        text = node.get("text", "")
        return text.get("text", "") if isinstance(text, dict) else text

    parts = []
    for block in message.get("blocks", []):
        parts.append(text_of(block))
        parts.extend(text_of(e) for e in block.get("elements", []) if isinstance(e, dict))
    return "\n".join(parts)
