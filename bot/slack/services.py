"""What the listeners need, handed to them once instead of read from globals."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from bot.core.access import Asker, Policy
from bot.core.admin import worded_rules
from bot.core.data import DealData
from bot.core.follows import worded_follows
from bot.slack.pool import AnalysisPool
from bot.store import STORE_DOWN, Store

log = logging.getLogger(__name__)


@dataclass
class Services:
    data: DealData
    policy: Policy = field(default_factory=Policy)  # who may see what, where: the one access decision
    store: Store | None = None  # alert rules, fired alerts; None when no database is configured
    charts: bool = True
    snooze: dt.timedelta = dt.timedelta(days=7)
    command_prefix: str = ""  # COMMAND_PREFIX: /sales-winrate as well as /winrate
    analyses: AnalysisPool = field(default_factory=AnalysisPool)  # ANALYSIS_WORKERS, ANALYSIS_TIMEOUT_SECONDS
    progress_after: float = 1.0  # PROGRESS_AFTER_SECONDS: a slower answer in a thread shows "working on it…" first

    def follows(self, user_id: str | None) -> list[str] | None:
        """A user's followed questions, worded, for the Home tab; None when the state database is down."""
        if self.store is None or not user_id:
            return []
        try:
            return worded_follows(self.store, user_id, dt.datetime.now(dt.timezone.utc))
        except STORE_DOWN:
            log.warning("the state database is not answering: the Home tab shows no follows")
            return None

    def rules(self, asker: Asker) -> list[str] | None:
        """Active alert rules as `asker` may read them, worded, for the Home tab; None when the state
        database is down."""
        if self.store is None:
            return []
        visible = None
        if not asker.scope.unrestricted or not asker.reps:
            loaded = self.data.view(asker.scope, reps=asker.reps)
            if loaded is None:  # nothing to tell which rules they may read: none
                return []
            visible = loaded.vocab
        try:
            return worded_rules(self.store, dt.datetime.now(dt.timezone.utc), visible)
        except STORE_DOWN:
            log.warning("the state database is not answering: the Home tab shows no alert rules")
            return None
