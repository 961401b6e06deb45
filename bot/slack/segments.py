"""User-group membership for row-level access: who is in a Slack user group, kept for a few minutes.

The core's Policy (bot.core.access) decides who sees which segments from SEGMENT_ACCESS; a group's
members are the one thing it needs from Slack, handed to it as this callable.
"""
from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
GROUP_TTL = 300.0  # seconds a user group's member list is trusted


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
