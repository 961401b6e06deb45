"""The terminal front end: `python -m bot ask "/winrate APAC"` and the interactive console."""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import signal
import sys
import tempfile
import threading
from pathlib import Path

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from insights.alerts import AlertRule, evaluate
from insights.kinds import AlertKind
from insights.results import to_jsonable
from insights.sources import CRM_KINDS, SourceSpec

from bot.clock.alerting import AlertPolicy, alert_text, data_findings
from bot.clock.scheduler import Runtime, start_clock
from bot.config import Settings, is_demo_source, validate_clock
from bot.core.access import Asker, Policy, SegmentAccessError
from bot.core.ask import ask, warm_up
from bot.core.commands import ADMIN_COMMANDS, read_as_line, resolve_command, unwrap_umbrella
from bot.core.data import DealData
from bot.core.digest import digest_text
from bot.core.grammar import split_command
from bot.core.render import render
from bot.core.reply import Reply
from bot.slack.app import build_app
from bot.slack.io import web_client
from bot.slack.manifest import manifest
from bot.slack.pool import AnalysisPool
from bot.slack.segments import ChannelMembers, GroupMembers
from bot.slack.services import Services
from bot.slack.sync import follow_clock
from bot.slack.web import WebApp, serve
from bot.store import DEFAULT_DATABASE, SourceCache, Store, load_default_rules, make_engine, open_store

log = logging.getLogger(__name__)

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2
DEFAULT_CHART_DIR = Path(tempfile.gettempdir()) / "sales-intelligence-charts"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-06-30")


def scratch_database() -> Path:
    """The console's own state (alert rules, follows): a SQLite file in the temp directory, so
    typing `/alerts mute 2 7d` locally never touches production."""
    return Path(tempfile.gettempdir()) / "sales-intelligence-console" / "state.sqlite"


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument("--state", choices=("scratch", "live"),
                       default=settings.console_state if settings.console_state in ("scratch", "live") else "scratch",
                       help="alert rules and follows: scratch (default; a temp SQLite file of the console's own) "
                            "or live (DATABASE_URL, the store the Slack app and the clock use); env CONSOLE_STATE")
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", default=settings.deals_source,
                      help="deal file (CSV or Parquet), a database URL (postgresql://..., sqlite:///...) with --table "
                           "or --query, salesforce or hubspot (default: $DEALS_SOURCE or the bundled demo data)")
    data.add_argument("--table", default=settings.deals_table,
                      help="with a database URL as --data: the table or view of deals (env DEALS_TABLE)")
    data.add_argument("--query", default=settings.deals_query,
                      help="with a database URL as --data: a SELECT returning the deals (env DEALS_QUERY)")
    data.add_argument("--since", default=settings.deals_since,
                      help="databases and Salesforce: read deals created or closed since this date or span "
                           "(2022-01-01, 3y, 18m, all; env DEALS_SINCE; default 3y)")
    data.add_argument("--mapping", default=settings.deals_mapping,
                      help="column-mapping file (TOML or YAML) for exports with other column names")
    data.add_argument("--as-of", type=_date, default=None,
                      help="answer as of this date (default: the latest closed date in the data)")
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Sales Intelligence: win-rate answers with sample sizes, intervals and honest tests. "
                    "With no Slack credentials and no subcommand, opens the interactive console.",
    )
    sub = parser.add_subparsers(dest="subcommand")
    ask = sub.add_parser("ask", parents=[data, state], help="answer one command and exit",
                         description='Answer one command, e.g. python -m bot ask "/winrate APAC". '
                                     "Exit 0 with an answer, 2 when the command cannot be used, 1 when the data cannot.")
    ask.add_argument("line", help='the command, e.g. "/winrate APAC" or "/help"')
    ask.add_argument("--format", choices=("text", "json"), default="text")
    ask.add_argument("--as-user", default=None, metavar="SLACK_USER_ID",
                     help="answer (and export) only what this user may see under SEGMENT_ACCESS (user entries and "
                          "admins; group membership needs SLACK_BOT_TOKEN)")
    ask.add_argument("--chart-dir", default=str(DEFAULT_CHART_DIR),
                     help="where /trend, /why and /drivers write their chart PNG (text format only)")
    console = sub.add_parser("console", parents=[data, state], help="interactive console over the same commands")
    console.add_argument("--chart-dir", default=str(DEFAULT_CHART_DIR),
                         help="where /trend, /why and /drivers write their chart PNG")
    sub.add_parser("http", parents=[data], help="serve Slack over HTTP on $PORT (needs SLACK_BOT_TOKEN and "
                                                "SLACK_SIGNING_SECRET)")
    sub.add_parser("socket", parents=[data], help="serve Slack over Socket Mode (needs SLACK_APP_TOKEN and "
                                                  "SLACK_BOT_TOKEN)")
    sub.add_parser("clock", parents=[data], help="run the scheduler: refresh, alerts, weekly digest (exactly one "
                                                 "process; needs SLACK_BOT_TOKEN)")
    for name, what in (("digest", "the weekly digest"), ("alerts", "the alerts that would fire now")):
        dry = sub.add_parser(name, parents=[data], help=f"print {what}")
        dry.add_argument("--dry-run", action="store_true", required=True,
                         help="print without posting (the only mode: the clock posts)")
        dry.add_argument("--format", choices=("text", "json"), default="text")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest for your host or for Socket Mode")
    manifest.add_argument("--url", default="https://YOUR-HOST", type=_https_url,
                          help="public base URL of the web process (https://...)")
    manifest.add_argument("--prefix", default=settings.command_prefix, type=_prefix,
                          help="put this in front of every command name (e.g. sales- for /sales-winrate) so the "
                               "names do not collide with other apps; /sales stays as it is. Set the same "
                               "COMMAND_PREFIX for the app")
    manifest.add_argument("--socket", action="store_true", help="a manifest for Socket Mode (no public URL)")
    return parser


def load(args, settings: Settings | None = None) -> DealData:
    """The deals to answer from, loaded once as the servers load them (the CRM's local copy when it is
    down, said on stderr); `current` is None when there are none (`last_error` says why)."""
    settings = settings or Settings.from_env()
    data = DealData(source_spec(args, settings), args.mapping, args.as_of, cache=source_cache(args, settings))
    outcome = data.refresh(check=False)
    if not outcome.ok and data.current is not None:
        print(f"warning: {outcome.error}", file=sys.stderr)  # the CRM is down: answering from its local copy
    return data


def source_spec(args, settings: Settings | None = None) -> SourceSpec:
    settings = settings or Settings.from_env()
    kind = str(args.data).strip().lower()
    return SourceSpec(args.data, table=getattr(args, "table", None), query=getattr(args, "query", None),
                      since=getattr(args, "since", None),
                      options=settings.hubspot if kind == "hubspot" else settings.salesforce,
                      engine=settings.deals_engine)


def source_cache(args, settings: Settings | None = None):
    """A CRM's (Salesforce's, HubSpot's) local copy lives in the state store (DATABASE_URL); other sources
    need none."""
    if str(args.data).strip().lower() not in CRM_KINDS:
        return None
    settings = settings or Settings.from_env()
    return SourceCache(make_engine(settings.database_url))


def state_url(settings: Settings, state: str = "scratch") -> str:
    """The console's state store: its scratch SQLite file unless `live` was asked for."""
    if state == "live":
        return settings.database_url or ""
    return f"sqlite:///{scratch_database()}"


class ConsoleState:
    """The state store of the console and `ask` (alert rules, follows), opened only when a command uses
    it: the console's scratch copy unless `--state live` (or CONSOLE_STATE=live) says otherwise."""

    def __init__(self, settings: Settings, state: str = "scratch"):
        self.settings, self.state = settings, state
        self._store: Store | None = None

    def for_line(self, line: str) -> Store | None:
        typed = unwrap_umbrella(line if line.startswith("/") else "/" + line)
        if resolve_command(split_command(typed)[0] or "") not in ADMIN_COMMANDS:
            return None
        if self._store is None:
            url = state_url(self.settings, self.state) or None
            self._store = open_store(dataclasses.replace(self.settings, database_url=url))
        return self._store


def asker_for(args, settings: Settings) -> Asker:
    """Who the terminal asks as: the operator (everything), or `--as-user` under the settings' access
    rules. Raises SegmentAccessError when the SEGMENT_ACCESS file cannot be used."""
    as_user = getattr(args, "as_user", None)
    if not as_user:
        return Asker("console")
    client = web_client(settings.slack_bot_token, settings.api_url) if settings.slack_bot_token else None
    return Policy.from_settings(settings, GroupMembers(client)).asker(as_user)


def data_error(out, fmt: str, data: DealData) -> int:
    message = data.last_error or "the deal data has not loaded"
    _emit(out, fmt, render("text/data_error.j2", message=message, last_good=None), {"error": "data", "message": message})
    return EXIT_DATA


def run_ask(args, settings: Settings, out=sys.stdout) -> int:
    data = load(args, settings)
    if data.current is None:
        return data_error(out, args.format, data)
    try:
        asker = asker_for(args, settings)
    except SegmentAccessError as exc:
        _emit(out, args.format, f"SEGMENT_ACCESS: {exc}", {"error": "access", "message": str(exc)})
        return EXIT_USAGE
    reply = ask(data, asker, args.line, store=ConsoleState(settings, args.state).for_line(args.line))
    if args.format == "json":
        if reply.kind == "refused":
            payload = {"error": "access", "message": reply.text.strip()}
        else:
            payload = reply.result.to_dict() if reply.result is not None else {"kind": reply.kind, "text": reply.text}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    else:
        print_reply(reply, args.chart_dir, out)
    return EXIT_OK if reply.ok else EXIT_USAGE


def print_reply(reply: Reply, chart_dir: str, out) -> None:
    print(reply.text, file=out)
    if reply.reading:
        print(read_as_line(reply), file=out)
    print_chart(reply, chart_dir, out)


def print_chart(reply: Reply, chart_dir: str, out) -> None:
    """The terminal's answer to a chart (or to /deals' CSV): write the file and say where it is."""
    chart = reply.chart()
    if chart is not None:
        _save(Path(chart_dir) / chart.unique_filename, chart.png, "chart", out)
    table, error = reply.table_or_error()
    if error is not None:
        print(error, file=out)
    if table is not None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        _save(Path(chart_dir) / f"deals-{stamp}.csv", table, "csv", out)


def _save(path: Path, content: bytes, kind: str, out) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    except OSError as exc:
        print(render("text/chart_saved.j2", path=None, error=str(exc), kind=kind), file=out)
        return
    print(render("text/chart_saved.j2", path=str(path), error=None, kind=kind), file=out)


def _https_url(text: str) -> str:
    if not text.lower().startswith("https://") or len(text) <= len("https://"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an https:// URL: Slack only sends requests to https, "
                                         "e.g. --url https://sales-bot.example.com (or use --socket)")
    return text


def _prefix(text: str) -> str:
    text = text.strip().lstrip("/").lower()
    if text and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,15}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a command prefix such as sales- "
                                         "(lower-case letters, digits, - and _)")
    return text


def _emit(out, fmt, text, payload):
    print(json.dumps(payload, indent=2) if fmt == "json" else text, file=out)


def half_slack_settings(settings: Settings) -> str | None:
    """Why Slack settings that are set do not start Slack (`python -m bot` then opens the console), or None."""
    if settings.mode != "console":
        return None
    if settings.slack_bot_token:
        return "SLACK_BOT_TOKEN is set, but neither SLACK_SIGNING_SECRET (HTTP) nor SLACK_APP_TOKEN (Socket Mode)"
    given = [name for name, value in (("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                                      ("SLACK_APP_TOKEN", settings.slack_app_token)) if value]
    if given:
        return f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} set, but SLACK_BOT_TOKEN is not"
    return None


def run_console(args, settings: Settings, stdin=sys.stdin, out=sys.stdout) -> int:
    data = load(args, settings)
    if data.current is None:
        print(render("text/data_error.j2", message=data.last_error, last_good=None), file=out)
        return EXIT_DATA
    snapshot, asker, state = data.current.snapshot, Asker("console"), ConsoleState(settings, args.state)
    interactive = stdin.isatty()
    thread = None  # the last answered command, which a follow-up question changes
    print(render("text/console_welcome.j2", source=source_spec(args, settings).describe(), report=snapshot.report,
                 as_of=snapshot.as_of, state=args.state, scratch=str(scratch_database()),
                 half_slack=half_slack_settings(settings)), file=out)
    while True:
        if interactive:
            try:
                line = input("sales> ")
            except (EOFError, KeyboardInterrupt):
                print(file=out)
                return EXIT_OK
        else:
            line = stdin.readline()
            if not line:
                return EXIT_OK
        line = line.strip()
        if not line:
            continue
        if line.lower() in ("quit", "exit", "q", "/quit", "/exit"):
            return EXIT_OK
        # the session is one thread, so follow-up questions keep the last answer's context
        reply = ask(data, asker, line, thread, store=state.for_line(line))
        if reply.kind == "answer":
            thread = reply.line
        print_reply(reply, args.chart_dir, out)
        print(file=out)


REQUIRED = {
    "http": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
    "socket": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"),
    "clock": ("SLACK_BOT_TOKEN",),
}


def run_slack(args, settings: Settings, mode: str) -> int:
    """http: the web process (never a scheduler). socket: listeners and the clock in one worker.
    clock: the scheduler alone."""
    values = {"SLACK_BOT_TOKEN": settings.slack_bot_token, "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
              "SLACK_APP_TOKEN": settings.slack_app_token}
    missing = [name for name in REQUIRED[mode] if not values[name]]
    problems = validate_clock(settings) if mode != "http" else []
    client = web_client(settings.slack_bot_token, settings.api_url)
    policy = None
    try:
        policy = Policy.from_settings(settings, GroupMembers(client), ChannelMembers(client))
    except SegmentAccessError as exc:
        problems.append(f"SEGMENT_ACCESS: {exc}")
    if missing or problems:
        print(render("text/missing_settings.j2", mode=mode, missing=missing, problems=problems), file=sys.stderr)
        return EXIT_USAGE
    data = DealData(source_spec(args, settings), args.mapping, args.as_of, cache=source_cache(args, settings),
                    max_drop=settings.refresh_max_drop, warm_up=warm_up)
    if data.spec.kind == "file" and is_demo_source(data.spec.location):
        log.warning("DEALS_SOURCE is not set: answering from the bundled generated demo data (%s); every reply "
                    "says so. Set DEALS_SOURCE (and DEALS_MAPPING) to your deals.", data.spec.location)
    store = open_store(settings)
    if mode == "clock":
        start_clock(Runtime.from_settings(settings, data, store, client, policy))
        return _wait_forever()
    outcome = data.refresh()
    if not outcome.ok:
        print(render("text/data_error.j2", message=outcome.error, last_good=None), file=sys.stderr)
        return EXIT_DATA
    services = Services(data=data, policy=policy, store=store, command_prefix=settings.command_prefix,
                        analyses=AnalysisPool(settings.analysis_workers, timeout=settings.analysis_timeout_seconds),
                        progress_after=settings.progress_after_seconds)
    try:  # Bolt checks the token with auth.test before anything starts
        app = build_app(settings, data, client=client, socket_mode=mode == "socket", services=services)
    except (BoltError, SlackApiError, OSError) as exc:
        print(render("text/missing_settings.j2", mode=mode, missing=[], problems=[slack_refusal(exc)]), file=sys.stderr)
        return EXIT_USAGE
    if mode == "socket":
        start_clock(Runtime.from_settings(settings, data, store, client, policy))
        SocketModeHandler(app, settings.slack_app_token).start()
        return EXIT_OK
    follow_clock(data, store)  # the clock process refreshes; this one reloads after it
    serve(WebApp(app, data, settings.slack_signing_secret, health_token=settings.health_token), settings.port)
    return EXIT_OK


def slack_refusal(exc: Exception) -> str:
    """Why Slack did not let the app start, in one line: a refused token, or Slack out of reach."""
    if isinstance(exc, OSError):
        return (f"Slack could not be reached to check SLACK_BOT_TOKEN ({getattr(exc, 'reason', exc)}); "
                "check the network, or SLACK_API_URL when it is set")
    text = str(exc)
    for known in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"):
        if known in text:
            return (f"Slack refused SLACK_BOT_TOKEN ({known}): copy the Bot User OAuth Token (xoxb-…) from "
                    "the app's OAuth & Permissions page, after installing the app to the workspace")
    return f"Slack refused SLACK_BOT_TOKEN ({text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__})"


def _wait_forever() -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    return EXIT_OK


def run_dry(args, settings: Settings, out=sys.stdout) -> int:
    """`digest --dry-run` / `alerts --dry-run`: what the clock would post now, posting nothing."""
    data = load(args, settings)
    if data.current is None:
        return data_error(out, args.format, data)
    snapshot = data.current.snapshot
    if args.subcommand == "digest":
        text, _ = digest_text(snapshot)
        _emit(out, args.format, text, {"kind": "digest", "text": text})
        return EXIT_OK
    rules = _rules_for_dry_run(settings)
    findings = evaluate(snapshot, [r for r in rules if r.kind != AlertKind.DATA])
    now = dt.datetime.now(dt.timezone.utc)
    policy = AlertPolicy(settings.alert_channel, max_set_aside_share=settings.max_set_aside_share)
    findings += [f for f in data_findings(_NoRuns(), snapshot, now, policy, None)]
    text = render("text/alerts_dry_run.j2", texts=[alert_text(f) for f in findings], rules=len(rules))
    _emit(out, args.format, text, {"kind": "alerts", "alerts": [
        {"fingerprint": f.fingerprint, **to_jsonable(f)} for f in findings]})
    return EXIT_OK


def _rules_for_dry_run(settings: Settings):
    """The stored rules when a database already exists, else the configured defaults; writes nothing."""
    url = settings.database_url or ""
    missing_file = url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists()
    if (url and not missing_file) or (not url and DEFAULT_DATABASE.exists()):
        try:  # read only: no tables are created in a live store by a dry run
            stored = Store(make_engine(settings.database_url)).rules()
        except Exception:
            stored = []
        if stored:
            now = dt.datetime.now(dt.timezone.utc)
            return [r.rule() for r in stored if not r.muted(now)]
    return [AlertRule(k + 1, r["kind"], tuple((d, tuple(v)) for d, v in r.get("filters", {}).items()),
                      r.get("threshold")) for k, r in enumerate(load_default_rules(settings.alerts_config))]


class _NoRuns:
    """A dry run judges the data it just loaded, not the refresh history."""

    def last_refresh(self, ok=None):
        return None


def end_quietly_on_closed_pipe() -> None:
    """`python -m bot ask ... | head` ends quietly when `head` stops reading. Only for the modes that
    print: in the servers a client that hangs up must cost one connection, never the process (Python's
    own default, SIGPIPE ignored, turns that into an error on the one socket)."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = build_parser(settings)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):  # `python -m bot --data FILE`
        argv = [settings.mode] + argv
    args = parser.parse_args(argv)
    serving = args.subcommand in ("http", "socket", "clock") or (args.subcommand is None and settings.mode != "console")
    # the terminal says what went wrong in its own words (a missing file, a bad mapping); the log of the
    # data holder's refresh is for the servers
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO" if serving else "CRITICAL").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.subcommand in ("ask", "manifest"):
        end_quietly_on_closed_pipe()
    if args.subcommand == "ask":
        return run_ask(args, settings)
    if args.subcommand == "manifest":
        print(manifest(args.url, socket_mode=args.socket, prefix=args.prefix))
        return EXIT_OK
    if args.subcommand is None:
        mode = settings.mode
        args = parser.parse_args([mode if mode != "console" else "console"])
    if args.subcommand in ("http", "socket", "clock"):
        return run_slack(args, settings, args.subcommand)
    end_quietly_on_closed_pipe()
    if args.subcommand in ("digest", "alerts"):
        return run_dry(args, settings)
    return run_console(args, settings)
