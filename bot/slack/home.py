"""The App Home view: built from the same analyses and templates as the commands."""
from __future__ import annotations

from bot.core.ask import ask
from bot.core.render import render
from bot.slack.blocks import assemble_blocks, styled_labels
from bot.slack.services import Services

MAX_HOME_BLOCKS = 100


def home_view(services: Services, user_id: str | None = None) -> dict:
    """The Home tab as `user_id` may see it (only they read it): their row-level access, the alert
    rules about what they may see, their follows; someone outside ALLOWED_USERS sees only the denial
    (no numbers, no rules)."""
    asker = services.policy.asker(user_id)
    if not asker.allowed:
        text = render("text/denied.j2", reason=asker.refusal, command="home")
        return {"type": "home", "blocks": assemble_blocks(text, max_blocks=MAX_HOME_BLOCKS)}
    scope = asker.scope
    loaded = None if scope.empty else services.data.view(scope)
    trend = ask(services.data, asker, "/trend") if loaded else None  # the headline, as /trend answers it
    headline = trend.result if trend is not None and trend.kind == "answer" else None
    text = render("text/home.j2", loaded=loaded, t=headline, report=loaded.snapshot.report if loaded else None,
                  data_error=services.data.last_error, rules=services.rules(asker), follows=services.follows(user_id),
                  scope=None if scope.unrestricted else scope.describe())
    labels = styled_labels(loaded.snapshot if loaded else None)  # a CRM label (in a rule, a follow) shown as written
    return {"type": "home", "blocks": assemble_blocks(text, max_blocks=MAX_HOME_BLOCKS, labels=labels)}
