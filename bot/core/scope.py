"""Row-level access: the deals one person may see, as a Scope, and the Snapshot cut down to it.

A Scope is a tuple of grants; a grant is {dimension: allowed values}, AND-ed across dimensions; a
deal is visible when any grant matches it. `Scope.everything()` (no restriction) is what admins,
the CRO and users with no mapping get; `Scope.nothing()` sees no deals. Restricting builds a new
Snapshot of the visible closed and open deals, so every analysis, team baseline, chart and export
made from it sees only those rows: a regional VP's "team rate" is their region's, and other
regions do not appear even as names; its data report counts only those rows (a regional VP's
`/health` does not report the whole file). Which users and groups get which grants is decided by
`bot.core.access`; this module only applies it, as it applies the rep rule (`without_reps`).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot.core.grammar import norm
from insights.counting import counter_of
from insights.labels import match_key
from insights.schema import DIMENSION_ALIASES, DIMENSIONS
from insights.snapshot import Snapshot

SCOPE_NOT_APPLIED = ("Row-level access (SEGMENT_ACCESS) could not be applied to this source just now, so nothing "
                     "is shown rather than more than you may see.")

Grant = tuple[tuple[str, tuple[str, ...]], ...]
REP = "sales_rep_id"


def without_reps(snapshot: Snapshot) -> Snapshot:
    """The snapshot with the rep dimension out of the analyses' reach: no grouping, filter, segment
    search, driver, suggestion, deal owner or CSV column uses it (the same object when it has none)."""
    if REP not in snapshot.dimensions:
        return snapshot
    return dataclasses.replace(snapshot, dimensions=tuple(d for d in snapshot.dimensions if d != REP))


def dimension_of(name: str) -> str | None:
    """'region', 'product', 'source', 'rep', 'product_type'... -> the canonical dimension, or None."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in DIMENSIONS:
        return key
    return DIMENSION_ALIASES.get(key) or DIMENSION_ALIASES.get(key.replace("_", " "))


@dataclass(frozen=True)
class Scope:
    grants: tuple[Grant, ...] | None = None  # None: everything

    @classmethod
    def everything(cls) -> "Scope":
        return cls(None)

    @classmethod
    def nothing(cls) -> "Scope":
        return cls(())

    @classmethod
    def of(cls, grants) -> "Scope":
        """From dicts such as [{"region": ["APAC"]}]; order-insensitive, so equal scopes hash equally."""
        out = set()
        for grant in grants:
            if not grant:  # an empty grant restricts nothing
                return cls.everything()
            out.add(tuple(sorted((dim, tuple(sorted(set(values)))) for dim, values in grant.items())))
        return cls(tuple(sorted(out)))

    def intersect(self, other: "Scope") -> "Scope":
        """The deals both scopes may see: each pair of grants AND-ed (a dimension both restrict keeps the
        values they share; a pair sharing none matches nothing and is left out)."""
        if self.grants is None:
            return other
        if other.grants is None:
            return self
        out = []
        for a in self.grants:
            for b in other.grants:
                merged, ok = dict(a), True
                for dim, values in b:
                    if dim in merged:
                        shared = {match_key(dim, v) for v in values}
                        merged[dim] = tuple(v for v in merged[dim] if match_key(dim, v) in shared)
                        ok = bool(merged[dim])
                    else:
                        merged[dim] = values
                    if not ok:
                        break
                if ok:
                    out.append(merged)
        return Scope.of(out) if out else Scope.nothing()

    @property
    def unrestricted(self) -> bool:
        return self.grants is None

    @property
    def empty(self) -> bool:
        return self.grants == ()

    def describe(self) -> str:
        """'APAC', 'APAC or Europe · Enterprise': what this person sees, for the footer of their replies."""
        if self.grants is None:
            return "all deals"
        return "; ".join(" · ".join(" or ".join(v) for _, v in grant) for grant in self.grants) or "no deals"

    def _mask(self, frame: pd.DataFrame) -> np.ndarray:
        visible = np.zeros(len(frame), dtype=bool)
        for grant in self.grants or ():
            match = np.ones(len(frame), dtype=bool)
            for dim, values in grant:
                if dim not in frame.columns:
                    match[:] = False
                    break
                wanted = {match_key(dim, v) for v in values}
                column = frame[dim]
                if isinstance(column.dtype, pd.CategoricalDtype):  # each label looked at once, not each deal
                    hit = np.array([match_key(dim, c) in wanted for c in column.cat.categories] + [False])
                    match &= hit[column.cat.codes.to_numpy()]
                else:
                    match &= column.astype(str).map(lambda c: match_key(dim, c) in wanted).to_numpy(dtype=bool)
            visible |= match
        return visible

    def restrict(self, snapshot: Snapshot) -> Snapshot:
        """The snapshot with only the deals this scope may see (the same object when unrestricted)."""
        if self.grants is None:
            return snapshot
        counter = counter_of(snapshot)
        if counter is not None:  # counted where the data lives: the grants become the engine's WHERE
            return counter.restricted(self.grants)
        deals = snapshot.deals[self._mask(snapshot.deals)].reset_index(drop=True)
        open_deals = snapshot.open_deals[self._mask(snapshot.open_deals)].reset_index(drop=True)
        # a dimension every grant restricts keeps only the allowed values as its categories, so
        # other segments are not listed, suggested or shown with zero deals
        restricted = [set(dict(g)) for g in self.grants]
        common = set.intersection(*restricted) if restricted else set()
        for dim in common:
            if dim not in snapshot.dimensions:
                continue
            allowed = {match_key(dim, v) for g in self.grants for d, vs in g if d == dim for v in vs}
            categories = [c for c in snapshot.deals[dim].cat.categories if match_key(dim, c) in allowed]
            deals[dim] = deals[dim].cat.set_categories(categories)
            open_deals[dim] = open_deals[dim].cat.set_categories(categories)
        report = scoped_report(snapshot.report, deals, open_deals)
        return Snapshot(deals=deals, open_deals=open_deals, rejected=snapshot.rejected.iloc[0:0], report=report,
                        as_of=snapshot.as_of, dimensions=snapshot.dimensions)


def scoped_report(report, deals: pd.DataFrame, open_deals: pd.DataFrame):
    """The data report of the visible rows only: rows read are the visible deals, and the rows set aside
    (which cannot be placed in a segment with certainty) are not counted at all, nor the labels merged
    (counted over every deal, and naming segments the scope may not see)."""
    closed = deals["closed_date"] if "closed_date" in deals.columns else None
    closed_range = (closed.min().date(), closed.max().date()) if closed is not None and len(closed) else None
    missing = open_deals["deal_amount"].isna().sum() if "deal_amount" in open_deals.columns else 0
    undated = open_deals["created_date"].isna().sum() if "created_date" in open_deals.columns else 0
    return dataclasses.replace(report, rows_read=len(deals) + len(open_deals), closed_deals=len(deals),
                               open_deals=len(open_deals), set_aside={}, examples={}, closed_range=closed_range,
                               open_without_amount=int(missing), open_without_created=int(undated),
                               rows_outside_window=None, folded=())


def outside_scope(text: str, everything, visible) -> list[str]:
    """Segment values named in `text` that exist in the data (`everything`, a Vocabulary) but not in
    what this person may see (`visible`): 'Europe' for the APAC VP. Exact names (and aliases) only,
    up to four words, so ordinary words are never taken for segments."""
    words = [w for w in re.split(r"[\s,=]+", text) if w]
    found: list[str] = []
    for size in range(4, 0, -1):
        for k in range(len(words) - size + 1):
            key = norm(" ".join(words[k:k + size]))
            if not key or len(key) < 2:
                continue
            hidden = [v for _, v in everything.match(key, allow_prefix=False)]
            if hidden and not visible.match(key, allow_prefix=False):
                found.extend(v for v in hidden if v not in found)
    return found
