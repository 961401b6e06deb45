"""A new user's first run: half-set Slack settings, a refused token, and `/sales COMMAND` outside Slack."""
from __future__ import annotations

import http.server
import io
import json
import threading

import pytest

from bot.cli import build_parser, half_slack_settings, main, run_console
from bot.config import Settings
from bot.core.commands import unwrap_umbrella


@pytest.mark.parametrize("env, expected", [
    ({"SLACK_BOT_TOKEN": "xoxb-1"},
     "SLACK_BOT_TOKEN is set, but neither SLACK_SIGNING_SECRET (HTTP) nor SLACK_APP_TOKEN (Socket Mode)"),
    ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_APP_TOKEN is set, but SLACK_BOT_TOKEN is not"),
    ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"},
     "SLACK_SIGNING_SECRET and SLACK_APP_TOKEN are set, but SLACK_BOT_TOKEN is not"),
    ({}, None),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, None),  # HTTP mode: not the console
])
def test_a_half_set_slack_environment_says_why_the_console_opened(env, expected):
    assert half_slack_settings(Settings.from_env(env)) == expected


def console(typed: str, *args: str) -> str:
    """The console's whole output for the lines typed, with the environment as it is now."""
    settings, out = Settings.from_env(), io.StringIO()
    assert run_console(build_parser(settings).parse_args(["console", *args]), settings, stdin=io.StringIO(typed),
                       out=out) == 0
    return out.getvalue()


def test_the_console_says_so_when_only_the_bot_token_is_set(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-only")
    for name in ("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DEALS_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    out = console("quit\n")
    assert "Slack is not started: SLACK_BOT_TOKEN is set, but neither SLACK_SIGNING_SECRET" in out
    assert "this is the local console (docs/slack.md)" in out


@pytest.mark.parametrize("typed, line", [
    ("/sales winrate APAC", "/winrate APAC"), ("/sales /why Europe", "/why Europe"), ("/sales help", "/help"),
    ("/SALES trend", "/trend"), ("/sales", "/sales"), ("sales last quarter", "sales last quarter"),
    ("/salesforce x", "/salesforce x"),
])
def test_the_umbrella_command_unwraps_as_in_slack(typed, line):
    assert unwrap_umbrella(typed) == line


def test_the_console_runs_sales_winrate_like_winrate(monkeypatch, tmp_path):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DEALS_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    out = console("/sales winrate APAC\n/winrate APAC\nquit\n", "--chart-dir", str(tmp_path))
    assert out.count("*Win rate · APAC · 2024Q2* — 20.9% (66 won of 315; 95% CI 16.8–25.8%)") == 2
    assert "*`/winrate [filters]" not in out  # not the command's help, as before
    assert "Slack is not started" not in out


class _RefusingSlack(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # every Web API method, auth.test included: the token is not valid
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"ok": False, "error": "invalid_auth"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_refused_bot_token_is_one_line_not_a_traceback(monkeypatch, capsys, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
        monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
        monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{server.server_port}/api/")
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
        for name in ("SLACK_SIGNING_SECRET", "DEALS_SOURCE", "SEGMENT_ACCESS"):
            monkeypatch.delenv(name, raising=False)
        assert main(["socket"]) == 2
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert "Cannot start: Slack refused SLACK_BOT_TOKEN (invalid_auth): copy the Bot User OAuth Token" in err
    assert "Traceback" not in err


def test_open_deals_are_not_footed_as_closed_deals_of_a_quarter():
    from bot.config import BUNDLED_DEALS
    from bot.core.commands import answer
    from insights.load import load_deals

    snapshot = load_deals(BUNDLED_DEALS)
    open_deals = answer(snapshot, "/deals open").text
    assert "662 open deals, $21.5M in all" in open_deals
    assert "_Open deals as of 2024-07-15_" in open_deals
    assert "Closed deals by closed date" not in open_deals  # it said "· 2024Q2 (2024-04-01 to 2024-06-30)"
    lost = answer(snapshot, "/deals lost APAC").text
    assert "_Closed deals by closed date · 2024Q2 (2024-04-01 to 2024-06-30) · data as of 2024-07-15_" in lost
