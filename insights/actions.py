"""What to do first: a short ranked list built only from findings that passed their tests.

Each action carries its evidence (rates, n, p-value), its owner (the segment, rep or lead-source
mix) and the open pipeline at stake; actions are ranked by the open pipeline at stake times the
size of the gap. With no finding the list names what to watch instead, and says why it is not yet
a finding: the overlapping segments the data cannot tell apart when the story is "tangled", else
the largest contributors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import CYCLE_BANDS
from .counting import counter_of, open_total, open_without_amount
from .select import filter_mask
from .snapshot import Snapshot

MAX_ACTIONS = 5


@dataclass(frozen=True, kw_only=True)
class Action:
    kind: str  # rate_drop | rate_rise | mix_shift | below_team | rep_below | driver | watch | watch_tangled
    owner: str
    segment: dict[str, str]
    rate_now: float | None = None
    rate_before: float | None = None
    n: int = 0
    change_pp: float | None = None
    p_value: float | None = None
    open_deals: int | None = None
    open_amount: float | None = None
    open_without_amount: int = 0  # open deals with no amount: counted in open_deals, not in open_amount
    details: dict = field(default_factory=dict)
    priority: float = 0.0


def stake(snapshot: Snapshot, filters, segment: dict[str, str]) -> tuple[int, float, int]:
    """Open deals, their amount, and how many of them have no amount (left out of the sum)."""
    mask = _open_mask(snapshot, filters, segment)
    return (*open_total(snapshot, mask), open_without_amount(snapshot, mask))


def _open_mask(snapshot: Snapshot, filters, segment: dict[str, str]):
    spec = list(filters) + [(d, (v,)) for d, v in segment.items() if d != "cycle_band"]
    mask = filter_mask(snapshot, spec, open_pipeline=True)
    if "cycle_band" in segment:  # an open deal is "in" a cycle band once its age has reached it
        floor = _band_floor(segment["cycle_band"])
        counter = counter_of(snapshot)
        mask = counter.aged(mask, floor) if counter is not None else mask & _aged_at_least(snapshot, floor)
    return mask


def _band_floor(label: str) -> int:
    floor = 0
    for upper, name in CYCLE_BANDS:
        if name == label:
            return floor
        floor = int(upper)
    return floor


def _aged_at_least(snapshot: Snapshot, days: int) -> np.ndarray:
    age = (pd.Timestamp(snapshot.as_of) - snapshot.open_deals["created_date"]).dt.days.to_numpy()
    return age >= days


def _action(kind, owner, segment, snapshot, filters, gap_pp, **fields) -> Action:
    open_n, amount, blank = stake(snapshot, filters, segment)
    return Action(kind=kind, owner=owner, segment=segment, open_deals=open_n, open_amount=amount, open_without_amount=blank,
                  priority=round(amount * abs(gap_pp or 0) / 100, 2), change_pp=gap_pp, **fields)


def from_why(snapshot: Snapshot, why) -> list[Action]:
    filters = why.query.filters
    out = []
    for f in (c for c in why.contributors if c.label in why.findings):
        out.append(_action("rate_drop" if f.change_pp < 0 else "rate_rise", f.label, f.segment, snapshot, filters,
                           f.change_pp, rate_now=f.current.win_rate, rate_before=f.baseline.win_rate,
                           n=f.current.n, p_value=f.p_value,
                           details={"n_before": f.baseline.n, "period": why.period.label,
                                    "compare_period": why.compare_period.label}))
    if why.mix_dimension:
        dim = next(d for d in why.dimensions if d.dimension == why.mix_dimension)
        worst = min(dim.segments, key=lambda s: s.mix_effect_pp if why.change_pp < 0 else -s.mix_effect_pp)
        out.append(_action("mix_shift", f"{why.mix_dimension} mix", worst.segment, snapshot, filters,
                           dim.mix_effect_pp, p_value=dim.mix_p_value,
                           details={"dimension": why.mix_dimension, "value": worst.label,
                                    "share_now": worst.share_now, "share_before": worst.share_before,
                                    "mix_effect_pp": dim.mix_effect_pp, "period": why.period.label}))
    if not out and why.tangled:
        # the segments the data cannot tell apart are what to watch, not the next contributors
        out = [_watch(snapshot, c, filters, kind="watch_tangled",
                      details={"with": [t.label for t in why.tangled if t.label != c.label]})
               for c in why.tangled]
    if not out:
        out = [_watch(snapshot, c, filters) for c in why.contributors[:2] if (c.change_pp or 0) < 0]
    return out


def _watch(snapshot, c, filters, kind: str = "watch", details: dict | None = None) -> Action:
    return _action(kind, c.label, c.segment, snapshot, filters, c.change_pp, rate_now=c.current.win_rate,
                   rate_before=c.baseline.win_rate, n=c.current.n, p_value=c.p_value, details=details or {})


def from_risk(snapshot: Snapshot, risk) -> list[Action]:
    return risk_actions(snapshot, risk.query.filters, risk.overall, risk.segments)


def risk_actions(snapshot: Snapshot, filters, overall, segments) -> list[Action]:
    """A segment significantly below the rest of the selection, with its open pipeline at stake."""
    return [
        _action("below_team", s.label, s.segment, snapshot, filters, -s.shortfall_pp,
                rate_now=s.win_rate, rate_before=overall.win_rate, n=s.n, p_value=s.vs_rest.p_value,
                details={"impact_score": s.impact_score, "revenue_at_risk": s.revenue_at_risk})
        for s in segments if s.vs_rest.significant
    ]


def from_reps(snapshot: Snapshot, reps) -> list[Action]:
    return rep_actions(snapshot, reps.query.filters, reps.dimension, reps.team, reps.reps)


def rep_actions(snapshot: Snapshot, filters, dimension: str, team, reps) -> list[Action]:
    """A rep (or region...) significantly below the rest of the team, with their open pipeline."""
    return [
        _action("rep_below", r.rep, {dimension: r.rep}, snapshot, filters,
                r.vs_team.change_pp, rate_now=r.win_rate, rate_before=team.win_rate, n=r.n,
                p_value=r.p_value, details={"shrunk_win_rate": r.shrunk_win_rate})
        for r in reps if r.significant
    ]


def from_drivers(snapshot: Snapshot, drivers) -> list[Action]:
    return [
        _action("driver", f"{d.feature}={d.level}", {d.feature: d.level}, snapshot, drivers.query.filters,
                d.effect_pp, n=d.n, p_value=d.p_value,
                details={"reference": d.reference, "ci_low_pp": d.ci_low_pp, "ci_high_pp": d.ci_high_pp,
                         "feature": d.feature, "level": d.level})
        for d in drivers.drivers if d.significant and d.effect_pp < 0
    ]


def rank(actions: list[Action], limit: int = MAX_ACTIONS) -> list[Action]:
    """Findings first (watch items last), each group by pipeline at stake x gap; one action per owner."""
    seen, out = set(), []
    for a in sorted(actions, key=lambda a: (a.kind.startswith("watch"), -a.priority)):
        key = tuple(sorted(a.segment.items()))
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out[:limit]

