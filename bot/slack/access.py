"""Who may ask what, where: allow-lists of users and channels from the environment."""
from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings

RESTRICTED_COMMANDS = {"reps"}  # names people; may be limited to managers


@dataclass(frozen=True)
class Access:
    users: frozenset[str]
    channels: frozenset[str]
    managers: frozenset[str]
    admins: frozenset[str] = frozenset()  # ADMIN_USERS: may mute or remove any alert rule, snooze any alert

    @classmethod
    def from_settings(cls, settings: Settings) -> "Access":
        return cls(settings.allowed_users, settings.allowed_channels, settings.reps_users, settings.admin_users)

    def allowed_user(self, user_id: str | None) -> bool:
        """ALLOWED_USERS (everyone when empty): for buttons and the Home tab as for commands."""
        return not self.users or user_id in self.users

    def is_admin(self, user_id: str | None) -> bool:
        """ADMIN_USERS; when it is empty every allowed user may manage alert rules (as before)."""
        return self.allowed_user(user_id) and (not self.admins or user_id in self.admins)

    def may_see_reps(self, user_id: str | None) -> bool:
        """REPS_USERS: who may see individual reps' numbers (everyone allowed when it is empty). The
        core enforces it on every command, grouping, filter, digest preview and follow (Context.reps)."""
        return not self.managers or user_id in self.managers

    def denial(self, command: str, user_id: str | None, channel_id: str | None) -> str | None:
        """None when allowed, else the reason code the denial template words."""
        if self.users and user_id not in self.users:
            return "user"
        # direct messages with the bot are always allowed to allowed users
        if self.channels and channel_id not in self.channels and not (channel_id or "").startswith("D"):
            return "channel"
        if command in RESTRICTED_COMMANDS and self.managers and user_id not in self.managers:
            return "managers_only"
        return None
