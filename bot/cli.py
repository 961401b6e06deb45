"""The terminal front end: `python -m bot ask "/winrate APAC"` and the interactive console."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from insights.load import ColumnMapping, DataError
from insights.sources import CRM_KINDS, SourceSpec, load_source
from insights.sources.crm import SourceUnavailable
from insights.snapshot import Snapshot

from bot.core.commands import ADMIN_COMMANDS, Context, answer, converse, read_as_line, resolve_command
from bot.core.data import marked_demo
from bot.config import Settings, is_demo_source
from bot.core.grammar import Vocabulary, split_command
from bot.core.render import render

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


def load(args) -> Snapshot:
    """The deals to answer from; a DataError when there are none, never an empty answer with exit 0."""
    from insights.health import unusable_reason

    mapping = ColumnMapping.from_file(args.mapping) if args.mapping else None
    try:
        spec = source_spec(args)
        snapshot = marked_demo(load_source(spec, mapping, as_of=args.as_of, cache=source_cache(args)), spec)
    except SourceUnavailable as exc:
        if exc.stale is None or not len(exc.stale.deals):
            raise
        print(f"warning: {exc}", file=sys.stderr)  # the CRM is down: answer from its local copy
        snapshot = exc.stale if args.as_of is None else exc.stale.at(args.as_of)
    problem = unusable_reason(snapshot)
    if problem:
        raise DataError(problem)
    return snapshot


def source_spec(args, settings: Settings | None = None) -> SourceSpec:
    settings = settings or Settings.from_env()
    kind = str(args.data).strip().lower()
    return SourceSpec(args.data, table=getattr(args, "table", None), query=getattr(args, "query", None),
                      since=getattr(args, "since", None),
                      options=settings.hubspot if kind == "hubspot" else settings.salesforce)


def source_cache(args, settings: Settings | None = None):
    """A CRM's (Salesforce's, HubSpot's) local copy lives in the state store (DATABASE_URL); other sources
    need none."""
    if str(args.data).strip().lower() not in CRM_KINDS:
        return None
    from bot.store import SourceCache, make_engine

    settings = settings or Settings.from_env()
    return SourceCache(make_engine(settings.database_url))


def state_url(settings: Settings, state: str = "scratch") -> str:
    """The console's state store: its scratch SQLite file unless `live` was asked for."""
    if state == "live":
        return settings.database_url or ""
    return f"sqlite:///{scratch_database()}"


def context_for(line: str, settings: Settings, user_id: str | None = None, state: str = "scratch",
                as_user: str | None = None) -> Context:
    """The state store is opened only for the commands that use it, and is the console's scratch
    copy unless `--state live` (or CONSOLE_STATE=live) says otherwise."""
    name = resolve_command(split_command(line)[0] or "")
    reps = as_user is None or not settings.reps_users or as_user in settings.reps_users  # --as-user: REPS_USERS
    if name not in ADMIN_COMMANDS:
        return Context(user_id=user_id, reps=reps)
    from dataclasses import replace

    from bot.store import open_store

    return Context(store=open_store(replace(settings, database_url=state_url(settings, state) or None)),
                   user_id=user_id, reps=reps)


def run_ask(args, settings: Settings, out=sys.stdout) -> int:
    try:
        snapshot = load(args)
    except DataError as exc:
        _emit(out, args.format, render("text/data_error.j2", message=str(exc), last_good=None), {"error": "data", "message": str(exc)})
        return EXIT_DATA
    if args.as_user:
        from bot.slack.segments import SegmentAccessError

        try:
            scope = scope_of(args.as_user, settings)
        except SegmentAccessError as exc:
            _emit(out, args.format, f"SEGMENT_ACCESS: {exc}", {"error": "access", "message": str(exc)})
            return EXIT_USAGE
        if scope.empty:
            _emit(out, args.format, render("text/denied.j2", reason="no_segments", command=""),
                  {"error": "access", "message": f"{args.as_user} may see no segments"})
            return EXIT_USAGE
        snapshot = scope.restrict(snapshot)
    reply = answer(snapshot, args.line, context=context_for(args.line, settings, user_id="console", state=args.state,
                                                          as_user=args.as_user or None))
    if args.format == "json":
        payload = reply.result.to_dict() if reply.result is not None else {"kind": reply.kind, "text": reply.text}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    else:
        print(reply.text, file=out)
        if reply.reading:
            print(read_as_line(reply), file=out)
        print_chart(reply, args.chart_dir, out, snapshot)
    return EXIT_OK if reply.ok else EXIT_USAGE


def scope_of(user_id: str, settings: Settings):
    """What `user_id` may see under SEGMENT_ACCESS (everything without a mapping)."""
    from bot.core.scope import Scope
    from bot.slack.segments import SegmentAccess

    if not settings.segment_access:
        return Scope.everything()
    client = None
    if settings.slack_bot_token:
        from bot.slack.io import web_client

        client = web_client(settings.slack_bot_token, settings.api_url)
    return SegmentAccess.from_file(settings.segment_access, settings.admin_users).scope_for(user_id, client)


def print_chart(reply, chart_dir: str, out, snapshot: Snapshot | None = None) -> None:
    """The terminal's answer to a chart (or to /deals' CSV): write the file and say where it is."""
    if reply.result is None:
        return
    from bot.core.charts import chart_or_none

    chart = chart_or_none(reply.result)
    if chart is not None:
        _save(Path(chart_dir) / chart.unique_filename, chart.png, "chart", out)
    if reply.command == "deals" and snapshot is not None and reply.result.count:
        from insights.deals import deals_csv

        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        _save(Path(chart_dir) / f"deals-{stamp}.csv", deals_csv(snapshot, reply.result.query), "csv", out)


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
    import re

    text = text.strip().lstrip("/").lower()
    if text and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,15}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a command prefix such as sales- "
                                         "(lower-case letters, digits, - and _)")
    return text


def _emit(out, fmt, text, payload):
    print(json.dumps(payload, indent=2) if fmt == "json" else text, file=out)


def run_console(args, settings: Settings, stdin=sys.stdin, out=sys.stdout) -> int:
    try:
        snapshot = load(args)
    except DataError as exc:
        print(render("text/data_error.j2", message=str(exc), last_good=None), file=out)
        return EXIT_DATA
    vocab = Vocabulary.from_snapshot(snapshot)
    interactive = stdin.isatty()
    thread = None  # the last answered command, which a follow-up question changes
    print(render("text/console_welcome.j2", source=source_spec(args, settings).describe(), report=snapshot.report, as_of=snapshot.as_of,
                 state=args.state, scratch=str(scratch_database())), file=out)
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
        typed = line if line.startswith("/") else "/" + line
        context = context_for(typed, settings, user_id="console", state=args.state)
        if line.startswith("/") or resolve_command(split_command(typed)[0] or ""):
            reply = answer(snapshot, typed, vocab, context)  # a command, with or without its slash
        else:  # a question; the session is one thread, so follow-ups keep the last answer's context
            reply = converse(snapshot, line, vocab, context, thread_line=thread)
        if reply.kind == "answer":
            thread = reply.line
        print(reply.text, file=out)
        if reply.reading:
            print(read_as_line(reply), file=out)
        print_chart(reply, args.chart_dir, out, snapshot)
        print(file=out)


REQUIRED = {
    "http": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
    "socket": ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"),
    "clock": ("SLACK_BOT_TOKEN",),
}


def run_slack(args, settings: Settings, mode: str) -> int:
    """http: the web process (never a scheduler). socket: listeners and the clock in one worker.
    clock: the scheduler alone."""
    from bot.slack.access import Access
    from bot.slack.app import build_app
    from bot.clock.scheduler import Runtime, start_clock
    from bot.store import open_store
    from bot.config import validate_clock
    from bot.core.data import DealData
    from bot.slack.services import Services
    from bot.slack.io import web_client

    values = {"SLACK_BOT_TOKEN": settings.slack_bot_token, "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
              "SLACK_APP_TOKEN": settings.slack_app_token}
    missing = [name for name in REQUIRED[mode] if not values[name]]
    problems = validate_clock(settings) if mode != "http" else []
    segments = None
    if settings.segment_access:
        from bot.slack.segments import SegmentAccess, SegmentAccessError

        try:
            segments = SegmentAccess.from_file(settings.segment_access, settings.admin_users)
        except SegmentAccessError as exc:
            problems.append(f"SEGMENT_ACCESS: {exc}")
    if missing or problems:
        print(render("text/missing_settings.j2", mode=mode, missing=missing, problems=problems), file=sys.stderr)
        return EXIT_USAGE
    data = DealData(source_spec(args, settings), args.mapping, args.as_of, cache=source_cache(args, settings),
                    max_drop=settings.refresh_max_drop)
    if data.spec.kind == "file" and is_demo_source(data.spec.location):
        log.warning("DEALS_SOURCE is not set: answering from the bundled generated demo data (%s); every reply "
                    "says so. Set DEALS_SOURCE (and DEALS_MAPPING) to your deals.", data.spec.location)
    store = open_store(settings)
    client = web_client(settings.slack_bot_token, settings.api_url)
    if mode == "clock":
        start_clock(Runtime.from_settings(settings, data, store, client))
        return _wait_forever()
    outcome = data.refresh()
    if not outcome.ok:
        print(render("text/data_error.j2", message=outcome.error, last_good=None), file=sys.stderr)
        return EXIT_DATA
    from bot.slack.pool import AnalysisPool

    services = Services(data=data, access=Access.from_settings(settings), store=store,
                        command_prefix=settings.command_prefix, segments=segments, client=client,
                        analyses=AnalysisPool(settings.analysis_workers,
                                              timeout=settings.analysis_timeout_seconds),
                        progress_after=settings.progress_after_seconds)
    app = build_app(settings, data, client=client, socket_mode=mode == "socket", services=services)
    if mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        start_clock(Runtime.from_settings(settings, data, store, client))
        SocketModeHandler(app, settings.slack_app_token).start()
        return EXIT_OK
    from bot.slack.sync import follow_clock
    from bot.slack.web import WebApp, serve

    follow_clock(data, store)  # the clock process refreshes; this one reloads after it
    serve(WebApp(app, data, settings.slack_signing_secret, health_token=settings.health_token), settings.port)
    return EXIT_OK


def _wait_forever() -> int:
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    return EXIT_OK


def run_dry(args, settings: Settings, out=sys.stdout) -> int:
    """`digest --dry-run` / `alerts --dry-run`: what the clock would post now, posting nothing."""
    from bot.clock.alerting import AlertPolicy, alert_text, data_findings
    from bot.store import load_default_rules
    from insights.alerts import evaluate
    from insights.kinds import AlertKind
    from insights.results import to_jsonable

    from bot.core.digest import digest_text

    try:
        snapshot = load(args)
    except DataError as exc:
        _emit(out, args.format, render("text/data_error.j2", message=str(exc), last_good=None),
              {"error": "data", "message": str(exc)})
        return EXIT_DATA
    if args.subcommand == "digest":
        text, _ = digest_text(snapshot)
        _emit(out, args.format, text, {"kind": "digest", "text": text})
        return EXIT_OK
    rules = _rules_for_dry_run(settings, load_default_rules)
    findings = evaluate(snapshot, [r for r in rules if r.kind != AlertKind.DATA])
    now = dt.datetime.now(dt.timezone.utc)
    policy = AlertPolicy(settings.alert_channel, max_set_aside_share=settings.max_set_aside_share)
    findings += [f for f in data_findings(_NoRuns(), snapshot, now, policy, None)]
    text = render("text/alerts_dry_run.j2", texts=[alert_text(f) for f in findings], rules=len(rules))
    _emit(out, args.format, text, {"kind": "alerts", "alerts": [
        {"fingerprint": f.fingerprint, **to_jsonable(f)} for f in findings]})
    return EXIT_OK


def _rules_for_dry_run(settings: Settings, load_default_rules):
    """The stored rules when a database already exists, else the configured defaults; writes nothing."""
    from insights.alerts import AlertRule

    from bot.store import DEFAULT_DATABASE, Store, make_engine

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
    import signal

    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser(settings)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):  # `python -m bot --data FILE`
        argv = [settings.mode] + argv
    args = parser.parse_args(argv)
    if args.subcommand in ("ask", "manifest"):
        end_quietly_on_closed_pipe()
    if args.subcommand == "ask":
        return run_ask(args, settings)
    if args.subcommand == "manifest":
        from bot.slack.manifest import manifest

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
