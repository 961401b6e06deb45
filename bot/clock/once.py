"""Post once: the one algorithm the weekly digest, the followed questions and the alerts share.

    claim the ledger row -> (taken over from a crashed run: look for its post) -> build -> post -> record

The ledger's unique key lets one run in, whatever the number of processes, restarts or retries;
a claim left past its lease by a run that died between posting and recording is taken over once,
after looking in the conversation for the post by its message metadata (`recovery.find_posted`).
A post that fails (or a message that cannot be built) is recorded as failed, so the retry tick
posts it later; it never stops the caller. Only the key, the destination and the message differ
between the kinds; the message is built only by the run that owns the claim.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock.recovery import find_posted
from bot.core.charts import Chart
from bot.slack.io import upload_chart
from bot.store import Ledger

log = logging.getLogger(__name__)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Schedule:
    """When a periodic post is due: daily at `time`, or weekly at `time` on `day`, in `timezone`.
    Its period (a date, or an ISO week such as 2026-W49) is the ledger's key."""

    frequency: str = "weekly"  # weekly | daily
    day: str = "mon"
    time: str = "09:00"
    timezone: str = "UTC"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def period(self, now: dt.datetime) -> str:
        local = now.astimezone(self.tz)
        if self.frequency == "daily":
            return local.date().isoformat()
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"

    def due(self, now: dt.datetime) -> dt.datetime:
        """This period's posting time (it may still be ahead of `now`)."""
        local = now.astimezone(self.tz)
        hour, minute = (int(x) for x in self.time.split(":")[:2])
        day = local.date()
        if self.frequency != "daily":
            day = day - dt.timedelta(days=local.weekday()) + dt.timedelta(days=WEEKDAYS.index(self.day))
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)


@dataclass(frozen=True)
class Message:
    text: str  # the notification text (plain, for the push notification and screen readers)
    blocks: list[dict]
    chart: Chart | None = None  # uploaded into the post's thread once it is posted


@dataclass(frozen=True)
class Posting:
    """What to post once: where its ledger row is, how it is found again, where it goes."""

    ledger: Ledger
    event_type: str  # message metadata naming the kind of post
    payload: dict  # ...and which one: the key a recovering run looks for
    destination: str | Callable[[], str]  # a channel ID, or how to find it (a DM is opened only when owned)
    describe: str  # for the log: "digest 2026-W49 to C0SALES"


class Withheld(Exception):
    """Raised by a build when the message may not be posted (its asker may no longer see it there);
    the claim is released as failed, so a later run judges it again."""


@dataclass(frozen=True)
class Posted:
    status: str  # posted | recovered | already | denied | failed
    ts: str | None = None
    channel: str | None = None
    error: str | None = None


def post_once(client: WebClient, posting: Posting, build: Callable[[], Message], now: dt.datetime) -> Posted:
    """Claim, post and record one message; safe to call any number of times from any process."""
    claim = posting.ledger.claim(now)
    if not claim.owned:
        return Posted("already", claim.ts)
    channel = posting.destination() if callable(posting.destination) else posting.destination
    if claim.recovering:
        ts = find_posted(client, channel, posting.event_type, posting.payload, now)
        if ts:  # the crashed run had posted; only its record was missing
            posting.ledger.posted(channel, ts, now)
            return Posted("recovered", ts, channel)
    try:
        message = build()
    except Withheld as refusal:
        log.warning("%s not posted: %s", posting.describe, str(refusal)[:200])
        posting.ledger.failed()
        return Posted("denied", error="refused")
    except Exception:  # a bug in an analysis: logged with its traceback; the retry tick tries again
        log.exception("%s: the message could not be made", posting.describe)
        posting.ledger.failed()
        return Posted("failed", error="internal_error")
    try:
        response = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks,
                                           metadata={"event_type": posting.event_type,
                                                     "event_payload": posting.payload})
    except SlackApiError as exc:
        return _failed(posting, exc.response.get("error", "unknown_error"))
    except Exception as exc:  # a connection error after the client's retries
        return _failed(posting, str(exc)[:200])
    ts, channel = response.get("ts"), response.get("channel") or channel
    posting.ledger.posted(channel, ts, now)
    if message.chart is not None:  # losing the chart never loses the post
        upload_chart(client, channel, message.chart, thread_ts=ts)
    return Posted("posted", ts, channel)


def _failed(posting: Posting, error: str) -> Posted:
    log.error("%s failed: %s", posting.describe, error)
    posting.ledger.failed()
    return Posted("failed", error=error)
