"""The Slack app manifest (manifest.yml) adapted to a public URL or to Socket Mode."""
from __future__ import annotations

import yaml

from bot.config import PROJECT_ROOT

MANIFEST = PROJECT_ROOT / "manifest.yml"
PLACEHOLDER = "https://YOUR-HOST"


def load_manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def manifest(url: str = PLACEHOLDER, socket_mode: bool = False) -> str:
    data = load_manifest()
    if socket_mode:
        data["settings"]["socket_mode_enabled"] = True
        data["settings"]["event_subscriptions"].pop("request_url", None)
        data["settings"]["interactivity"].pop("request_url", None)
        for command in data["features"]["slash_commands"]:
            command.pop("url", None)
    else:
        base = url.rstrip("/")
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).replace(PLACEHOLDER, base)
        return text
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def declared_commands() -> list[str]:
    return [c["command"].lstrip("/") for c in load_manifest()["features"]["slash_commands"]]
