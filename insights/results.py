"""Result types: small dataclasses with stable JSON keys, one family per analysis.

Every rate carries won, lost, n and a 95% Wilson interval; every comparison carries its test,
its p-value (Benjamini-Hochberg adjusted where several were tested) and whether it is significant.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from .periods import Period
from .query import Query
from .stats import wilson_interval


def _round(x, digits):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def _sig(x, digits=4):
    """Round a p-value to significant digits, so tiny values stay visible."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    x = float(x)
    return 0.0 if x == 0 else float(f"{x:.{digits}g}")


@dataclass(frozen=True, kw_only=True)
class Rate:
    won: int
    lost: int
    n: int
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None

    @classmethod
    def of(cls, won, n) -> "Rate":
        won, n = int(won), int(n)
        if n == 0:
            return cls(won=0, lost=0, n=0, win_rate=None, ci_low=None, ci_high=None)
        low, high = wilson_interval(won, n)
        return cls(won=won, lost=n - won, n=n, win_rate=_round(won / n, 4),
                   ci_low=_round(low, 4), ci_high=_round(high, 4))

    def rate_fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Rate)}


@dataclass(frozen=True, kw_only=True)
class AmountRate:
    """Dollar-weighted win rate: won amount over closed (won + lost) amount, with an approximate 95%
    interval (delta method for a ratio estimator, clipped to 0-1). It answers "what share of the money
    we closed did we win", where the count-based rate answers "what share of the deals"."""

    won_amount: float
    closed_amount: float
    amount_win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    @classmethod
    def of(cls, amounts, won) -> "AmountRate":
        amounts = np.asarray(amounts, dtype=float)
        won = np.asarray(won, dtype=bool)
        squares = amounts ** 2
        return cls.from_sums(amounts[won].sum(), amounts.sum(), squares[won].sum(), squares.sum(), len(amounts))

    @classmethod
    def from_sums(cls, won_amount, total, won_squares, squares, n) -> "AmountRate":
        """From sum(a*y), sum(a), sum(a^2*y), sum(a^2) and n, so many groups cost one bincount each."""
        won_amount, total, n = float(won_amount), float(total), int(n)
        if n == 0 or total <= 0:
            return cls(won_amount=round(won_amount, 2), closed_amount=round(total, 2), amount_win_rate=None,
                       ci_low=None, ci_high=None, n=n)
        r = won_amount / total
        # linearised variance of sum(a*y)/sum(a): sum(a^2 (y - r)^2) / sum(a)^2, times n/(n-1);
        # with y in {0, 1}: sum(a^2 (y - r)^2) = (1 - 2r) sum(a^2 y) + r^2 sum(a^2)
        spread = max((1 - 2 * r) * float(won_squares) + r * r * float(squares), 0.0)
        if spread <= 0 or n == 1:
            # every dollar won (or lost), or one deal: the delta method's variance is 0 and its interval a
            # point ("100.0–100.0%" from one deal). The Wilson interval at the amounts' effective sample
            # size (Kish: sum(a)^2 / sum(a^2), one deal's worth when one deal holds the money) instead
            n_eff = total ** 2 / float(squares) if float(squares) > 0 else float(n)
            low, high = wilson_interval(r * n_eff, n_eff)
            return cls(won_amount=round(won_amount, 2), closed_amount=round(total, 2), amount_win_rate=_round(r, 4),
                       ci_low=_round(float(low), 4), ci_high=_round(float(high), 4), n=n)
        var = spread / total ** 2 * (n / (n - 1) if n > 1 else 1.0)
        half = 1.959964 * math.sqrt(var)
        return cls(won_amount=round(won_amount, 2), closed_amount=round(total, 2), amount_win_rate=_round(r, 4),
                   ci_low=_round(max(0.0, r - half), 4), ci_high=_round(min(1.0, r + half), 4), n=n)


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """A tested difference of the owner's rate against `baseline` (another period, or the rest)."""

    baseline: Rate
    baseline_label: str
    change_pp: float | None
    p_value: float | None  # adjusted for multiple testing when `tested` > 1
    significant: bool
    test: str
    tested: int = 1
    mde_pp: float | None = None  # smallest change this sample could have detected (80% power)

    @classmethod
    def build(cls, current: Rate, baseline: Rate, baseline_label: str, p_value, significant: bool,
              test: str, tested: int = 1, mde: float | None = None) -> "Comparison":
        change = None
        if current.n and baseline.n:
            change = _round(100 * (current.won / current.n - baseline.won / baseline.n), 2)
        return cls(baseline=baseline, baseline_label=baseline_label, change_pp=change, p_value=_sig(p_value),
                   significant=bool(significant), test=str(test), tested=tested,
                   mde_pp=_round(None if mde is None else 100 * mde, 2))


@dataclass(frozen=True, kw_only=True)
class SegmentRate(Rate):
    """A segment's rate; `enough` is False under the minimum n (shown, never ranked)."""

    segment: dict[str, str]
    label: str
    share: float | None = None
    enough: bool = True
    rank: int | None = None
    vs_rest: Comparison | None = None
    change: Comparison | None = None
    amount: "AmountRate | None" = None  # dollar-weighted rate (filled by /winrate)


@dataclass(kw_only=True)
class Result:
    command: str
    as_of: dt.date
    query: Query
    period: Period
    date_basis: str = "closed_date"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return to_jsonable(self)


# A result field kept for the caller, not part of the documented JSON (metadata=NOT_JSON)
NOT_JSON = {"json": False}


def to_jsonable(value):
    """Dataclasses, dates, numpy scalars and NaN to plain JSON types, keys in field order (fields marked
    NOT_JSON left out)."""
    if hasattr(value, "to_dict") and not dataclasses.is_dataclass(value) or isinstance(value, (Query, Period)):
        return value.to_dict()
    if dataclasses.is_dataclass(value):
        out = {}
        for f in dataclasses.fields(value):
            if f.metadata.get("json", True):
                out[f.name] = to_jsonable(getattr(value, f.name))
        return out
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
