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

    @classmethod
    def from_settings(cls, settings: Settings) -> "Access":
        return cls(settings.allowed_users, settings.allowed_channels, settings.reps_users)

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
