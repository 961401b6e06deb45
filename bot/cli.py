"""The terminal front end: `python -m bot ask "/winrate APAC"` and the interactive console."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys

from insights.load import ColumnMapping, DataError, load_deals
from insights.snapshot import Snapshot

from .commands import answer
from .config import Settings
from .grammar import Vocabulary
from .render import render

EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-06-30")


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", default=settings.deals_source,
                      help="deal file, CSV or Parquet (default: $DEALS_SOURCE or the bundled demo data)")
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
    ask = sub.add_parser("ask", parents=[data], help="answer one command and exit",
                         description='Answer one command, e.g. python -m bot ask "/winrate APAC". '
                                     "Exit 0 with an answer, 2 when the command cannot be used, 1 when the data cannot.")
    ask.add_argument("line", help='the command, e.g. "/winrate APAC" or "/help"')
    ask.add_argument("--format", choices=("text", "json"), default="text")
    sub.add_parser("console", parents=[data], help="interactive console over the same commands")
    sub.add_parser("http", parents=[data], help="serve Slack over HTTP on $PORT (needs SLACK_BOT_TOKEN and "
                                                "SLACK_SIGNING_SECRET)")
    sub.add_parser("socket", parents=[data], help="serve Slack over Socket Mode (needs SLACK_APP_TOKEN and "
                                                  "SLACK_BOT_TOKEN)")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest for your host or for Socket Mode")
    manifest.add_argument("--url", default="https://YOUR-HOST", help="public base URL of the web process")
    manifest.add_argument("--socket", action="store_true", help="a manifest for Socket Mode (no public URL)")
    return parser


def load(args) -> Snapshot:
    mapping = ColumnMapping.from_file(args.mapping) if args.mapping else None
    return load_deals(args.data, mapping, as_of=args.as_of)


def run_ask(args, out=sys.stdout) -> int:
    try:
        snapshot = load(args)
    except DataError as exc:
        _emit(out, args.format, render("text/data_error.j2", message=str(exc), last_good=None), {"error": "data", "message": str(exc)})
        return EXIT_DATA
    reply = answer(snapshot, args.line)
    if args.format == "json":
        payload = reply.result.to_dict() if reply.result is not None else {"kind": reply.kind, "text": reply.text}
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    else:
        print(reply.text, file=out)
    return EXIT_OK if reply.ok else EXIT_USAGE


def _emit(out, fmt, text, payload):
    print(json.dumps(payload, indent=2) if fmt == "json" else text, file=out)


def run_console(args, stdin=sys.stdin, out=sys.stdout) -> int:
    try:
        snapshot = load(args)
    except DataError as exc:
        print(render("text/data_error.j2", message=str(exc), last_good=None), file=out)
        return EXIT_DATA
    vocab = Vocabulary.from_snapshot(snapshot)
    interactive = stdin.isatty()
    print(render("text/console_welcome.j2", source=args.data, report=snapshot.report, as_of=snapshot.as_of), file=out)
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
        if not line.startswith("/"):
            line = "/" + line
        print(answer(snapshot, line, vocab).text, file=out)
        print(file=out)


def run_slack(args, settings: Settings, mode: str) -> int:
    from .app import build_app
    from .data import DealData

    missing = [name for name, value in (("SLACK_BOT_TOKEN", settings.slack_bot_token),
                                        ("SLACK_SIGNING_SECRET" if mode == "http" else "SLACK_APP_TOKEN",
                                         settings.slack_signing_secret if mode == "http" else settings.slack_app_token))
               if not value]
    if missing:
        print(render("text/missing_settings.j2", mode=mode, missing=missing), file=sys.stderr)
        return EXIT_USAGE
    data = DealData(args.data, args.mapping, args.as_of)
    outcome = data.refresh()
    if not outcome.ok:
        print(render("text/data_error.j2", message=outcome.error, last_good=None), file=sys.stderr)
        return EXIT_DATA
    app = build_app(settings, data, socket_mode=mode == "socket")
    if mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, settings.slack_app_token).start()
        return EXIT_OK
    from .web import WebApp, serve

    serve(WebApp(app, data), settings.port)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    if args.subcommand == "ask":
        return run_ask(args)
    if args.subcommand == "manifest":
        from .manifest import manifest

        print(manifest(args.url, socket_mode=args.socket))
        return EXIT_OK
    if args.subcommand is None:
        mode = settings.mode
        args = parser.parse_args([mode if mode != "console" else "console"])
    if args.subcommand in ("http", "socket"):
        return run_slack(args, settings, args.subcommand)
    return run_console(args)
