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


# -- every setting read anywhere, and the Slack manifest against the app --------------------------------------

CODE = [path for folder in ("bot", "insights") for path in sorted((ROOT / folder).rglob("*.py"))]
ENV_READ = re.compile(r'\b(?:os\.environ|os\.getenv|environ|env)(?:\.get\(|\[|\()\s*"([A-Z][A-Z0-9_]*)"')
# read by prefix (bot/config.py `_prefixed`) and handed to the source as lower-case option keys
PREFIXED = {"SALESFORCE_": ROOT / "insights" / "sources" / "salesforce.py",
            "HUBSPOT_": ROOT / "insights" / "sources" / "hubspot.py"}
NOT_SETTINGS = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}  # set by bot/__init__.py, not read


def settings_read_anywhere() -> set[str]:
    """Environment variables read by name anywhere in bot/ and insights/ (not WSGI's environ keys)."""
    names = set()
    for path in CODE:
        names |= set(ENV_READ.findall(path.read_text(encoding="utf-8")))
    return {n for n in names if not n.startswith(("HTTP_", "CONTENT_", "PATH_", "REQUEST_"))} - NOT_SETTINGS


def documented_settings() -> set[str]:
    """The variables in docs/configuration.md's table (first column) and those its prefixed rows list."""
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    names = set()
    for row in re.findall(r"^\|(.*)$", text, flags=re.MULTILINE):
        cells = row.split("|")
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", cells[0]))
        if re.search(r"`(SALESFORCE|HUBSPOT)_\*`", cells[0]) and len(cells) > 1:
            names |= set(re.findall(r"`((?:SALESFORCE|HUBSPOT)_[A-Z0-9_]+)`", cells[1]))
    return names


def test_the_readers_find_settings_outside_config_too():
    assert {"LOG_LEVEL", "CRM_DEAL_URL", "CURRENCY", "DEALS_ENGINE_CACHE", "DEALS_ENGINE_ROWS"} <= settings_read_anywhere()
    assert {"SLACK_BOT_TOKEN", "DEALS_ENGINE_CACHE", "HUBSPOT_ACCESS_TOKEN", "SALESFORCE_LOGIN_URL"} <= \
        documented_settings()


def test_every_setting_read_anywhere_is_documented_and_in_the_env_example():
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    example = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(encoding="utf-8"),
                             flags=re.MULTILINE))
    read = settings_read_anywhere()
    assert sorted(n for n in read if not mentions(text, n)) == [], "read in the code, not in docs/configuration.md"
    assert sorted(read - example) == [], "read in the code, not in .env.example"


def test_every_documented_setting_is_read_by_the_code():
    code = "\n".join(path.read_text(encoding="utf-8") for path in CODE)
    unread = []
    for name in sorted(documented_settings()):
        prefix = next((p for p in PREFIXED if name.startswith(p)), None)
        if prefix is not None:  # SALESFORCE_PAGE_SIZE is options["page_size"] in the source
            if f'"{name[len(prefix):].lower()}"' not in PREFIXED[prefix].read_text(encoding="utf-8"):
                unread.append(name)
        elif f'"{name}"' not in code:
            unread.append(name)
    assert unread == [], f"documented in docs/configuration.md but read nowhere: {unread}"


def manifest_data() -> dict:
    import yaml
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


def listener_sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "bot" / "slack").rglob("*.py")))


def test_the_manifest_declares_every_command_the_app_registers_and_no_other():
    from bot.core.commands import UMBRELLA
    declared = [c["command"].lstrip("/") for c in manifest_data()["features"]["slash_commands"]]
    assert len(declared) == len(set(declared))
    assert set(declared) == set(ALL_COMMANDS) | {UMBRELLA}


def test_the_manifest_subscribes_to_exactly_the_events_the_app_listens_to():
    source = listener_sources()
    listened = set(re.findall(r'\bapp\.event\(\s*"([a-z_.]+)"', source))
    assert {"app_home_opened", "app_mention", "message"} <= listened
    if "Assistant(" in source:  # Bolt's Assistant middleware listens to these two itself
        listened |= {"assistant_thread_started", "assistant_thread_context_changed"}
    subscribed = set(manifest_data()["settings"]["event_subscriptions"]["bot_events"])
    # a `message` listener is delivered only the message.* events the manifest subscribes to: DMs here
    wanted = (listened - {"message"}) | {"message.im"}
    assert subscribed == wanted


def test_every_manifest_scope_is_explained_in_the_slack_docs_and_no_other():
    scopes = set(manifest_data()["oauth_config"]["scopes"]["bot"])
    text = (DOCS / "slack.md").read_text(encoding="utf-8")
    table = text[text.index("**Why each scope**"):text.index("**Events**")]
    explained = {s for row in re.findall(r"^\|([^|]*)\|", table, flags=re.MULTILINE)
                 for s in re.findall(r"`([a-z_.]+:[a-z_.]+|commands)`", row)}
    assert explained == scopes
    events = text[text.index("**Events**"):text.index("**Events**") + 600]
    for event in manifest_data()["settings"]["event_subscriptions"]["bot_events"]:
        assert f"`{event}`" in events, event


def test_the_manifest_usage_hints_give_the_grammar_docs_commands_md_gives():
    documented = (DOCS / "commands.md").read_text(encoding="utf-8").replace("\\|", "|")
    checked = 0
    for command in manifest_data()["features"]["slash_commands"]:
        hint = command.get("usage_hint", "")
        if not hint.startswith("["):  # free-form hints (/alerts, /follow, /sales) show an example instead
            continue
        grammar = hint.split(" e.g. ")[0]
        assert f"| `{command['command']} {grammar}` |" in documented, (command["command"], grammar)
        checked += 1
    assert checked >= 9
