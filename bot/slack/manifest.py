"""The Slack app manifest (manifest.yml) adapted to a public URL or to Socket Mode, and to a command prefix."""
from __future__ import annotations

import yaml

from bot.config import PROJECT_ROOT
from bot.core.commands import UMBRELLA  # `/sales <anything>`: the one command name that never takes the prefix

MANIFEST = PROJECT_ROOT / "manifest.yml"
PLACEHOLDER = "https://YOUR-HOST"


def load_manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def command_name(name: str, prefix: str = "") -> str:
    """The slash command's name in the workspace: /<prefix><name>, except the umbrella /sales."""
    return name if name == UMBRELLA or not prefix else f"{prefix}{name}"


def unprefixed(name: str, prefix: str = "") -> str:
    """The command's own name from the one Slack sent: sales-winrate -> winrate (with prefix sales-)."""
    name = name.lstrip("/").lower()
    if prefix and name != UMBRELLA and name.startswith(prefix):
        return name[len(prefix):]
    return name


def manifest(url: str = PLACEHOLDER, socket_mode: bool = False, prefix: str = "") -> str:
    if not socket_mode and not url.lower().startswith("https://"):
        raise ValueError(f"{url!r} is not an https:// URL")
    data = load_manifest()
    for command in data["features"]["slash_commands"]:
        command["command"] = "/" + command_name(command["command"].lstrip("/"), prefix)
    if socket_mode:
        data["settings"]["socket_mode_enabled"] = True
        data["settings"]["event_subscriptions"].pop("request_url", None)
        data["settings"]["interactivity"].pop("request_url", None)
        for command in data["features"]["slash_commands"]:
            command.pop("url", None)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).replace(PLACEHOLDER, url.rstrip("/"))


def declared_commands() -> list[str]:
    return [c["command"].lstrip("/") for c in load_manifest()["features"]["slash_commands"]]
