"""Row-level access for Slack users: which segments each user, or each member of a user group, may see.

SEGMENT_ACCESS names a TOML or YAML file:

    admins = ["U0CRO"]        # see everything (as do ADMIN_USERS)
    others = "all"            # users not listed: "all" (default) or "none"

    [users.U0VPAPAC]          # a Slack user ID
    region = ["APAC"]

    [groups.S0EMEA]           # a Slack user group ID (needs the usergroups:read scope)
    region = ["Europe"]
    product = ["Enterprise", "Pro"]

A user's grants are their own entry plus every listed group they belong to; a deal is visible when
any grant matches it. Group membership is read with usergroups.users.list and kept for a few minutes.
"""
from __future__ import annotations

import logging
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.scope import Scope, dimension_of

log = logging.getLogger(__name__)
GROUP_TTL = 300.0  # seconds a user group's member list is trusted


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


@dataclass
class SegmentAccess:
    users: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    groups: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    others: str = "all"
    _members: dict = field(default_factory=dict, repr=False)  # group id -> (fetched at, frozenset of users)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_file(cls, path: str, admins: frozenset[str] = frozenset()) -> "SegmentAccess":
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise SegmentAccessError(f"cannot read SEGMENT_ACCESS file {p.name}: {exc.strerror or exc}") from exc
        try:
            data = yaml.safe_load(text) if p.suffix.lower() in (".yml", ".yaml") else tomllib.loads(text)
        except Exception as exc:
            raise SegmentAccessError(f"SEGMENT_ACCESS file {p.name} is not valid: {exc}") from exc
        return cls.from_dict(data or {}, admins)

    @classmethod
    def from_dict(cls, data: dict, admins: frozenset[str] = frozenset()) -> "SegmentAccess":
        others = str(data.get("others", "all")).lower()
        if others not in ("all", "none"):
            raise SegmentAccessError(f"others must be \"all\" or \"none\", not {others!r}")
        users = {str(u): _grant(f"users.{u}", t) for u, t in (data.get("users") or {}).items()}
        groups = {str(g): _grant(f"groups.{g}", t) for g, t in (data.get("groups") or {}).items()}
        return cls(users, groups, frozenset(admins) | frozenset(map(str, data.get("admins") or [])), others)

    def members(self, group: str, client: WebClient | None) -> frozenset[str] | None:
        """The group's members; the last known list when Slack cannot be asked; None when unknown."""
        with self._lock:
            cached = self._members.get(group)
        if cached and time.monotonic() - cached[0] < GROUP_TTL:
            return cached[1]
        if client is None:
            return cached[1] if cached else None
        try:
            users = frozenset(client.usergroups_users_list(usergroup=group).get("users") or [])
        except Exception as exc:  # keep what we knew; a user outside every grant sees by `others`
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else exc
            log.error("could not read user group %s: %s", group, error)
            return cached[1] if cached else None
        with self._lock:
            self._members[group] = (time.monotonic(), users)
        return users

    def scope_for(self, user_id: str | None, client: WebClient | None = None) -> Scope:
        if user_id in self.admins:
            return Scope.everything()
        grants, unknown = [], False
        if user_id in self.users:
            grants.append(self.users[user_id])
        for group, grant in self.groups.items():
            members = self.members(group, client)
            unknown |= members is None
            if user_id and members and user_id in members:
                grants.append(grant)
        if grants:
            return Scope.of(grants)
        if unknown:  # they might be in a group that limits them: see nothing rather than everything
            log.warning("user %s: user group membership unknown, showing no deals", user_id)
            return Scope.nothing()
        return Scope.everything() if self.others == "all" else Scope.nothing()
