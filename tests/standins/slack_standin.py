"""A local stand-in for Slack's Web API, served over real HTTP on 127.0.0.1.

Written for the end-to-end tests: point a real ``slack_sdk.WebClient`` (or a Bolt
``App(client=...)``) at it with ``base_url=standin.api_url`` and it checks requests the
way Slack does (auth, channel ids, Block Kit limits) and records every one of them.

    with SlackStandIn() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        client.chat_postMessage(channel="C0SALES", text="hi")
        assert slack.messages["C0SALES"][0]["text"] == "hi"

What it serves (all on one ephemeral port):

- ``POST /api/<method>``  the Web API methods below; form, JSON, multipart or query
  parameters; ``blocks``/``attachments``/``view``/``files``/``metadata`` sent as JSON
  strings inside a form are parsed.
- ``POST /upload/<file_id>``  step 2 of ``files_upload_v2`` (the raw bytes).
- ``POST /respond/<name>``  a ``response_url`` (what Bolt's ``respond()`` posts to).

Auth, channel and block checks answer HTTP 200 with ``{"ok": false, "error": ...}`` as
Slack does; ``fail_next`` injects HTTP 429/5xx for retry tests.
"""
from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["Call", "SlackStandIn", "block_errors"]

# Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_ALT_TEXT = 2_000
MAX_IMAGE_URL = 3_000
MAX_BLOCK_ID = 255

KNOWN_BLOCK_TYPES = frozenset({"section", "header", "context", "divider", "actions", "image", "rich_text"})
TEXT_OBJECT_TYPES = ("plain_text", "mrkdwn")

# Fields Slack accepts as a JSON string inside a form body.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata", "user_auth_blocks")
_JSON_FIELD_ERRORS = {"blocks": "invalid_blocks_format", "attachments": "invalid_attachments"}


@dataclass
class Call:
    """One request the stand-in received (recorded even when it failed).

    ``method`` is the Web API method ("chat.postMessage"), or "upload" for a step-2 file
    upload, or "respond" for a response_url POST.  ``params`` has JSON-string fields
    (blocks, attachments, view, files, metadata) parsed to Python.  ``status`` is the HTTP
    status returned; ``response`` is the body returned (a dict for /api, else a str).
    """

    method: str
    params: Dict[str, Any]
    headers: Dict[str, str]
    status: int
    response: Any = None
    path: str = ""

    @property
    def ok(self) -> bool:
        if isinstance(self.response, dict):
            return self.status == 200 and bool(self.response.get("ok"))
        return self.status == 200

    @property
    def error(self) -> Optional[str]:
        if isinstance(self.response, dict):
            return self.response.get("error")
        return None if self.status == 200 else str(self.response)


# --------------------------------------------------------------------------------------
# Block Kit checks


def _text_object_errors(obj: Any, ptr: str, *, max_len: int, types=TEXT_OBJECT_TYPES) -> List[str]:
    if not isinstance(obj, dict):
        return [f"must be a text object [json-pointer:{ptr}]"]
    if obj.get("type") not in types:
        return [f"must be one of {list(types)} [json-pointer:{ptr}/type]"]
    text = obj.get("text")
    if not isinstance(text, str):
        return [f"missing required field: text [json-pointer:{ptr}]"]
    if len(text) == 0:
        return [f"must be more than 0 characters [json-pointer:{ptr}/text]"]
    if len(text) > max_len:
        return [f"must be less than {max_len + 1} characters [json-pointer:{ptr}/text]"]
    return []


def _image_errors(obj: Dict[str, Any], ptr: str) -> List[str]:
    errors = []
    alt = obj.get("alt_text")
    if not isinstance(alt, str) or not alt:
        errors.append(f"missing required field: alt_text [json-pointer:{ptr}]")
    elif len(alt) > MAX_ALT_TEXT:
        errors.append(f"must be less than {MAX_ALT_TEXT + 1} characters [json-pointer:{ptr}/alt_text]")
    url, slack_file = obj.get("image_url"), obj.get("slack_file")
    if not url and not slack_file:
        errors.append(f"must provide either image_url or slack_file [json-pointer:{ptr}]")
    elif url and (not isinstance(url, str) or len(url) > MAX_IMAGE_URL):
        errors.append(f"must be a string of at most {MAX_IMAGE_URL} characters [json-pointer:{ptr}/image_url]")
    return errors


def block_errors(blocks: Any, max_blocks: int = MAX_MESSAGE_BLOCKS, *, pointer: str = "/blocks") -> List[str]:
    """Slack-style error strings for a list of blocks; empty when Slack would accept it."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: List[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    seen_ids = set()
    for i, block in enumerate(blocks):
        ptr = f"{pointer}/{i}"
        if not isinstance(block, dict):
            errors.append(f"must be an object [json-pointer:{ptr}]")
            continue
        btype = block.get("type")
        if btype not in KNOWN_BLOCK_TYPES:
            errors.append(f"unsupported type: {btype!r} [json-pointer:{ptr}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > MAX_BLOCK_ID:
                errors.append(f"must be a string of at most {MAX_BLOCK_ID} characters [json-pointer:{ptr}/block_id]")
            elif block_id in seen_ids:
                errors.append(f"duplicate block_id {block_id!r} [json-pointer:{ptr}/block_id]")
            seen_ids.add(block_id)
        if btype == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and fields is None:
                errors.append(f"must provide either text or fields [json-pointer:{ptr}]")
            if text is not None:
                errors += _text_object_errors(text, f"{ptr}/text", max_len=MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or not fields:
                    errors.append(f"must be a non-empty array [json-pointer:{ptr}/fields]")
                else:
                    if len(fields) > MAX_SECTION_FIELDS:
                        errors.append(f"no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{ptr}/fields]")
                    for j, f in enumerate(fields):
                        errors += _text_object_errors(f, f"{ptr}/fields/{j}", max_len=MAX_FIELD_TEXT)
        elif btype == "header":
            errors += _text_object_errors(block.get("text"), f"{ptr}/text", max_len=MAX_HEADER_TEXT,
                                          types=("plain_text",))
        elif btype == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"must be a non-empty array [json-pointer:{ptr}/elements]")
                continue
            if len(elements) > MAX_CONTEXT_ELEMENTS:
                errors.append(f"no more than {MAX_CONTEXT_ELEMENTS} items allowed [json-pointer:{ptr}/elements]")
            for j, el in enumerate(elements):
                eptr = f"{ptr}/elements/{j}"
                if isinstance(el, dict) and el.get("type") == "image":
                    errors += _image_errors(el, eptr)
                else:
                    errors += _text_object_errors(el, eptr, max_len=MAX_SECTION_TEXT)
        elif btype == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"must be a non-empty array [json-pointer:{ptr}/elements]")
                continue
            if len(elements) > MAX_ACTIONS_ELEMENTS:
                errors.append(f"no more than {MAX_ACTIONS_ELEMENTS} items allowed [json-pointer:{ptr}/elements]")
            for j, el in enumerate(elements):
                if not isinstance(el, dict) or not isinstance(el.get("type"), str):
                    errors.append(f"must be an element object with a type [json-pointer:{ptr}/elements/{j}]")
        elif btype == "image":
            errors += _image_errors(block, ptr)
            if block.get("title") is not None:
                errors += _text_object_errors(block["title"], f"{ptr}/title", max_len=MAX_ALT_TEXT,
                                              types=("plain_text",))
        elif btype == "rich_text":
            if not isinstance(block.get("elements"), list):
                errors.append(f"missing required field: elements [json-pointer:{ptr}]")
    return errors


def _invalid_blocks(errors: List[str], error: str = "invalid_blocks") -> Dict[str, Any]:
    return {"ok": False, "error": error, "errors": errors,
            "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}


# --------------------------------------------------------------------------------------
# The server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: "SlackStandIn"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SlackStandIn/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_POST(self) -> None:
        self.server.standin._dispatch(self)

    def do_GET(self) -> None:
        self.server.standin._dispatch(self)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
        if isinstance(body, (dict, list)):
            raw, ctype = json.dumps(body).encode("utf-8"), "application/json; charset=utf-8"
        else:
            raw, ctype = str(body).encode("utf-8"), "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)


@dataclass
class Hold:
    reached: threading.Event  # the held request has arrived (with `after`: has been carried out)
    release: threading.Event  # set it to let the request end (unanswered, unrecorded; with `after`, answered)
    after: bool = False  # carry the request out (post the message), then hold its answer


@dataclass
class _Fault:
    status: int
    retry_after: Optional[int]
    remaining: int
    error: Optional[str] = None


class SlackStandIn:
    """Slack's Web API on 127.0.0.1:<ephemeral port>, for end-to-end tests.  See module doc."""

    BOT_USER_ID = "U0BOT"
    BOT_ID = "B0BOT"

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        channels: Optional[Dict[str, str]] = None,
        users: Optional[Dict[str, str]] = None,
        team_id: str = "T0TEST",
        host: str = "127.0.0.1",
        app_token: Optional[str] = None,
        socket_url: Optional[str] = None,
        members: Optional[Dict[str, List[str]]] = None,
    ) -> None:
        self.bot_token = bot_token
        # Socket Mode: apps.connections.open takes the app-level token and returns this URL
        self.app_token, self.socket_url = app_token, socket_url
        self.channels: Dict[str, str] = dict(channels if channels is not None
                                             else {"C0SALES": "sales", "C0ALERTS": "alerts"})
        self.users: Dict[str, str] = dict(users if users is not None else {"U0CRO": "cro"})
        # conversations.members: a channel's members (default: every user, and the bot)
        self.members: Dict[str, List[str]] = {c: list(v) for c, v in (members or {}).items()}
        self.team_id = team_id
        self.host = host
        self.lock = threading.RLock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._faults: Dict[str, List[_Fault]] = defaultdict(list)
        self._holds: Dict[str, "Hold"] = {}
        self._resets: Dict[str, int] = defaultdict(int)
        self._extra_methods: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {}
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self.calls: List[Call] = []
        self.messages: Dict[str, List[Dict[str, Any]]] = defaultdict(list)  # channel -> messages
        self.ephemerals: List[Dict[str, Any]] = []
        self.responses: Dict[str, List[Dict[str, Any]]] = defaultdict(list)  # name -> JSON bodies
        self.files: Dict[str, Dict[str, Any]] = {}  # file id -> record
        self.home_views: Dict[str, Dict[str, Any]] = {}  # user id -> view

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> "SlackStandIn":
        if self._server is not None:
            return self
        server = _Server((self.host, 0), _Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="slack-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "SlackStandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("SlackStandIn is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}/respond/{name}"

    # ---- recording -------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every recorded call, message, file, view and pending fault (in place, so
        references to ``calls``, ``messages`` etc. stay valid)."""
        with self.lock:
            self.calls.clear()
            self.messages.clear()
            self.ephemerals.clear()
            self.responses.clear()
            self.files.clear()
            self.home_views.clear()
            self._faults.clear()

    def calls_to(self, method: str) -> List[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def summary(self) -> str:
        with self.lock:
            lines = [f"{len(self.calls)} call(s):"]
            for c in self.calls:
                outcome = "ok" if c.ok else (c.error or "failed")
                lines.append(f"  {c.method} -> HTTP {c.status} {outcome}")
            return "\n".join(lines)

    def wait_for(self, predicate: Callable[["SlackStandIn"], Any], timeout: float = 5,
                 interval: float = 0.02) -> Any:
        """Poll until ``predicate(self)`` is truthy (returns its value) or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                value = predicate(self)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s; {self.summary()}")
            time.sleep(interval)

    # ---- configuration ---------------------------------------------------------------

    def fail_next(self, method: str, status: int = 429, retry_after: Optional[int] = 1, times: int = 1,
                  error: Optional[str] = None) -> None:
        """Make the next ``times`` calls to ``method`` fail, then behave normally.

        ``method`` is a Web API method name, "respond" (any response_url) or "upload".
        status 429 answers with a ``Retry-After: <retry_after>`` header and
        ``{"ok": false, "error": "ratelimited"}``; other statuses answer
        ``{"ok": false, "error": "internal_error"}``.  With ``error=`` the body's error
        is that string instead (``status=200, error="channel_not_found"`` fakes a Slack
        error without the usual checks).
        """
        with self.lock:
            self._faults[method].append(_Fault(status, retry_after, times, error))

    def reset_next(self, method: str, times: int = 1) -> None:
        """Reset the connection (TCP RST, no answer) of the next ``times`` calls to ``method``
        (a Web API method name, or "upload" for step 2 of a file upload)."""
        with self.lock:
            self._resets[method] += times

    def _take_reset(self, method: str) -> bool:
        with self.lock:
            if self._resets.get(method, 0) <= 0:
                return False
            self._resets[method] -= 1
            return True

    @staticmethod
    def _reset(h: "_Handler") -> None:
        import socket
        import struct

        h.close_connection = True
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()

    def hold_next(self, method: str, after: bool = False) -> "Hold":
        """Keep the next call to ``method`` waiting (its request arrived, no answer yet) until
        ``hold.release`` is set; it is then answered with an error and nothing is recorded: the
        moment between a client's send and Slack's answer, for killing the client in it. With
        ``after=True`` the call is carried out first (the message is in the channel) and only its
        answer is held: the moment after Slack posted and before the client could record it."""
        hold = Hold(threading.Event(), threading.Event(), after)
        with self.lock:
            self._holds[method] = hold
        return hold

    def add_method(self, method: str, handler: Callable[[Dict[str, Any]], Dict[str, Any]]) -> None:
        """Serve an extra Web API method: ``handler(params) -> response dict`` (after auth)."""
        with self.lock:
            self._extra_methods[method] = handler

    # ---- helpers ---------------------------------------------------------------------

    def _next_ts(self) -> str:
        micros = next(self._ts) * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):09d}"

    def _take_fault(self, method: str) -> Optional[_Fault]:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    def _fault_response(self, fault: _Fault, *, as_json: bool) -> Tuple[int, Any, Dict[str, str]]:
        headers: Dict[str, str] = {}
        if fault.status == 429:
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            error = fault.error or "ratelimited"
        else:
            error = fault.error or "internal_error"
        body: Any = {"ok": False, "error": error} if as_json else error
        return fault.status, body, headers

    def _channel_id(self, value: Any) -> Optional[str]:
        """A channel id Slack would accept, or None: known C.. ids, any D.. DM id, a known
        user id (Slack opens the DM), or a known channel name ("sales" / "#sales")."""
        if not isinstance(value, str) or not value:
            return None
        if value in self.channels or value.startswith("D") or value in self.users:
            return value
        name = value.lstrip("#")
        for cid, cname in self.channels.items():
            if cname == name:
                return cid
        return None

    def _find_message(self, channel: str, ts: str) -> Optional[Dict[str, Any]]:
        for m in self.messages.get(channel, []):
            if m["ts"] == ts:
                return m
        return None

    # ---- request parsing -------------------------------------------------------------

    @staticmethod
    def _parse_params(content_type: str, raw: bytes, query: str) -> Tuple[Dict[str, Any], Optional[str]]:
        params: Dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        ctype = content_type.split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except ValueError:
                return params, "invalid_json"
            if not isinstance(body, dict):
                return params, "invalid_json"
            params.update({k: v for k, v in body.items() if v is not None})
        elif ctype == "multipart/form-data":
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw)
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name is None:
                    continue
                payload = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    params[name] = payload
                else:
                    params[name] = payload.decode("utf-8")
        elif raw:
            params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        for key in _JSON_FIELDS:
            value = params.get(key)
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value) if value.strip() else None
                except ValueError:
                    return params, _JSON_FIELD_ERRORS.get(key, "invalid_arguments")
                if params[key] is None:
                    del params[key]
        return params, None

    # ---- dispatch --------------------------------------------------------------------

    def _dispatch(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        raw = h._read_body() if h.command == "POST" else b""
        headers = dict(h.headers.items())
        if path.startswith("/api/"):
            method = unquote(path[len("/api/"):]).strip("/")
            if self._take_reset(method):
                return self._reset(h)
            with self.lock:
                hold = self._holds.pop(method, None)
            if hold is not None and not hold.after:
                hold.reached.set()
                hold.release.wait(60)
                try:
                    h._send(200, {"ok": False, "error": "request_timeout"})
                except OSError:  # the client is gone (killed)
                    pass
                return
            params, parse_error = self._parse_params(h.headers.get("Content-Type", ""), raw, parts.query)
            with self.lock:
                status, body, extra = self._api(method, params, headers, parse_error)
                self.calls.append(Call(method, params, headers, status, body, path))
            if hold is not None:  # carried out; its answer waits
                hold.reached.set()
                hold.release.wait(60)
        elif path.startswith("/upload/") and h.command == "POST":
            file_id = unquote(path[len("/upload/"):]).strip("/")
            if self._take_reset("upload"):
                return self._reset(h)
            with self.lock:
                status, body, extra = self._upload(file_id, raw)
                self.calls.append(Call("upload", {"file_id": file_id, "length": len(raw)}, headers,
                                       status, body, path))
        elif path.startswith("/respond/") and h.command == "POST":
            name = unquote(path[len("/respond/"):]).strip("/")
            with self.lock:
                params, status, body, extra = self._respond(name, h.headers.get("Content-Type", ""), raw)
                self.calls.append(Call("respond", params, headers, status, body, path))
        else:
            status, body, extra = 404, "not_found", {}
        h._send(status, body, extra)

    def _upload(self, file_id: str, raw: bytes) -> Tuple[int, Any, Dict[str, str]]:
        fault = self._take_fault("upload")
        if fault is not None:
            return self._fault_response(fault, as_json=False)
        record = self.files.get(file_id)
        if record is None:
            return 404, "file_not_found", {}
        record["bytes"] = raw
        return 200, f"OK - {len(raw)}", {}

    def _respond(self, name: str, content_type: str, raw: bytes) -> Tuple[Dict[str, Any], int, Any, Dict[str, str]]:
        params, parse_error = self._parse_params(content_type, raw, "")
        if "payload" in params and isinstance(params["payload"], str):  # incoming-webhook form style
            try:
                params = json.loads(params["payload"])
            except ValueError:
                parse_error = "invalid_payload"
        fault = self._take_fault("respond")
        if fault is not None:
            return (params, *self._fault_response(fault, as_json=False))
        if parse_error:
            return params, 400, "invalid_payload" if parse_error == "invalid_json" else parse_error, {}
        if "blocks" in params and block_errors(params["blocks"]):
            return params, 400, "invalid_blocks", {}
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
            return params, 400, "msg_too_long", {}
        if not (text or params.get("blocks") or params.get("attachments") or params.get("delete_original")):
            return params, 400, "no_text", {}
        self.responses[name].append(params)
        return params, 200, "ok", {}

    def _api(self, method: str, params: Dict[str, Any], headers: Dict[str, str],
             parse_error: Optional[str]) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_response(fault, as_json=True)
        if method == "apps.connections.open":  # Socket Mode: the app-level token, not the bot's
            auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
            if not self.app_token or auth != f"Bearer {self.app_token}" or not self.socket_url:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": self.socket_url}, {}
        handler = self._extra_methods.get(method) or self._METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        token = None
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if auth and auth.startswith("Bearer "):
            token = auth[len("Bearer "):].strip()
        elif isinstance(params.get("token"), str):
            token = params["token"]
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if parse_error:
            return 200, {"ok": False, "error": parse_error}, {}
        if method in self._extra_methods:
            return 200, handler(params), {}
        return 200, handler(self, params), {}

    # ---- Web API methods -------------------------------------------------------------

    def _auth_test(self, p: Dict[str, Any]) -> Dict[str, Any]:
        return {"ok": True, "url": "https://standin.slack.test/", "team": "Stand-in", "user": "bot",
                "team_id": self.team_id, "user_id": self.BOT_USER_ID, "bot_id": self.BOT_ID,
                "is_enterprise_install": False}

    def _conversations_members(self, p: Dict[str, Any]) -> Dict[str, Any]:
        channel = p.get("channel")
        if channel not in self.channels and channel not in self.members:
            return {"ok": False, "error": "channel_not_found"}
        everyone = self.members.get(channel, [*self.users, self.BOT_USER_ID])
        start = int(p.get("cursor") or 0)
        limit = max(1, min(int(p.get("limit") or 100), 1000))
        page = everyone[start:start + limit]
        more = start + limit < len(everyone)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _message_checks(self, p: Dict[str, Any], *, require_content: bool = True) -> Optional[Dict[str, Any]]:
        blocks = p.get("blocks")
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                return _invalid_blocks(errors)
        text = p.get("text")
        if text is not None and not isinstance(text, str):
            return {"ok": False, "error": "invalid_arguments"}
        if text is not None and len(text) > MAX_MESSAGE_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if require_content and not (text or blocks or p.get("attachments") or p.get("markdown_text")):
            return {"ok": False, "error": "no_text"}
        return None

    def _post_message(self, p: Dict[str, Any]) -> Dict[str, Any]:
        channel = self._channel_id(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        problem = self._message_checks(p)
        if problem:
            return problem
        ts = self._next_ts()
        message: Dict[str, Any] = {"type": "message", "user": self.BOT_USER_ID, "bot_id": self.BOT_ID,
                                   "team": self.team_id, "ts": ts, "text": p.get("text", "")}
        for key in ("blocks", "attachments", "thread_ts", "metadata", "markdown_text"):
            if key in p:
                message[key] = p[key]
        self.messages[channel].append(dict(message, channel=channel))
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _post_ephemeral(self, p: Dict[str, Any]) -> Dict[str, Any]:
        channel = self._channel_id(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        user = p.get("user")
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        problem = self._message_checks(p)
        if problem:
            return problem
        ts = self._next_ts()
        record = {"channel": channel, "user": user, "message_ts": ts, "text": p.get("text", "")}
        for key in ("blocks", "attachments", "thread_ts"):
            if key in p:
                record[key] = p[key]
        self.ephemerals.append(record)
        return {"ok": True, "message_ts": ts}

    def _update(self, p: Dict[str, Any]) -> Dict[str, Any]:
        channel = self._channel_id(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = p.get("ts")
        message = self._find_message(channel, ts) if isinstance(ts, str) else None
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        problem = self._message_checks(p)
        if problem:
            return problem
        for key in ("text", "blocks", "attachments", "metadata", "markdown_text"):
            if key in p:
                message[key] = p[key]
        message["edited"] = {"user": self.BOT_USER_ID, "ts": self._next_ts()}
        shown = {k: v for k, v in message.items() if k != "channel"}
        return {"ok": True, "channel": channel, "ts": ts, "text": message.get("text", ""), "message": shown}

    def _views_publish(self, p: Dict[str, Any]) -> Dict[str, Any]:
        user_id, view = p.get("user_id"), p.get("view")
        problems: List[str] = []
        if not isinstance(user_id, str) or not user_id:
            problems.append("missing required field: user_id")
        if not isinstance(view, dict):
            problems.append("missing required field: view")
        else:
            if view.get("type") != "home":
                problems.append("must be 'home' [json-pointer:/view/type]")
            problems += block_errors(view.get("blocks"), MAX_VIEW_BLOCKS, pointer="/view/blocks")
        if problems:
            return {"ok": False, "error": "invalid_arguments",
                    "response_metadata": {"messages": [f"[ERROR] {m}" for m in problems]}}
        published = dict(view, id=self._next_id("V"), team_id=self.team_id, hash=self._next_ts(),
                         bot_id=self.BOT_ID)
        self.home_views[user_id] = view
        return {"ok": True, "view": published}

    def _get_upload_url(self, p: Dict[str, Any]) -> Dict[str, Any]:
        filename, length = p.get("filename"), p.get("length")
        try:
            length = int(length)
        except (TypeError, ValueError):
            length = None
        if not filename or length is None or length < 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = self._next_id("F")
        self.files[file_id] = {"id": file_id, "bytes": None, "filename": filename, "length": length,
                               "title": None, "alt_txt": p.get("alt_txt"), "snippet_type": p.get("snippet_type"),
                               "channel_id": None, "initial_comment": None, "thread_ts": None,
                               "completed": False}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, p: Dict[str, Any]) -> Dict[str, Any]:
        files = p.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            return {"ok": False, "error": "invalid_arguments"}
        for f in files:
            record = self.files.get(f.get("id"))
            if record is None or record["bytes"] is None:
                return {"ok": False, "error": "file_not_found"}
        channel_ids: List[str] = []
        if p.get("channel_id"):
            channel_ids.append(p["channel_id"])
        if isinstance(p.get("channels"), str) and p["channels"]:
            channel_ids += [c.strip() for c in p["channels"].split(",") if c.strip()]
        for cid in channel_ids:
            if not (cid in self.channels or cid.startswith("D")):
                return {"ok": False, "error": "channel_not_found"}
        result = []
        for f in files:
            record = self.files[f["id"]]
            record.update(title=f.get("title") or record["filename"], completed=True,
                          channel_id=channel_ids[0] if channel_ids else None, channels=channel_ids,
                          initial_comment=p.get("initial_comment"), thread_ts=p.get("thread_ts"))
            result.append({"id": record["id"], "title": record["title"], "name": record["filename"],
                           "size": len(record["bytes"]), "alt_txt": record["alt_txt"],
                           "channels": [c for c in channel_ids if not c.startswith("D")],
                           "ims": [c for c in channel_ids if c.startswith("D")],
                           "user": self.BOT_USER_ID})
        return {"ok": True, "files": result}

    def _assistant_thread(self, p: Dict[str, Any]) -> Dict[str, Any]:
        """assistant.threads.setStatus / setSuggestedPrompts / setTitle: a known DM and a thread."""
        channel = self._channel_id(p.get("channel_id"))
        if channel is None or not str(channel).startswith("D"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    _METHODS: Dict[str, Callable[["SlackStandIn", Dict[str, Any]], Dict[str, Any]]] = {
        "assistant.threads.setStatus": _assistant_thread,
        "assistant.threads.setSuggestedPrompts": _assistant_thread,
        "assistant.threads.setTitle": _assistant_thread,
        "auth.test": _auth_test,
        "conversations.members": _conversations_members,
        "chat.postMessage": _post_message,
        "chat.postEphemeral": _post_ephemeral,
        "chat.update": _update,
        "views.publish": _views_publish,
        "files.getUploadURLExternal": _get_upload_url,
        "files.completeUploadExternal": _complete_upload,
    }
