"""Posting the weekly Sales Health digest: once per channel per ISO week, through the ledger."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

from insights.snapshot import Snapshot

from bot.clock.once import Message, Posting, Schedule, post_once
from bot.core.charts import chart_or_none
from bot.core.digest import digest_text
from bot.core.render import values_shown
from bot.slack.blocks import assemble_blocks, fallback_text, styled_labels
from bot.store import Store

EVENT_TYPE = "sales_health_digest"  # message metadata that lets a recovering run find its own post


@dataclass(frozen=True)
class DigestSchedule:
    channel: str | None
    day: str = "mon"
    time: str = "09:00"
    timezone: str = "UTC"
    grace: dt.timedelta = dt.timedelta(hours=48)

    @property
    def weekly(self) -> Schedule:
        return Schedule("weekly", self.day, self.time, self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return self.weekly.tz

    def period(self, now: dt.datetime) -> str:
        """The ISO week a moment falls in, in the digest's time zone: the ledger's key."""
        return self.weekly.period(now)

    def due(self, now: dt.datetime) -> dt.datetime:
        """This week's posting time (it may still be ahead of `now`)."""
        return self.weekly.due(now)

    def in_window(self, now: dt.datetime) -> bool:
        """Past this week's posting time and not later than the grace period after it."""
        due = self.due(now)
        return due <= now.astimezone(self.tz) <= due + self.grace


def digest_blocks(text: str, labels: tuple[str, ...] = ()) -> list[dict]:
    return assemble_blocks(text, labels=labels)


@dataclass(frozen=True)
class DigestOutcome:
    status: str  # posted | recovered | already | failed | no_channel | not_due | no_data
    period: str | None = None
    ts: str | None = None
    error: str | None = None


def post_digest(client: WebClient, store: Store, schedule: DigestSchedule, snapshot: Snapshot | None,
                now: dt.datetime, data_error: str | None = None, reps: bool = True,
                notice: str | None = None, note: str | None = None) -> DigestOutcome:
    """This week's digest, posted once per channel (bot.clock.once). Safe to call any number of times.
    `reps`: whether the channel may read rep-level detail (then `snapshot` has no rep dimension either);
    `notice`: posted instead, once, when the channel may not be shown the digest (and why); `note`: a
    last line (the deals the channel's readers all see, when that is not every deal)."""
    if not schedule.channel:
        return DigestOutcome("no_channel")
    if snapshot is None and notice is None:
        return DigestOutcome("no_data", error=data_error)
    period = schedule.period(now)

    def build() -> Message:
        if notice is not None:
            return Message(fallback_text(notice), digest_blocks(notice), None)
        with values_shown() as shown:  # the deal ids it lists
            text, headline = digest_text(snapshot, data_error, reps=reps)
        if note:
            text = text.rstrip() + "\n" + note
        labels = styled_labels(snapshot, also=shown)  # a CRM label's styling characters shown as written
        return Message(fallback_text(text, labels), digest_blocks(text, labels), chart_or_none(headline))

    posting = Posting(store.digest_ledger(schedule.channel, period), EVENT_TYPE, {"period": period},
                      schedule.channel, f"digest for {period} to {schedule.channel}")
    posted = post_once(client, posting, build, now)
    return DigestOutcome(posted.status, period, posted.ts, posted.error)
