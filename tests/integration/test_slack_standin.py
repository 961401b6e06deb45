"""The Slack stand-in, exercised through the real slack_sdk clients over HTTP."""
from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "standins"))
from slack_standin import Call, SlackStandIn, block_errors  # noqa: E402

TOKEN = "xoxb-test"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # slack_sdk routes every request through $HTTPS_PROXY/$HTTP_PROXY (ignoring NO_PROXY).
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SKIP_SLACK_SDK_WARNING", "1")


@pytest.fixture
def slack():
    with SlackStandIn(bot_token=TOKEN, channels={"C0SALES": "sales", "C0ALERTS": "alerts"},
                      users={"U0CRO": "cro"}, team_id="T0TEST") as standin:
        yield standin


@pytest.fixture
def client(slack):
    return WebClient(token=TOKEN, base_url=slack.api_url)


def section(text):
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def error_of(excinfo):
    return excinfo.value.response["error"]


def test_urls(slack):
    assert slack.url.startswith("http://127.0.0.1:") and slack.port > 0
    assert slack.api_url == slack.url + "/api/"
    assert slack.response_url("r1") == slack.url + "/respond/r1"


def test_auth_test(slack, client):
    resp = client.auth_test()
    assert resp["user_id"] == "U0BOT" and resp["bot_id"] == "B0BOT" and resp["team_id"] == "T0TEST"
    [call] = slack.calls_to("auth.test")
    assert call.status == 200 and call.ok
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


def test_wrong_or_missing_token(slack):
    with pytest.raises(SlackApiError) as e:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert error_of(e) == "invalid_auth"
    with pytest.raises(SlackApiError) as e:
        WebClient(base_url=slack.api_url).chat_postMessage(channel="C0SALES", text="hi")
    assert error_of(e) == "not_authed"
    assert [c.error for c in slack.calls] == ["invalid_auth", "not_authed"]
    assert not slack.messages["C0SALES"]


def test_token_in_form_field_and_unknown_method(slack):
    client = WebClient(base_url=slack.api_url)
    assert client.api_call("auth.test", params={"token": TOKEN})["ok"]  # slack_sdk moves it to the header
    body = urllib.request.urlopen(urllib.request.Request(
        slack.api_url + "auth.test", data=f"token={TOKEN}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"})).read()
    assert json.loads(body)["ok"] is True
    with pytest.raises(SlackApiError) as e:
        WebClient(token=TOKEN, base_url=slack.api_url).api_call("conversations.nope")
    assert error_of(e) == "unknown_method"


def test_post_message_with_blocks_and_update(slack, client):
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Pipeline"}},
              section("*APAC* win rate fell"), {"type": "divider"},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "source: demo"}]}]
    first = client.chat_postMessage(channel="C0SALES", text="Pipeline", blocks=blocks)
    assert first["channel"] == "C0SALES" and first["message"]["blocks"] == blocks
    reply = client.chat_postMessage(channel="C0SALES", text="details", thread_ts=first["ts"])
    assert float(reply["ts"]) > float(first["ts"])

    [call, _] = slack.calls_to("chat.postMessage")
    assert call.params["blocks"] == blocks  # parsed back to Python
    assert call.headers["Content-Type"].startswith("application/json")

    updated = client.chat_update(channel="C0SALES", ts=first["ts"], text="Pipeline v2",
                                 blocks=[section("updated")])
    assert updated["ts"] == first["ts"]
    msgs = slack.messages["C0SALES"]
    assert [m["text"] for m in msgs] == ["Pipeline v2", "details"]
    assert msgs[0]["blocks"] == [section("updated")] and msgs[1]["thread_ts"] == first["ts"]

    with pytest.raises(SlackApiError) as e:
        client.chat_update(channel="C0SALES", ts="1.000000", text="x")
    assert error_of(e) == "message_not_found"


def test_blocks_as_json_string_in_form(slack, client):
    blocks = [section("from a form")]
    client.api_call("chat.postMessage", params={"channel": "C0ALERTS", "blocks": json.dumps(blocks)})
    assert slack.messages["C0ALERTS"][0]["blocks"] == blocks
    assert slack.calls[-1].params["blocks"] == blocks


def test_post_ephemeral(slack, client):
    resp = client.chat_postEphemeral(channel="C0SALES", user="U0CRO", text="only you")
    assert resp["message_ts"]
    assert slack.ephemerals == [{"channel": "C0SALES", "user": "U0CRO", "message_ts": resp["message_ts"],
                                 "text": "only you"}]
    with pytest.raises(SlackApiError) as e:
        client.chat_postEphemeral(channel="C0SALES", user="U0NOBODY", text="x")
    assert error_of(e) == "user_not_in_channel"


def test_views_publish(slack, client):
    view = {"type": "home", "blocks": [section("Home")]}
    resp = client.views_publish(user_id="U0CRO", view=view)
    assert resp["view"]["type"] == "home"
    assert slack.home_views == {"U0CRO": view}
    with pytest.raises(SlackApiError) as e:
        client.views_publish(user_id="U0CRO", view={"type": "modal", "blocks": []})
    assert error_of(e) == "invalid_arguments"
    with pytest.raises(SlackApiError) as e:
        client.views_publish(user_id="U0CRO", view={"type": "home", "blocks": [{"type": "divider"}] * 101})
    assert error_of(e) == "invalid_arguments"


def test_files_upload_v2(slack, client):
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    resp = client.files_upload_v2(channel="C0SALES", file=data, filename="x.png", title="T", alt_txt="A",
                                  initial_comment="chart")
    file_id = resp["file"]["id"]
    assert resp["files"][0]["title"] == "T"
    stored = slack.files[file_id]
    assert stored["bytes"] == data
    assert (stored["title"], stored["filename"], stored["channel_id"], stored["alt_txt"]) == ("T", "x.png", "C0SALES", "A")
    assert stored["initial_comment"] == "chart"
    assert [c.method for c in slack.calls] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert slack.calls[0].params["length"] == str(len(data))  # form-encoded: numbers arrive as strings
    assert "Authorization" not in slack.calls[1].headers  # slack_sdk POSTs raw bytes, no token
    assert slack.calls[2].params["files"] == [{"id": file_id, "title": "T"}]


def test_complete_upload_errors(slack, client):
    with pytest.raises(SlackApiError) as e:
        client.files_completeUploadExternal(files=[{"id": "F0NOPE", "title": "x"}])
    assert error_of(e) == "file_not_found"
    with pytest.raises(SlackApiError) as e:
        client.files_upload_v2(channel="C0NOPE", content="csv,data", filename="d.csv")
    assert error_of(e) == "channel_not_found"


@pytest.mark.parametrize("blocks, why", [
    ([{"type": "divider"}] * 51, "too many blocks"),
    ([section("x" * 3001)], "section text over 3000"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "11 fields"),
    ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}], "field over 2000"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "header over 150"),
    ([{"type": "tabel"}], "unknown type"),
    ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "11 context elements"),
    ([{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b"},
                                        "action_id": f"a{i}"} for i in range(26)]}], "26 actions"),
    ([{"type": "image", "image_url": "https://example.test/x.png"}], "image without alt_text"),
    ([{"type": "image", "alt_text": "a"}], "image without url"),
])
def test_invalid_blocks(slack, client, blocks, why):
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0SALES", text="t", blocks=blocks)
    assert error_of(e) == "invalid_blocks", why
    assert e.value.response["errors"]
    assert not slack.messages["C0SALES"]
    assert slack.calls[-1].error == "invalid_blocks"


def test_limits_that_pass():
    assert block_errors([section("x" * 3000)] + [{"type": "divider"}] * 49) == []
    assert block_errors([{"type": "image", "slack_file": {"id": "F1"}, "alt_text": "a"}]) == []


def test_channel_and_text_checks(slack, client):
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0NOPE", text="hi")
    assert error_of(e) == "channel_not_found"
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0SALES")
    assert error_of(e) == "no_text"
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0SALES", text="x" * 40_001)
    assert error_of(e) == "msg_too_long"
    assert client.chat_postMessage(channel="D0DM", text="dm")["channel"] == "D0DM"
    assert client.chat_postMessage(channel="#alerts", text="by name")["channel"] == "C0ALERTS"


def test_rate_limit_retry(slack):
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    client = WebClient(token=TOKEN, base_url=slack.api_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    assert client.chat_postMessage(channel="C0SALES", text="eventually")["ok"]
    calls = slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response["error"] == "ratelimited"
    assert len(slack.messages["C0SALES"]) == 1


def test_rate_limit_retry_after_header(slack):
    """The brief's case: Retry-After: 1 (slack_sdk sleeps int(Retry-After) + random())."""
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client = WebClient(token=TOKEN, base_url=slack.api_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    assert client.chat_postMessage(channel="C0SALES", text="eventually")["ok"]
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_rate_limit_without_retry_handler(slack, client):
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0SALES", text="x")
    assert e.value.response.status_code == 429
    assert e.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C0SALES", text="x")["ok"]  # only the next one failed


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_retry(slack, status):
    slack.fail_next("chat.postMessage", status=status, times=2)
    fast = FixedValueRetryIntervalCalculator(0.01)
    client = WebClient(token=TOKEN, base_url=slack.api_url,
                       retry_handlers=[ServerErrorRetryHandler(max_retry_count=2, interval_calculator=fast)])
    assert client.chat_postMessage(channel="C0SALES", text="x")["ok"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [status, status, 200]
    assert slack.calls[0].response == {"ok": False, "error": "internal_error"}


def test_webhook_response_url(slack):
    blocks = [section("answer")]
    resp = WebhookClient(slack.response_url("r1")).send(text="answer", blocks=blocks, response_type="in_channel")
    assert (resp.status_code, resp.body) == (200, "ok")
    assert slack.responses["r1"] == [{"text": "answer", "blocks": blocks, "response_type": "in_channel"}]
    assert slack.calls_to("respond")[0].path == "/respond/r1"

    bad = WebhookClient(slack.response_url("r1")).send(text="t", blocks=[section("x" * 3001)])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    assert len(slack.responses["r1"]) == 1


def test_response_url_fault(slack):
    slack.fail_next("respond", status=429, retry_after=0)
    hook = WebhookClient(slack.response_url("r2"),
                         retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert hook.send(text="after retry").status_code == 200
    assert [c.status for c in slack.calls_to("respond")] == [429, 200]
    assert slack.responses["r2"] == [{"text": "after retry"}]


def test_wait_for(slack, client):
    client.chat_postMessage(channel="C0SALES", text="hi")
    assert slack.wait_for(lambda s: s.messages["C0SALES"], timeout=1)[0]["text"] == "hi"
    with pytest.raises(TimeoutError, match="chat.postMessage -> HTTP 200 ok"):
        slack.wait_for(lambda s: s.messages["C0ALERTS"], timeout=0.1)


def test_call_record_and_clear(slack, client):
    client.chat_postMessage(channel="C0SALES", text="hi")
    call = slack.calls[0]
    assert isinstance(call, Call) and call.method == "chat.postMessage"
    assert call.params == {"channel": "C0SALES", "text": "hi"}
    calls = slack.calls
    slack.clear()
    assert calls is slack.calls and not calls and not slack.messages


def test_add_method(slack, client):
    slack.add_method("conversations.open", lambda p: {"ok": True, "channel": {"id": "D0" + p["users"]}})
    assert client.conversations_open(users="U0CRO")["channel"]["id"] == "D0U0CRO"
