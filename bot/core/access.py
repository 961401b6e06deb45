"""Who may see what, where: the one access decision every front end asks for.

A `Policy` is built once per process from the settings: the allow-lists (ALLOWED_USERS,
ALLOWED_CHANNELS), who may see individual reps (REPS_USERS), who administers (ADMIN_USERS), the
channels an admin marks as managers' channels (MANAGER_CHANNELS) and the row-level segment map
(SEGMENT_ACCESS, whose user groups are read through a callable the Slack layer hands in, so the
core never talks to Slack). For each request it gives one `Asker`: the deals they may see (a
Scope), whether individual reps may be named, whether they administer, and the refusal, if any.

Where the answer will be read counts as much as who asks. A reply only the asker reads (an
ephemeral slash-command reply, a direct message, the assistant pane, the console) shows what the
asker may see. A post into a channel shows only what every reader may see: rep-level detail goes
only to managers' channels (or to everyone, when REPS_USERS is empty), and, with SEGMENT_ACCESS, only
the deals every member of the channel may see: the channel's own entry in the file when an admin gave
it one, else what its members' scopes have in common (their list read through a second callable),
else, when its members cannot be known, nothing. The digest and the alerts, posted on nobody's
behalf, are judged by their channel alone (`Policy.channel`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Callable

from insights.load.column_mapping import read_settings_file

from bot.config import Settings
from bot.core.scope import Scope, dimension_of

log = logging.getLogger(__name__)

# A user group's members (a frozenset of user IDs), or None when they cannot be known right now.
Members = Callable[[str], "frozenset[str] | None"]


class Audience(StrEnum):
    PRIVATE = "private"  # only the asker reads it: an ephemeral reply, a DM, the assistant pane, the console
    MANAGERS = "managers"  # a channel in MANAGER_CHANNELS
    CHANNEL = "channel"  # any other shared channel


@dataclass(frozen=True)
class Asker:
    """One request's access, decided once: every front end passes it to `ask()` unchanged."""

    user: str | None
    scope: Scope = field(default_factory=Scope.everything)
    reps: bool = True  # individual reps may be named (their figures, deal owners)
    admin: bool = True  # may change any alert rule, snooze any alert, read /feedback
    refusal: str | None = None  # the denial template's reason code; None: allowed
    channel: str | None = None  # where it was asked (for `/follow ... here`)
    audience: Audience = Audience.PRIVATE
    reps_alone: bool = True  # the asker may see reps in an answer only they read (REPS_USERS)
    reps_here: bool = True  # a post into `channel` on their behalf may name reps (a follow posted "here")
    for_channel: bool = False  # `scope` was narrowed to what everyone in the channel may see
    deals_here: bool = True  # a post into `channel` on their behalf would show some deals (a follow "here")

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def shared(self) -> bool:
        """The answer is read by others than the asker."""
        return self.audience is not Audience.PRIVATE


def is_direct(channel: str | None) -> bool:
    """A direct message with the bot (Slack's DM conversation IDs start with D)."""
    return (channel or "").startswith("D")


class SegmentAccessError(ValueError):
    pass


def _grant(where: str, table) -> dict[str, tuple[str, ...]]:
    if not isinstance(table, dict) or not table:
        raise SegmentAccessError(f"{where} must be a table such as region = [\"APAC\"]")
    grant = {}
    for name, values in table.items():
        dim = dimension_of(str(name))
        if dim is None:
            raise SegmentAccessError(f"{where}: {name!r} is not a dimension (region, industry, product, source, "
                                     "stage, rep, size, cycle)")
        values = [values] if isinstance(values, str) else list(values or [])
        if not values or not all(isinstance(v, str) and v.strip() for v in values):
            raise SegmentAccessError(f"{where}.{name} must list one or more values")
        grant[dim] = tuple(v.strip() for v in values)
    return grant


@dataclass(frozen=True)
class SegmentMap:
    """SEGMENT_ACCESS: which users, and which members of which user groups, see which segments.

        admins = ["U0CRO"]        # see everything (as do ADMIN_USERS)
        others = "all"            # users not listed: "all" (default) or "none"

        [users.U0VPAPAC]          # a Slack user ID
        region = ["APAC"]

        [groups.S0EMEA]           # a Slack user group ID (needs the usergroups:read scope)
        region = ["Europe"]
        product = ["Enterprise", "Pro"]

        [channels]                # optional: what a post into a channel may show
        C0LEADERS = "all"         # every deal
        [channels.C0APAC]         # only APAC's deals
        region = ["APAC"]

    A user's grants are their own entry plus every listed group they belong to; a deal is visible
    when any grant matches it. A channel without an entry shows what all its members may see."""

    users: dict = field(default_factory=dict, hash=False)  # user id -> {dimension: values}
    groups: dict = field(default_factory=dict, hash=False)  # group id -> {dimension: values}
    admins: frozenset[str] = frozenset()
    others: str = "all"
    channels: dict = field(default_factory=dict, hash=False)  # channel id -> Scope

    @classmethod
    def from_file(cls, path: str, admins: frozenset[str] = frozenset()) -> "SegmentMap":
        p = Path(path)
        try:
            data = read_settings_file(p)
        except OSError as exc:
            raise SegmentAccessError(f"cannot read SEGMENT_ACCESS file {p.name}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise SegmentAccessError(f"SEGMENT_ACCESS file {p.name} is not valid: {exc}") from exc
        return cls.from_dict(data or {}, admins)

    @classmethod
    def from_dict(cls, data: dict, admins: frozenset[str] = frozenset()) -> "SegmentMap":
        others = str(data.get("others", "all")).lower()
        if others not in ("all", "none"):
            raise SegmentAccessError(f"others must be \"all\" or \"none\", not {others!r}")
        users = {str(u): _grant(f"users.{u}", t) for u, t in (data.get("users") or {}).items()}
        groups = {str(g): _grant(f"groups.{g}", t) for g, t in (data.get("groups") or {}).items()}
        channels = {}
        for c, t in (data.get("channels") or {}).items():
            if isinstance(t, str) and t.strip().lower() in ("all", "none"):
                channels[str(c)] = Scope.everything() if t.strip().lower() == "all" else Scope.nothing()
            else:
                channels[str(c)] = Scope.of([_grant(f"channels.{c}", t)])
        return cls(users, groups, frozenset(admins) | frozenset(map(str, data.get("admins") or [])), others,
                   channels)

    def scope_for(self, user_id: str | None, members: Members | None = None) -> Scope:
        if user_id in self.admins:
            return Scope.everything()
        grants, unknown = [], False
        if user_id in self.users:
            grants.append(self.users[user_id])
        for group, grant in self.groups.items():
            known = members(group) if members is not None else None
            unknown |= known is None
            if user_id and known and user_id in known:
                grants.append(grant)
        if grants:
            return Scope.of(grants)
        if unknown:  # they might be in a group that limits them: see nothing rather than everything
            log.warning("user %s: user group membership unknown, showing no deals", user_id)
            return Scope.nothing()
        return Scope.everything() if self.others == "all" else Scope.nothing()

    def channel_scope(self, channel: str | None, readers: Members | None, members: Members | None = None) -> Scope:
        """What a post into `channel` may show: its entry when it has one, else what every one of its
        readers (`readers(channel)`: the channel's members) may see, else, when they cannot be known,
        nothing (a post that might reach someone limited shows no deals rather than all)."""
        if channel in self.channels:
            return self.channels[channel]
        who = readers(channel) if readers is not None and channel else None
        if who is None:
            log.warning("channel %s: its members are unknown, so a post there shows no deals", channel)
            return Scope.nothing()
        scope = Scope.everything()
        for user in sorted(who):
            scope = scope.intersect(self.scope_for(user, members))
            if scope.empty:
                break
        return scope


@dataclass(frozen=True)
class Policy:
    """The settings' access rules; `asker()` decides one request, `channel()` one post on nobody's behalf."""

    users: frozenset[str] = frozenset()  # ALLOWED_USERS: everyone when empty
    channels: frozenset[str] = frozenset()  # ALLOWED_CHANNELS: every channel when empty (DMs always)
    managers: frozenset[str] = frozenset()  # REPS_USERS: who may see individual reps; everyone when empty
    admins: frozenset[str] = frozenset()  # ADMIN_USERS: every allowed user administers when empty
    manager_channels: frozenset[str] = frozenset()  # MANAGER_CHANNELS: channels where reps may be shown
    segments: SegmentMap | None = None  # SEGMENT_ACCESS; None: everyone sees every deal
    members: Members | None = field(default=None, compare=False)  # user-group membership, from the Slack layer
    readers: Members | None = field(default=None, compare=False)  # a channel's members, from the Slack layer

    @classmethod
    def from_settings(cls, settings: Settings, members: Members | None = None,
                      readers: Members | None = None) -> "Policy":
        """Raises SegmentAccessError when the SEGMENT_ACCESS file cannot be used."""
        segments = SegmentMap.from_file(settings.segment_access, settings.admin_users) \
            if settings.segment_access else None
        return cls(settings.allowed_users, settings.allowed_channels, settings.reps_users, settings.admin_users,
                   settings.manager_channels, segments, members, readers)

    def allowed_user(self, user: str | None) -> bool:
        return not self.users or user in self.users

    def is_admin(self, user: str | None) -> bool:
        return self.allowed_user(user) and (not self.admins or user in self.admins)

    def audience(self, channel: str | None, posted: bool) -> Audience:
        if not posted or not channel or is_direct(channel):
            return Audience.PRIVATE
        return Audience.MANAGERS if channel in self.manager_channels else Audience.CHANNEL

    def reps_for(self, user: str | None, audience: Audience) -> bool:
        """Reps may be named when every reader may see them: the asker (REPS_USERS), and in a shared
        channel that is not a managers' channel, everyone (REPS_USERS empty)."""
        if not self.managers:
            return True
        return audience is not Audience.CHANNEL and user in self.managers

    def scope_for(self, user: str | None) -> Scope:
        return self.segments.scope_for(user, self.members) if self.segments is not None else Scope.everything()

    def channel_scope(self, channel: str | None) -> Scope:
        """What every reader of a post into `channel` may see (every deal without SEGMENT_ACCESS)."""
        if self.segments is None:
            return Scope.everything()
        return self.segments.channel_scope(channel, self.readers, self.members)

    def asker(self, user: str | None, channel: str | None = None, posted: bool = False) -> Asker:
        """`user` asking in `channel`; `posted`: the answer goes into the channel for everyone there
        (a mention, "Share in channel", a follow posted "here"), not only to the asker."""
        audience = self.audience(channel, posted)
        refusal = None
        if not self.allowed_user(user):
            refusal = "user"
        elif self.channels and channel and channel not in self.channels and not is_direct(channel):
            refusal = "channel"
        scope = self.scope_for(user) if refusal is None else Scope.nothing()
        limited = refusal is None and self.segments is not None
        here = scope.intersect(self.channel_scope(channel)) \
            if limited and self.audience(channel, True) is not Audience.PRIVATE else scope
        narrowed = limited and audience is not Audience.PRIVATE
        return Asker(user, here if narrowed else scope, self.reps_for(user, audience), self.is_admin(user), refusal,
                     channel, audience, reps_alone=self.reps_for(user, Audience.PRIVATE),
                     reps_here=self.reps_for(user, self.audience(channel, True)), for_channel=narrowed,
                     deals_here=not here.empty)

    def channel(self, channel: str | None) -> Asker:
        """A post into `channel` on nobody's behalf (the digest, alerts): the deals and reps every reader
        may see; it changes no rule."""
        audience = self.audience(channel, True)
        reps = not self.managers or audience is Audience.MANAGERS
        return Asker(None, self.channel_scope(channel), reps, False, None, channel, audience, reps_alone=reps,
                     reps_here=reps, for_channel=self.segments is not None)
