"""Posting followed questions: each follow once per day or ISO week, through its ledger.

Like the digest: a follow's (id, period) is claimed in `follow_ledger` before posting and the ts
recorded after; a second run, process or restart finds the claim. A claim left by a crashed run is
taken over after 10 minutes, first looking for the crashed run's message (by its metadata) so it
is not posted twice. The answer is asked (`ask()`) as the follower, where it is posted: their
row-level access, and reps only in a DM or where every reader may see them; it is not posted when
they may no longer ask it.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock.once import Message, Posting, Schedule, Withheld, post_once
from bot.core.access import Asker, Policy
from bot.core.ask import ask
from bot.core.data import DealData
from bot.core.render import render
from bot.slack.blocks import assemble_blocks, fallback_text, styled_labels
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
    asker = follower(policy, f)
    if not asker.allowed or asker.scope.empty:
        log.warning("follow %s of %s not posted: %s", f.id, f.user_id, asker.refusal or "no segments")
        return FollowOutcome(f.id, "denied", period, error=asker.refusal or ("channel_scope" if asker.for_channel else "no_segments"))

    def destination() -> str:  # a DM's channel is opened only by the run that posts
        return open_dm(client, f.user_id) if f.to_dm else f.destination

    def build() -> Message:
        reply = ask(data, asker, f.question, now=now)
        if reply.kind == "refused":  # e.g. a question naming reps, followed into a channel that may not see them
            raise Withheld(reply.text.strip())
        text = render("text/follow_post.j2", f=f, body=reply.text, period=period,
                      scope=None if asker.scope.unrestricted else asker.scope.describe(), for_channel=asker.for_channel)
        labels = styled_labels(reply.view, also=reply.shown)  # a CRM label's styling characters shown as written
        return Message(fallback_text(reply.text, labels), assemble_blocks(text, labels=labels), reply.chart())

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
