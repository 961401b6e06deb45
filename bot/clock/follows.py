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
from typing import Callable
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock.once import Message, Posting, Schedule, post_once
from bot.core.charts import chart_or_none
from bot.core.commands import Context, answer, resolve_command
from bot.core.data import DealData
from bot.core.render import render
from bot.core.scope import Scope
from bot.slack.access import Access
from bot.slack.blocks import assemble_blocks, fallback_text
from bot.store import Store, StoredFollow

log = logging.getLogger(__name__)

EVENT_TYPE = "sales_followed_question"


@dataclass(frozen=True)
class FollowSchedule:
    """Daily follows are due at `time` each day; weekly ones at `time` on `day` (the digest's day)."""

    day: str = "mon"
    time: str = "08:00"
    timezone: str = "UTC"

    def of(self, frequency: str) -> Schedule:
        return Schedule(frequency, self.day, self.time, self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def period(self, frequency: str, now: dt.datetime) -> str:
        return self.of(frequency).period(now)

    def due(self, frequency: str, now: dt.datetime) -> dt.datetime:
        return self.of(frequency).due(now)


@dataclass(frozen=True)
class FollowOutcome:
    follow_id: int
    status: str  # posted | recovered | already | not_due | muted | denied | failed | no_data
    period: str | None = None
    ts: str | None = None
    error: str | None = None


def post_follows(client: WebClient, store: Store, data: DealData, schedule: FollowSchedule, now: dt.datetime,
                 access: Access | None = None, scope_for: Callable[[str], Scope] | None = None) -> list[FollowOutcome]:
    """Post every follow that is due in its current period and not yet posted. Safe to call any number of times."""
    return [post_follow(client, store, data, schedule, f, now, access, scope_for) for f in store.follows()]


def post_follow(client, store, data, schedule, f: StoredFollow, now, access=None, scope_for=None) -> FollowOutcome:
    period = schedule.period(f.frequency, now)
    if f.muted(now):
        return FollowOutcome(f.id, "muted", period)
    if now.astimezone(schedule.tz) < schedule.due(f.frequency, now):
        return FollowOutcome(f.id, "not_due", period)
    if data.current is None:
        return FollowOutcome(f.id, "no_data", period, error=data.last_error)
    command = resolve_command(f.question.split()[0]) or ""
    destination = f.destination
    denial = access.denial(command, f.user_id, "D" if f.to_dm else destination) if access else None
    scope = scope_for(f.user_id) if scope_for else Scope.everything()
    if denial or scope.empty:
        log.warning("follow %s of %s not posted: %s", f.id, f.user_id, denial or "no segments")
        return FollowOutcome(f.id, "denied", period, error=denial or "no_segments")
    def destination() -> str:  # a DM's channel is opened only by the run that posts
        return open_dm(client, f.user_id) if f.to_dm else f.destination

    def build() -> Message:
        loaded = data.scoped(scope)
        reply = answer(loaded.snapshot, f.question, loaded.vocab,
                       Context(user_id=f.user_id, reps=access.may_see_reps(f.user_id) if access else True))
        text = render("text/follow_post.j2", f=f, body=reply.text, period=period,
                      scope=None if scope.unrestricted else scope.describe())
        return Message(fallback_text(reply.text), assemble_blocks(text), chart_or_none(reply.result))

    posting = Posting(store.follow_ledger(f.id, period), EVENT_TYPE, {"follow_id": f.id, "period": period},
                      destination, f"follow {f.id} ({period}) of {f.user_id}")
    posted = post_once(client, posting, build, now)
    return FollowOutcome(f.id, posted.status, period, posted.ts, posted.error)


def open_dm(client: WebClient, user_id: str) -> str:
    """The direct-message channel with a user (conversations.open, scope im:write), so the chart can
    follow into it; the user ID itself (Slack posts to their DM with the app) if that fails."""
    try:
        return client.conversations_open(users=user_id)["channel"]["id"]
    except (SlackApiError, KeyError, TypeError) as exc:
        log.warning("could not open a DM with %s (%s); posting to the user ID", user_id, exc)
        return user_id
