"""/drivers: which deal attributes go with winning, holding the others fixed.

    won ~ C(region) + C(industry) + C(product_type) + C(lead_source) + C(size_band) + C(cycle_band)

A binomial GLM (logit link) fitted on aggregated cells (won, lost per combination of the inputs):
with categorical and banded inputs this is the same likelihood as the row-level logistic
regression, so the estimates are identical while the cost does not grow with the number of deals.
Effects are average marginal effects in percentage points against each feature's most common
level, with delta-method 95% intervals; p-values are Benjamini-Hochberg adjusted across all levels.
"""
from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

from .counting import counts_of
from .focus import period_in_question
from .periods import PeriodSpec
from .query import Query
from .results import Rate, Result, _round, _sig
from .select import ALL_TIME
from .selection import Selection
from .snapshot import Snapshot
from .stats import Z95, benjamini_hochberg
from .winrate import MIN_N

DRIVER_FEATURES = ("region", "industry", "product_type", "lead_source", "size_band", "cycle_band")


@dataclass(frozen=True, kw_only=True)
class Driver:
    feature: str
    level: str
    reference: str
    n: int  # deals at this level
    effect_pp: float  # average marginal effect: level vs reference, others held as they are
    ci_low_pp: float
    ci_high_pp: float
    se_pp: float  # standard error of the effect (delta method)
    p_value: float  # BH-adjusted across every level in the model
    significant: bool


@dataclass(frozen=True, kw_only=True)
class FeatureTest:
    feature: str
    levels: int
    lr_statistic: float
    df: int
    p_value: float  # likelihood-ratio test dropping the feature; BH-adjusted across features
    significant: bool


@dataclass(frozen=True, kw_only=True)
class DriverChange:
    """A driver's effect in the period in question against its baseline (the four quarters before)."""

    feature: str
    level: str
    reference: str
    before_pp: float
    now_pp: float
    change_pp: float
    p_value: float  # z-test of the difference of the two effects, BH-adjusted across levels
    significant: bool
    flipped: bool  # significant, and the effect changed sign: the driver now works the other way


@dataclass(kw_only=True)
class DriversResult(Result):
    overall: Rate
    model_p_value: float | None = None  # likelihood-ratio test of the model against intercept-only
    model_lr_statistic: float | None = None
    model_df: int = 0
    pseudo_r2: float | None = None  # McFadden
    cells: int = 0
    drivers: list[Driver] = field(default_factory=list)
    features: list[FeatureTest] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # the factors the model was given, in formula order
    left_out: dict[str, list[str]] = field(default_factory=dict)  # levels under min_n, with their deals
    deals_left_out: int = 0
    # with no period typed: each driver's effect in the period in question against its baseline
    changes_period: str | None = None
    changes_baseline: str | None = None
    changes: list[DriverChange] = field(default_factory=list)
    min_n: int = MIN_N

    @property
    def flips(self) -> list[DriverChange]:
        return [c for c in self.changes if c.flipped]

    @property
    def changed_levels(self) -> list[tuple[str, str]]:
        """(feature, level) of every driver whose effect changed significantly against the baseline:
        its effect over the whole period is history, not how it works now."""
        return [(c.feature, c.level) for c in self.changes if c.significant]


@dataclass
class _Design:
    features: list[str]
    levels: dict[str, list[str]]  # non-reference levels per feature, in column order
    reference: dict[str, str]
    level_n: dict[tuple[str, str], int]
    codes: np.ndarray  # (cells, features) category codes
    names: list[list[str]]  # category labels per feature
    columns: dict[tuple[str, str], int]

    def matrix(self, codes: np.ndarray, drop: str | None = None) -> np.ndarray:
        cols = [c for c in self.columns if c[0] != drop]
        x = np.zeros((len(codes), 1 + len(cols)))
        x[:, 0] = 1.0
        for j, (feature, level) in enumerate(cols, start=1):
            f = self.features.index(feature)
            x[:, j] = codes[:, f] == self.names[f].index(level)
        return x


def drivers(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> DriversResult:
    sel = Selection(snapshot, query, default=ALL_TIME)
    overall = sel.overall
    result = partial(DriversResult, command="drivers", as_of=snapshot.as_of, query=query, period=sel.period,
                     overall=overall, min_n=min_n)
    if overall.n < 2 * min_n or overall.won == 0 or overall.lost == 0:
        return result(notes=["too_few_for_model"])

    design, won, n, left_out, dropped = _design(snapshot, sel.current, query, min_n)
    result = partial(result, left_out=left_out, deals_left_out=dropped,
                     inputs=[f for f in design.features if f in design.levels])  # only factors with two or more levels
    if not design.columns:  # nothing to compare: one value per factor, or every other level too small
        return result(notes=["too_few_per_level" if left_out else "no_features"])
    x = design.matrix(design.codes)
    fit = _fit(won, n, x, null=True)
    if fit is None:
        return result(cells=len(n), notes=["model_failed"])
    lr = 2 * (fit.llf - fit.llnull)
    df = x.shape[1] - 1
    changes = _changes(snapshot, query, min_n) if query.period is None or query.period.kind == "focus" else {}
    return result(cells=len(n), model_lr_statistic=_round(lr, 3), model_df=df, model_p_value=_sig(sps.chi2.sf(lr, df)),
                  pseudo_r2=_round(1 - fit.llf / fit.llnull, 4), features=_feature_tests(design, won, n, fit),
                  drivers=_marginal_effects(design, won, n, fit), **changes)


def _changes(snapshot: Snapshot, query: Query, min_n: int) -> dict:
    """Each driver's effect in the period in question against the same in its baseline: a driver
    that reversed (Referral won 10 pp more than Inbound before, 5 pp less now) is a flip. The
    result's changes_period, changes_baseline and changes; empty when there is nothing to compare."""
    focus = period_in_question(snapshot)
    if focus.baseline is None or focus.basis != "closed":
        return {}
    def fit(p):
        return drivers(snapshot, replace(query, period=PeriodSpec("range", (p.start, p.end), p.label)), min_n)
    now, before = fit(focus.current), fit(focus.baseline)
    if not now.drivers or not before.drivers:
        return {}
    then = {(d.feature, d.level, d.reference): d for d in before.drivers}
    rows = []
    for d in now.drivers:
        old = then.get((d.feature, d.level, d.reference))
        if old is None:
            continue
        se = np.hypot(d.se_pp, old.se_pp)
        z = (d.effect_pp - old.effect_pp) / se if se > 0 else 0.0
        rows.append((d, old, float(2 * sps.norm.sf(abs(z)))))
    adjusted, significant = benjamini_hochberg([r[2] for r in rows])
    changes = sorted(
        (DriverChange(feature=d.feature, level=d.level, reference=d.reference, before_pp=old.effect_pp,
                      now_pp=d.effect_pp, change_pp=_round(d.effect_pp - old.effect_pp, 2), p_value=_sig(adjusted[i]),
                      significant=bool(significant[i]),
                      flipped=bool(significant[i] and old.significant and np.sign(old.effect_pp) != np.sign(d.effect_pp)))
         for i, (d, old, _) in enumerate(rows)),
        key=lambda c: (not c.flipped, not c.significant, c.p_value))
    return {"changes_period": focus.current.label, "changes_baseline": focus.baseline.label, "changes": changes}


def _design(snapshot, mask, query, min_n):
    filtered = {d for d, _ in query.filters}
    features = [f for f in DRIVER_FEATURES if f in snapshot.dimensions and f not in filtered]
    counts = counts_of(snapshot, mask, tuple(features))
    keep = counts.n > 0
    codes, won, n = counts.keys[keep], counts.won[keep], counts.n[keep]
    names = [list(snapshot.values(f)) for f in features]
    left_out, small = {}, np.zeros(len(n), dtype=bool)
    level_n = {}
    for j, f in enumerate(features):
        per_level = np.bincount(codes[:, j], weights=n, minlength=len(names[j]))
        for k, label in enumerate(names[j]):
            level_n[(f, label)] = int(per_level[k])
            if 0 < per_level[k] < min_n:
                left_out.setdefault(f, []).append(label)
                small |= codes[:, j] == k
    dropped = int(n[small].sum())
    codes, won, n = codes[~small], won[~small], n[~small]
    levels, reference, columns = {}, {}, {}
    for j, f in enumerate(features):
        per_level = np.bincount(codes[:, j], weights=n, minlength=len(names[j]))
        present = [k for k in range(len(names[j])) if per_level[k] > 0]
        if len(present) < 2:
            continue
        ref = max(present, key=lambda k: per_level[k])
        reference[f] = names[j][ref]
        levels[f] = [names[j][k] for k in present if k != ref]
        for label in levels[f]:
            columns[(f, label)] = len(columns)
    design = _Design([f for f in features], levels, reference, level_n, codes, names, columns)
    return design, won, n, left_out, dropped


@dataclass(frozen=True)
class _Fitted:
    """What the analysis reads of a fitted GLM, copied out of statsmodels' results."""
    params: np.ndarray
    cov: np.ndarray
    llf: float
    llnull: float | None  # the intercept-only model's log-likelihood, when asked for


def _fit(won, n, x, null: bool = False) -> _Fitted | None:
    endog = np.column_stack([won, n - won])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.GLM(endog, x, family=sm.families.Binomial()).fit()
        except Exception:  # separation or a singular design: say the model could not be fitted
            return None
    if not np.all(np.isfinite(fit.params)) or not np.all(np.isfinite(fit.bse)):
        out = None
    else:
        out = _Fitted(np.array(fit.params), np.array(fit.cov_params()), float(fit.llf),
                      float(fit.llnull) if null else None)
    # statsmodels' results and model refer to each other (a cycle): without a collection each fit's arrays (its
    # weighted design among them) outlived it until the collector's own pass — ~55 MB held after the 10M digest's
    # /drivers (pipeline._logistic does the same)
    del fit
    gc.collect(1)
    return out


def _feature_tests(design: _Design, won, n, fit) -> list[FeatureTest]:
    rows = []
    for f, levels in design.levels.items():
        reduced = _fit(won, n, design.matrix(design.codes, drop=f))
        lr = 2 * (fit.llf - reduced.llf) if reduced is not None else np.nan
        rows.append((f, len(levels) + 1, lr, len(levels), sps.chi2.sf(lr, len(levels)) if np.isfinite(lr) else np.nan))
    adjusted, significant = benjamini_hochberg([r[4] for r in rows])
    return [FeatureTest(feature=f, levels=k, lr_statistic=_round(lr, 3), df=df, p_value=_sig(adjusted[i]),
                        significant=bool(significant[i]))
            for i, (f, k, lr, df, _) in enumerate(rows)]


def _marginal_effects(design: _Design, won, n, fit) -> list[Driver]:
    beta, cov = fit.params, fit.cov
    weights = n / n.sum()
    rows = []
    for f, levels in design.levels.items():
        j = design.features.index(f)
        names = design.names[j]
        at_ref = design.codes.copy()
        at_ref[:, j] = names.index(design.reference[f])
        x_ref = design.matrix(at_ref)
        p_ref = 1 / (1 + np.exp(-x_ref @ beta))
        for level in levels:
            at_level = design.codes.copy()
            at_level[:, j] = names.index(level)
            x_lvl = design.matrix(at_level)
            p_lvl = 1 / (1 + np.exp(-x_lvl @ beta))
            ame = float(weights @ (p_lvl - p_ref))
            grad = weights @ ((p_lvl * (1 - p_lvl))[:, None] * x_lvl - (p_ref * (1 - p_ref))[:, None] * x_ref)
            se = float(np.sqrt(grad @ cov @ grad))
            p = float(2 * sps.norm.sf(abs(ame / se))) if se > 0 else 1.0
            rows.append((f, level, ame, se, p))
    adjusted, significant = benjamini_hochberg([r[4] for r in rows])
    out = [
        Driver(feature=f, level=level, reference=design.reference[f], n=design.level_n[(f, level)],
               effect_pp=_round(100 * ame, 2), ci_low_pp=_round(100 * (ame - Z95 * se), 2),
               ci_high_pp=_round(100 * (ame + Z95 * se), 2), se_pp=_round(100 * se, 4), p_value=_sig(adjusted[i]),
               significant=bool(significant[i]))
        for i, (f, level, ame, se, _) in enumerate(rows)
    ]
    return sorted(out, key=lambda d: (not d.significant, -abs(d.effect_pp)))
