"""The deal data the bot answers from: one Snapshot at a time, swapped whole on a good refresh."""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace
from typing import Callable

from insights.health import shrink_reason, unusable_reason
from insights.load import ColumnMapping, DataError
from insights.snapshot import Snapshot
from insights.sources import SourceSpec, load_source
from insights.sources.crm import SourceUnavailable

from bot.config import is_demo_source
from bot.core.grammar import Vocabulary
from bot.core.scope import Scope, without_reps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    snapshot: Snapshot
    vocab: Vocabulary
    loaded_at: dt.datetime


@dataclass(frozen=True)
class RefreshOutcome:
    ok: bool
    error: str | None = None
    rows_read: int = 0
    rows_set_aside: int = 0


class DealData:
    """Holds the current Snapshot. A refresh that fails keeps the last good one and records why."""

    def __init__(self, source: str | SourceSpec, mapping: str | None = None, as_of: dt.date | None = None,
                 cache=None, max_drop: float = 0.2, warm_up: Callable[[Loaded], None] | None = None):
        """`source` is a file path or a SourceSpec (database, Salesforce, HubSpot); `cache` is a CRM's local
        copy in the state store, which makes its refreshes incremental and survives an outage; `max_drop`
        (REFRESH_MAX_DROP) is the share of rows or closed deals a refresh may lose before it is held back;
        `warm_up` runs on new data before it goes live (the servers answer every command once with it)."""
        self.warm_up = warm_up
        self.max_drop = max_drop
        self._held: tuple | None = None  # what the last held-back refresh read: the same again is taken
        self.spec = SourceSpec(source) if isinstance(source, str) else source
        self.source = self.spec.describe()  # for logs and /health: no password, no token
        self.mapping, self.as_of, self.cache = mapping, as_of, cache
        self._current: Loaded | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()  # one refresh at a time; readers never wait
        self._views: dict = {}  # (Scope, reps) -> Loaded of the current data, for row-level access and the rep rule

    @property
    def current(self) -> Loaded | None:
        return self._current

    def scoped(self, scope: Scope | None) -> Loaded | None:
        """The current data as `scope` may see it (row-level access), cut once per refresh and scope."""
        return self.view(scope, reps=True)

    def view(self, scope: Scope | None, reps: bool = True) -> Loaded | None:
        """The current data as `scope` may see it, without the rep dimension when `reps` is False (the
        rep rule); each made once per refresh and kept with it."""
        loaded = self._current
        if loaded is None or ((scope is None or scope.unrestricted) and reps):
            return loaded
        key = (scope or Scope.everything(), reps)
        views = self._views
        if views.get("of") is not loaded:  # a new refresh: cut again
            views = self._views = {"of": loaded}
        hit = views.get(key)
        if hit is None:
            try:
                snapshot = key[0].restrict(loaded.snapshot)
            except DataError as exc:  # the engine could not count the scope's rows: nothing visible, never wider
                log.warning("a restricted scope on %s, counted where it lives, failed: %s (SEGMENT_ACCESS)",
                            self.source, exc)
                return None
            if not reps:
                snapshot = without_reps(snapshot)
            hit = views[key] = Loaded(snapshot, Vocabulary.from_snapshot(snapshot), loaded.loaded_at)
        return hit

    def refresh(self, check: bool = True) -> RefreshOutcome:
        """Load the source again and swap it in. With `check` (the clock, which decides), data that shrank
        sharply against the current is held back as suspect, unless the refresh before read exactly the
        same; without it (a web process following the clock's accepted refresh) it is taken as it is."""
        with self._lock:
            try:
                mapping = ColumnMapping.from_file(self.mapping) if self.mapping else None
                snapshot = marked_demo(load_source(self.spec, mapping, as_of=self.as_of, cache=self.cache), self.spec)
            except SourceUnavailable as exc:
                self.last_error = str(exc)
                log.error("refresh of %s failed: %s", self.source, exc)
                if self._current is None and exc.stale is not None and len(exc.stale.deals):
                    # started during an outage: answer from the source's local copy rather than not at all
                    copy = exc.stale if self.as_of is None else exc.stale.at(self.as_of)
                    stale = Loaded(copy, Vocabulary.from_snapshot(copy), dt.datetime.now(dt.timezone.utc))
                    if self.warm_up is not None:
                        self.warm_up(stale)
                    self._current = stale
                return RefreshOutcome(False, str(exc))
            except DataError as exc:
                self.last_error = str(exc)
                log.error("refresh of %s failed, keeping the last good data: %s", self.source, exc)
                return RefreshOutcome(False, str(exc))
            except Exception as exc:  # a bug or an unforeseen input: still a failed refresh, recorded and alerted
                log.exception("refresh of %s failed unexpectedly, keeping the last good data", self.source)
                self.last_error = f"the data could not be loaded ({type(exc).__name__}: {str(exc)[:200]})"
                return RefreshOutcome(False, self.last_error)
            if len(snapshot.deals) == 0:
                message = unusable_reason(snapshot)
                self.last_error = message
                log.error("refresh rejected, keeping the last good data: %s", message)
                return RefreshOutcome(False, message, snapshot.report.rows_read, snapshot.report.rows_set_aside)
            suspect = shrink_reason(self._current.snapshot, snapshot, self.max_drop) \
                if check and self._current is not None else None
            seen = (snapshot.report.rows_read, len(snapshot.deals), snapshot.as_of)
            if suspect and seen != self._held:  # the same smaller data twice in a row is what the source means
                self._held = seen
                self.last_error = suspect
                log.error("refresh of %s %s; keeping the last good data", self.source, suspect)
                return RefreshOutcome(False, suspect, snapshot.report.rows_read, snapshot.report.rows_set_aside)
            self._held = None
            loaded = Loaded(snapshot, Vocabulary.from_snapshot(snapshot), dt.datetime.now(dt.timezone.utc))
            if self.warm_up is not None:
                self.warm_up(loaded)
            # one assignment: readers see the old snapshot or the new one, never a mix
            self._current = loaded
            self.last_error = None
            return RefreshOutcome(True, None, snapshot.report.rows_read, snapshot.report.rows_set_aside)


def marked_demo(snapshot: Snapshot, spec: SourceSpec) -> Snapshot:
    """The snapshot, its report saying so when it is the bundled demo data: every reply, digest, alert
    and the Home tab then carry one line telling how to point the bot at real data."""
    if spec.kind != "file" or not is_demo_source(spec.location):
        return snapshot
    return replace(snapshot, report=replace(snapshot.report, demo=True))
