"""Membership for row-level access: who is in a Slack user group, and who reads a channel, kept for a
few minutes.

The core's Policy (bot.core.access) decides who sees which segments from SEGMENT_ACCESS; a group's
members and a channel's members are the two things it needs from Slack, handed to it as callables.
"""
from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
GROUP_TTL = 300.0  # seconds a user group's (or a channel's) member list is trusted
MAX_CHANNEL_MEMBERS = 20_000  # past this a channel's members are not listed: it shows no deals (or its [channels] entry)


class GroupMembers:
    """`members(group)`: the group's members (usergroups.users.list); the last known list when Slack
    cannot be asked; None when unknown (the Policy then shows that user nothing rather than everything)."""

    def __init__(self, client: WebClient | None, ttl: float = GROUP_TTL):
        self.client, self.ttl = client, ttl
        self._known: dict[str, tuple[float, frozenset[str]]] = {}  # group id -> (fetched at, members)
        self._lock = threading.Lock()

    def __call__(self, group: str) -> frozenset[str] | None:
        with self._lock:
            cached = self._known.get(group)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        if self.client is None:
            return cached[1] if cached else None
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])
        except Exception as exc:  # keep what we knew; a user outside every grant sees by `others`
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("could not read user group %s: %s", group, error)
            return cached[1] if cached else None
        with self._lock:
            self._known[group] = (time.monotonic(), users)
        return users


class ChannelMembers:
    """`readers(channel)`: the channel's human readers (conversations.members, scopes channels:read and
    groups:read, without the bot itself); the last known list when Slack cannot be asked; None when
    unknown (the Policy then lets a post there show no deals rather than all)."""

    def __init__(self, client: WebClient | None, ttl: float = GROUP_TTL, limit: int = MAX_CHANNEL_MEMBERS):
        self.client, self.ttl, self.limit = client, ttl, limit
        self._known: dict[str, tuple[float, frozenset[str]]] = {}
        self._self: str | None = None
        self._lock = threading.Lock()

    def _me(self) -> str | None:
        if self._self is None and self.client is not None:
            self._self = self.client.auth_test().get("user_id")
        return self._self

    def __call__(self, channel: str) -> frozenset[str] | None:
        with self._lock:
            cached = self._known.get(channel)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        if self.client is None:
            return cached[1] if cached else None
        try:
            users: set[str] = set()
            cursor = None
            while True:
                page = self.client.conversations_members(channel=channel, limit=1000, cursor=cursor)
                users.update(page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
                if len(users) > self.limit:
                    log.error("channel %s has more than %d members: not listed", channel, self.limit)
                    return None
            users.discard(self._me())
        except Exception as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("could not read the members of channel %s: %s", channel, error)
            return cached[1] if cached else None
        members = frozenset(users)
        with self._lock:
            self._known[channel] = (time.monotonic(), members)
        return members
