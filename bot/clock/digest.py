"""Posting the weekly Sales Health digest: once per channel per ISO week, through the ledger."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from insights.snapshot import Snapshot

from bot.clock.recovery import find_posted
from bot.core.charts import chart_or_none
from bot.core.digest import digest_text
from bot.slack.blocks import assemble_blocks, fallback_text
from bot.slack.io import upload_chart
from bot.store import Store

log = logging.getLogger(__name__)

EVENT_TYPE = "sales_health_digest"  # message metadata that lets a recovering run find its own post
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DigestSchedule:
    channel: str | None
    day: str = "mon"
    time: str = "09:00"
    timezone: str = "UTC"
    grace: dt.timedelta = dt.timedelta(hours=48)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def period(self, now: dt.datetime) -> str:
        """The ISO week a moment falls in, in the digest's time zone: the ledger's key."""
        year, week, _ = now.astimezone(self.tz).isocalendar()
        return f"{year}-W{week:02d}"

    def due(self, now: dt.datetime) -> dt.datetime:
        """This week's posting time (it may still be ahead of `now`)."""
        local = now.astimezone(self.tz)
        hour, minute = (int(x) for x in self.time.split(":")[:2])
        monday = local.date() - dt.timedelta(days=local.weekday())
        day = monday + dt.timedelta(days=WEEKDAYS.index(self.day))
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    def in_window(self, now: dt.datetime) -> bool:
        """Past this week's posting time and not later than the grace period after it."""
        due = self.due(now)
        return due <= now.astimezone(self.tz) <= due + self.grace


def digest_blocks(text: str) -> list[dict]:
    return assemble_blocks(text)


@dataclass(frozen=True)
class DigestOutcome:
    status: str  # posted | recovered | already | failed | no_channel | not_due | no_data
    period: str | None = None
    ts: str | None = None
    error: str | None = None


def post_digest(client: WebClient, store: Store, schedule: DigestSchedule, snapshot: Snapshot | None,
                now: dt.datetime, data_error: str | None = None, reps: bool = True) -> DigestOutcome:
    """Claim this week in the ledger, post, record the ts. Safe to call any number of times. `reps`:
    whether the channel may read rep-level detail (then `snapshot` has no rep dimension either)."""
    if not schedule.channel:
        return DigestOutcome("no_channel")
    if snapshot is None:
        return DigestOutcome("no_data", error=data_error)
    period = schedule.period(now)
    claim = store.claim_digest(schedule.channel, period, now)
    if not claim.owned:
        return DigestOutcome("already", period, claim.ts)
    if claim.recovering:
        ts = find_posted(client, schedule.channel, EVENT_TYPE, {"period": period}, now)
        if ts:  # the crashed run had posted; only its record was missing
            store.digest_posted(schedule.channel, period, ts, now)
            return DigestOutcome("recovered", period, ts)
    text, headline = digest_text(snapshot, data_error, reps=reps)
    try:
        response = client.chat_postMessage(channel=schedule.channel, text=fallback_text(text),
                                           blocks=digest_blocks(text),
                                           metadata={"event_type": EVENT_TYPE, "event_payload": {"period": period}})
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        log.error("digest for %s to %s failed: %s", period, schedule.channel, error)
        store.digest_failed(schedule.channel, period)
        return DigestOutcome("failed", period, error=error)
    except Exception as exc:  # connection errors after retries: the next run tries again
        log.error("digest for %s to %s failed: %s", period, schedule.channel, exc)
        store.digest_failed(schedule.channel, period)
        return DigestOutcome("failed", period, error=str(exc))
    ts = response.get("ts")
    store.digest_posted(schedule.channel, period, ts, now)
    chart = chart_or_none(headline)
    if chart is not None:
        upload_chart(client, schedule.channel, chart, thread_ts=ts)
    return DigestOutcome("posted", period, ts)
