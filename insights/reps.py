"""/reps: who needs to act — each rep (or region, or any dimension) against the team, shrunk for luck.

Raw win rates of small books swing on luck, so each rate is also shown shrunk towards the team
rate with an empirical-Bayes beta-binomial prior (method of moments): a rep with twelve deals
moves most of the way to the team rate, a rep with three hundred barely moves. A rep is flagged
only when their rate is significantly below the rest of the team after Benjamini-Hochberg
correction across all reps tested.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .actions import Action, rank, rep_actions
from .counting import counts_of
from .query import Query
from .results import Comparison, Rate, Result, _round
from .selection import Selection
from .snapshot import Snapshot
from .stats import benjamini_hochberg, two_proportion_test
from .winrate import MIN_N


@dataclass(frozen=True, kw_only=True)
class RepRate(Rate):
    rep: str
    shrunk_win_rate: float | None
    p_value: float | None  # against the rest of the team, BH-adjusted across those tested
    significant: bool  # significantly below the rest of the team
    enough: bool
    vs_team: Comparison | None = None


@dataclass(kw_only=True)
class RepsResult(Result):
    dimension: str
    team: Rate
    prior_strength: float | None  # alpha + beta of the prior, in deals; None means no spread beyond luck
    spread_pp: float | None  # estimated real spread (sd) of rates beyond luck
    reps: list[RepRate] = field(default_factory=list)
    tested: int = 0
    flagged: int = 0
    actions: list[Action] = field(default_factory=list)
    min_n: int = MIN_N


def rep_performance(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> RepsResult:
    """Each rep (or the first grouping's values) against the rest of the team, raw and shrunk for luck."""
    sel = Selection(snapshot, query)
    dim = query.group_by[0] if query.group_by else "sales_rep_id"
    team = sel.overall
    fields = {"command": "reps", "as_of": snapshot.as_of, "query": query, "period": sel.period, "dimension": dim,
              "team": team, "min_n": min_n}
    if team.n == 0:
        return RepsResult(**fields, prior_strength=None, spread_pp=None, notes=["no_deals"])
    if dim not in snapshot.dimensions:  # an export without an owner column: nothing to compare
        return RepsResult(**fields, prior_strength=None, spread_pp=None, notes=["no_dimension"])
    counts = counts_of(snapshot, sel.current, (dim,))
    present = np.flatnonzero(counts.n > 0)
    won, n = counts.won[present].astype(float), counts.n[present].astype(float)
    mu = team.won / team.n
    alpha_beta = _prior_strength(won, n, mu)
    if alpha_beta is None:  # no spread beyond luck: the best estimate for everyone is the team rate
        spread_pp, shrunk = 0.0, np.full(len(n), mu)
    else:
        spread_pp = _round(100 * np.sqrt(mu * (1 - mu) / (alpha_beta + 1)), 2)
        shrunk = (won + mu * alpha_beta) / (n + alpha_beta)
    rows, tested = _rows(snapshot.values(dim), present, won, n, shrunk, team, min_n)
    return RepsResult(**fields, prior_strength=_round(alpha_beta, 1), spread_pp=spread_pp, reps=rows, tested=tested,
                      flagged=sum(r.significant for r in rows),
                      actions=rank(rep_actions(snapshot, query.filters, dim, team, rows)),
                      notes=["reps_uses_first_dimension"] if len(query.group_by) > 1 else [])


def _rows(labels, present, won, n, shrunk, team: Rate, min_n: int) -> tuple[list[RepRate], int]:
    """One row per rep with deals, lowest after-luck rate first, and how many were tested."""
    rest_won, rest_n = team.won - won, team.n - n
    enough = (n >= min_n) & (rest_n >= min_n)
    p, tests = two_proportion_test(won, n, rest_won, rest_n)
    p = np.where(enough, p, np.nan)
    adjusted, significant = benjamini_hochberg(p)
    rows = []
    for j, i in enumerate(present):
        rate = Rate.of(won[j], n[j])
        below = bool(significant[j]) and won[j] / n[j] < rest_won[j] / rest_n[j]
        vs_team = None
        if enough[j]:
            vs_team = Comparison.build(rate, Rate.of(rest_won[j], rest_n[j]), "rest of team", adjusted[j],
                                       significant[j], tests[j], int(enough.sum()))
        rows.append(RepRate(**rate.rate_fields(), rep=labels[i], shrunk_win_rate=_round(shrunk[j], 4),
                            p_value=vs_team.p_value if vs_team else None, significant=below,
                            enough=bool(enough[j]), vs_team=vs_team))
    # lowest after-luck rate first; ties (every rate shrunk to the team's) by the raw rate, then the larger n
    rows.sort(key=lambda r: (r.shrunk_win_rate, r.win_rate, -r.n))
    return rows, int(enough.sum())


def _prior_strength(won: np.ndarray, n: np.ndarray, mu: float) -> float | None:
    """alpha + beta of a Beta(mu) prior whose spread matches the rates' spread beyond binomial luck."""
    if len(n) < 3 or mu in (0.0, 1.0):
        return None
    rates = won / n
    observed = float(np.var(rates, ddof=1))
    luck = float(np.mean(mu * (1 - mu) / n))
    between = observed - luck
    if between <= 0:
        return None  # the spread is what luck alone produces: every rep shrinks to the team rate
    return max(mu * (1 - mu) / between - 1, 0.0)

