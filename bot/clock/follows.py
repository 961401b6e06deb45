"""Posting followed questions: each follow once per day or ISO week, through its ledger.

Like the digest: a follow's (id, period) is claimed in `follow_ledger` before posting and the ts
recorded after; a second run, process or restart finds the claim. A claim left by a crashed run is
taken over after 10 minutes, first looking for the crashed run's message (by its metadata) so it
is not posted twice. The answer is made as the follower would see it (their row-level access) and
is not posted when they may no longer ask it.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock.recovery import find_posted
from bot.core.access import Asker, Policy
from bot.core.ask import ask
from bot.core.data import DealData
from bot.core.render import render
from bot.slack.blocks import assemble_blocks, fallback_text
from bot.slack.io import upload_chart
from bot.store import Store, StoredFollow

log = logging.getLogger(__name__)

EVENT_TYPE = "sales_followed_question"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class FollowSchedule:
    """Daily follows are due at `time` each day; weekly ones at `time` on `day` (the digest's day)."""

    day: str = "mon"
    time: str = "08:00"
    timezone: str = "UTC"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def period(self, frequency: str, now: dt.datetime) -> str:
        local = now.astimezone(self.tz)
        if frequency == "daily":
            return local.date().isoformat()
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"

    def due(self, frequency: str, now: dt.datetime) -> dt.datetime:
        local = now.astimezone(self.tz)
        hour, minute = (int(x) for x in self.time.split(":")[:2])
        day = local.date()
        if frequency != "daily":
            day = day - dt.timedelta(days=local.weekday()) + dt.timedelta(days=WEEKDAYS.index(self.day))
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)


@dataclass(frozen=True)
class FollowOutcome:
    follow_id: int
    status: str  # posted | recovered | already | not_due | muted | denied | failed | no_data
    period: str | None = None
    ts: str | None = None
    error: str | None = None


def post_follows(client: WebClient, store: Store, data: DealData, schedule: FollowSchedule, now: dt.datetime,
                 policy: Policy | None = None) -> list[FollowOutcome]:
    """Post every follow that is due in its current period and not yet posted. Safe to call any number of times."""
    return [post_follow(client, store, data, schedule, f, now, policy) for f in store.follows()]


def follower(policy: Policy | None, f: StoredFollow) -> Asker:
    """The follower asking where the follow is posted: a DM only they read, or a channel everyone there reads."""
    if policy is None:
        return Asker(f.user_id)
    return policy.asker(f.user_id, None if f.to_dm else f.destination, posted=not f.to_dm)


def post_follow(client, store, data, schedule, f: StoredFollow, now, policy: Policy | None = None) -> FollowOutcome:
    period = schedule.period(f.frequency, now)
    if f.muted(now):
        return FollowOutcome(f.id, "muted", period)
    if now.astimezone(schedule.tz) < schedule.due(f.frequency, now):
        return FollowOutcome(f.id, "not_due", period)
    if data.current is None:
        return FollowOutcome(f.id, "no_data", period, error=data.last_error)
    destination = f.destination
    asker = follower(policy, f)
    if not asker.allowed or asker.scope.empty:
        log.warning("follow %s of %s not posted: %s", f.id, f.user_id, asker.refusal or "no segments")
        return FollowOutcome(f.id, "denied", period, error=asker.refusal or "no_segments")
    claim = store.claim_follow(f.id, period, now)
    if not claim.owned:
        return FollowOutcome(f.id, "already", period, claim.ts)
    if f.to_dm:  # the DM's channel: where the post goes and where a crashed run's post is looked for
        destination = open_dm(client, f.user_id)
    if claim.recovering:
        ts = find_posted(client, destination, EVENT_TYPE, {"follow_id": f.id, "period": period}, now)
        if ts:
            store.follow_posted(f.id, period, destination, ts, now)
            return FollowOutcome(f.id, "recovered", period, ts)
    reply = ask(data, asker, f.question, now=now)
    if reply.kind == "refused":  # e.g. a question naming reps, followed into a channel that may not see them
        log.warning("follow %s of %s not posted: %s", f.id, f.user_id, reply.text.strip()[:200])
        store.follow_failed(f.id, period)
        return FollowOutcome(f.id, "denied", period, error="refused")
    text = render("text/follow_post.j2", f=f, body=reply.text, period=period,
                  scope=None if asker.scope.unrestricted else asker.scope.describe())
    try:
        response = client.chat_postMessage(channel=destination, text=fallback_text(reply.text),
                                           blocks=assemble_blocks(text),
                                           metadata={"event_type": EVENT_TYPE,
                                                     "event_payload": {"follow_id": f.id, "period": period}})
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        log.error("follow %s (%s) to %s failed: %s", f.id, period, destination, error)
        store.follow_failed(f.id, period)
        return FollowOutcome(f.id, "failed", period, error=error)
    except Exception as exc:  # connection errors after retries: the next run tries again
        log.error("follow %s (%s) to %s failed: %s", f.id, period, destination, exc)
        store.follow_failed(f.id, period)
        return FollowOutcome(f.id, "failed", period, error=str(exc))
    ts, channel = response.get("ts"), response.get("channel") or destination
    store.follow_posted(f.id, period, channel, ts, now)
    chart = reply.chart()
    if chart is not None:
        upload_chart(client, channel, chart, thread_ts=ts)
    return FollowOutcome(f.id, "posted", period, ts)


def open_dm(client: WebClient, user_id: str) -> str:
    """The direct-message channel with a user (conversations.open, scope im:write), so the chart can
    follow into it; the user ID itself (Slack posts to their DM with the app) if that fails."""
    try:
        return client.conversations_open(users=user_id)["channel"]["id"]
    except (SlackApiError, KeyError, TypeError) as exc:
        log.warning("could not open a DM with %s (%s); posting to the user ID", user_id, exc)
        return user_id
