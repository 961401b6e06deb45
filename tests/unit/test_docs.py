"""The documentation keeps up with the code: every setting and command is documented, the README stays short."""
from __future__ import annotations

import re
from pathlib import Path

from bot.core.commands import ALL_COMMANDS


def _project_root() -> Path:
    """The folder holding pyproject.toml, wherever in tests/ this file lives."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise AssertionError("no pyproject.toml above " + __file__)


ROOT = _project_root()
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 170


def settings_read_by_config() -> set[str]:
    """The environment variable names bot/config.py reads, as env.get("NAME") or env["NAME"]."""
    source = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    return set(re.findall(r'\benv\.get\(\s*"([A-Z][A-Z0-9_]*)"', source)) | set(
        re.findall(r'\benv\[\s*"([A-Z][A-Z0-9_]*)"\s*\]', source))


def mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Z0-9_]){re.escape(name)}(?![A-Z0-9_])", text) is not None


def readme_doc_links() -> list[str]:
    """The docs/ files the README links to, without their #anchors."""
    return re.findall(r"\]\((docs/[^)#\s]+)", README.read_text(encoding="utf-8"))


def test_the_settings_parser_finds_the_settings_config_reads():
    names = settings_read_by_config()
    assert {"DEALS_SOURCE", "SLACK_BOT_TOKEN", "DATABASE_URL", "REFRESH_MINUTES", "PROGRESS_AFTER_SECONDS"} <= names
    assert len(names) >= 30


def test_every_setting_config_reads_is_in_the_configuration_docs():
    documented = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(name for name in settings_read_by_config() if not mentions(documented, name))
    assert missing == [], f"settings read in bot/config.py but not in docs/configuration.md: {missing}"


def test_every_setting_config_reads_is_in_the_env_example():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    missing = sorted(settings_read_by_config() - listed)
    assert missing == [], f"settings read in bot/config.py but not in .env.example: {missing}"


def test_every_command_is_in_the_commands_docs():
    documented = (DOCS / "commands.md").read_text(encoding="utf-8")
    missing = sorted(name for name in ALL_COMMANDS if not re.search(rf"`/{re.escape(name)}[\s`]", documented))
    assert missing == [], f"commands without a `/name` entry in docs/commands.md: {missing}"


def test_every_docs_file_the_readme_links_to_exists():
    links = readme_doc_links()
    assert links, "the README links to no docs/ file"
    broken = sorted(link for link in links if not (ROOT / link).is_file())
    assert broken == [], f"README links to missing files: {broken}"


def test_every_docs_file_is_listed_in_the_readme():
    linked = {Path(link).name for link in readme_doc_links()}
    unlisted = sorted(path.name for path in DOCS.glob("*.md") if path.name not in linked)
    assert unlisted == [], f"docs/ files the README does not point to: {unlisted}"


def test_the_readme_is_short_enough_to_finish():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the reference belongs in docs/"
