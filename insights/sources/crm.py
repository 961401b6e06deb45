"""What the CRM sources (Salesforce, HubSpot) share: JSON over HTTP with retries, and a sync into a local
copy that still answers when the CRM is down.

The HTTP is the standard library's urllib (see salesforce.py for why): one request, retried on 429,
5xx and network errors with a growing pause (a 429's Retry-After when it gives one), raising `Refused`
for any other error status and `Unavailable` when the attempts run out. Callers turn those into
messages that name the setting to fix and never carry a token.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
import urllib.error
import urllib.request
from typing import Callable, Protocol

from ..load import ColumnMapping, DataError
from ..mapping import FALSE_FLAGS, TRUE_FLAGS

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_WAIT = 30.0  # seconds: the longest pause between attempts, whatever Retry-After asks


# what may look like a credential inside an error message a server wrote: a scheme and its value,
# a key=value of a secret-sounding name, or a long opaque run of token characters
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+\S+|\b(authorization|access_token|refresh_token|token|api_?key|"
                         r"client_secret|password|secret)\b([\s\"']*[:=][\s\"']*)(?:(?:bearer|basic)\s+)?[^\s,;\"'}]+|"
                         r"[A-Za-z0-9._~+/=!-]{24,}")
MAX_DETAIL = 200
MAX_ERROR_BODY = 16_384  # bytes of an error body read: enough for its JSON, not a flood


def _mask(match: re.Match) -> str:
    if match.group(1):
        return f"{match.group(1)} ***"
    if match.group(2):
        return f"{match.group(2)}{match.group(3)}***"
    return "***"


class Refused(Exception):
    """An error status that a retry will not cure (400, 401, 403, 404 ...); `text` is the body's start."""

    def __init__(self, status: int, reason: str, text: str):
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.reason, self.text = status, reason, text

    @property
    def detail(self) -> str:
        """What the body may add to a message a person reads: the error code and message fields of a JSON
        body (Salesforce's errorCode/message, OAuth's error/error_description, HubSpot's category/message),
        cut short, anything that looks like a credential masked. Never the raw body: a server (or a proxy)
        that echoes the request would put its Authorization header into /health and the data alert."""
        try:
            body = json.loads(self.text)
        except ValueError:
            return "no details given"
        item = body[0] if isinstance(body, list) and body else body
        if not isinstance(item, dict):
            return "no details given"
        code = next((str(item[k]) for k in ("errorCode", "error", "category") if isinstance(item.get(k), str)), "")
        message = next((str(item[k]) for k in ("message", "error_description") if isinstance(item.get(k), str)), "")
        text = ": ".join(p for p in (code, message) if p) or "no details given"
        text = _CREDENTIAL.sub(_mask, " ".join(text.split()))
        return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


class Unavailable(Exception):
    """Every attempt failed with a retryable status or a network error; `last` says how the last one did."""

    def __init__(self, last: str, attempts: int):
        super().__init__(f"{last} after {attempts} attempts")
        self.last, self.attempts = last, attempts


class SourceUnavailable(DataError):
    """The source failed but a local copy exists: `stale` is the Snapshot built from it."""

    def __init__(self, message: str, stale=None):
        super().__init__(message)
        self.stale = stale


class LocalCopy(Protocol):
    """The local copy of the synced records (implemented by bot.store.SourceCache)."""

    def state(self, name: str) -> dict | None: ...  # {"fields": [...], "watermark": str | None, "rows": int}
    def reset(self, name: str, fields: list[str]) -> None: ...
    def apply(self, name: str, records: list[dict], deleted: list[str], watermark: str | None,
              key: str = "Id", stamp: str = "SystemModstamp") -> None: ...
    def records(self, name: str) -> list[dict]: ...


def number(options: dict, key: str, default: float, prefix: str, low: float = 0, high: float = float("inf"),
           whole: bool = True) -> float:
    """A numeric setting (PREFIX_KEY), or a DataError naming it: never a traceback for a typo."""
    raw = options.get(key, default)
    try:
        value = int(str(raw).strip()) if whole else float(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        span = f"from {low:g}" + (f" to {high:g}" if high != float("inf") else " up")
        raise DataError(f"{prefix}{key.upper()} {raw!r} is not a {'whole ' if whole else ''}number {span}.")
    return value


def send_json(request: urllib.request.Request, retries: int = 3, timeout: float = 30.0,
              sleep: Callable[[float], None] = time.sleep) -> dict:
    """The request's JSON reply; retried on 429/5xx/network errors, `Refused` on any other error status."""
    last = ""
    retries = max(1, retries)
    for attempt in range(retries):
        wait = min(MAX_WAIT, 0.5 * 2 ** attempt)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
            try:
                return json.loads(payload or b"{}")
            except ValueError:
                raise Refused(200, "not JSON", payload[:300].decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:
            text = exc.read(MAX_ERROR_BODY).decode("utf-8", "replace")  # parsed for its fields, never shown
            if exc.code not in RETRY_STATUSES:
                raise Refused(exc.code, exc.reason, text) from None
            last = f"HTTP {exc.code} {exc.reason}"
            wait = retry_after(exc.headers.get("Retry-After"), wait)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last = f"cannot connect: {getattr(exc, 'reason', exc)}"
        if attempt + 1 < retries:
            sleep(wait)
    raise Unavailable(last, retries)


def retry_after(header: str | None, default: float) -> float:
    """Retry-After in seconds (the only form the CRMs send), capped; else the default pause."""
    try:
        return min(MAX_WAIT, max(0.0, float(header)))
    except (TypeError, ValueError):
        return default


def sync_or_local_copy(sync: Callable[[], dict], cache: LocalCopy, name: str, fields: list[str], frame,
                       noun: str, error: type[Exception]) -> None:
    """Run the sync; when it fails with `error` and the local copy holds rows of the same fields, raise
    SourceUnavailable carrying the Snapshot the copy makes (`frame()` returns it), so the bot answers from
    it. `noun` names the records in the message ("opportunities", "deals")."""
    try:
        sync()
    except error as exc:
        state = cache.state(name)
        if state and state.get("rows") and list(state.get("fields") or []) == fields:
            raise SourceUnavailable(f"{exc} Answering from the local copy of {state['rows']:,} {noun} "
                                    f"synced up to {state.get('watermark')}.", frame()) from exc
        raise


def crm_mapping(columns: dict[str, str], absent: list[str], mapping: ColumnMapping | None,
                stage_order: tuple[str, ...] = ()) -> ColumnMapping:
    """A CRM's built-in mapping (its fields onto the canonical schema, won/lost as true/false flags),
    under the user's mapping file, which overrides any of it."""
    base = mapping or ColumnMapping()
    won, lost = base.won_values, base.lost_values
    if not won and not lost:
        won, lost = TRUE_FLAGS, FALSE_FLAGS
    return dataclasses.replace(base, columns={**columns, **base.columns}, won_values=won, lost_values=lost,
                               absent=tuple(dict.fromkeys(tuple(absent) + base.absent)),
                               stage_order=base.stage_order or stage_order)
