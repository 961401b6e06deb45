"""/pipeline: which open deals will close, which are at risk, and what the open pipeline will book.

The model. Open deals are not a random sample of deals: they are the ones that have not closed
yet, so they are older and longer-cycle than the deals that closed, and long deals win less. A
deal open 130 days is therefore compared with the deals that were still open at 130 days, not
with all closed deals. For each age band [L, next edge) a binomial GLM (logit link)

    won ~ C(region) + C(industry) + C(product_type) + C(lead_source) + C(size_band)

is fitted on aggregated cells of the closed deals whose cycle reached L (the deals still open at
age L). Cells make the likelihood identical to row-level logistic regression while the cost does
not grow with the number of deals. Right-censoring: recently created deals that closed are the
short ones (their long siblings are still open), so each band trains on the deals created early
enough that at most 2% of those that reached age L are still open. Rep and stage are left out:
25+ reps make the cells sparse, and a closed deal's last stage leaks its outcome (a won deal's
last stage is always Closed).

Backtest (every call): as of two quarters back (`Snapshot.at`), fit on what was known then, score
the deals open then and compare with what happened to those that have closed since: AUC with a
DeLong 95% interval, Brier against the base-rate Brier (the closed win rate known then, a paired
test of the squared errors), calibration by decile. `skill` needs both the AUC interval above 0.5
and a Brier score significantly below the base rate's.

Forecast: expected won amount and deals with a 90% interval holding both the deal-level
randomness (a sum of Bernoullis, normal approximation per draw) and the model's own uncertainty
(a parametric bootstrap of each band's GLM coefficients); split by expected close quarter from the
cycles of won deals that ran longer than the deal's age.
"""
from __future__ import annotations

import datetime as dt
import math
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

from .periods import add_months, grain_start, label_for
from .query import Query
from .results import Rate, Result, _round, _sig, to_jsonable
from .select import ALL_TIME, filter_mask, resolve_periods
from .snapshot import Snapshot, day_number
from .stats import Z95

PIPELINE_FEATURES = ("region", "industry", "product_type", "lead_source", "size_band")
AGE_EDGES = (0, 10, 20, 30, 40, 50, 60, 75, 90, 105, 120, 150, 180, 270, 365)  # age bands [edge, next edge) in days
MIN_TRAIN = 200  # closed deals a band needs to get its own model
MIN_LEVEL = 30  # a level with fewer training deals is folded into the reference
MAX_OPEN_SHARE = 0.02  # censoring: at most this share of a band's training cohort still open
LEVEL = 0.9
DRAWS = 400
BACKTEST_MONTHS = 6
STALLED_QUANTILE = 0.95
AT_RISK_SHOWN = 10


@dataclass(frozen=True, kw_only=True)
class Reason:
    kind: str  # "segment" (a factor lowering the odds) or "age" (open longer than most won cycles)
    dimension: str | None = None
    value: str | None = None
    effect_pp: float | None = None  # change in win probability against the factor's reference
    age_days: int | None = None
    won_cycle_percentile: float | None = None  # share of won deals' cycles shorter than the age


@dataclass(frozen=True, kw_only=True)
class OpenDeal:
    deal_id: str
    win_probability: float | None
    amount: float
    expected_amount: float | None
    expected_loss: float | None
    age_days: int | None  # None: kept without a created date
    rep: str | None  # None when the asker may not see reps
    segment: dict[str, str]
    reasons: list[Reason]
    stalled: bool


@dataclass(frozen=True, kw_only=True)
class QuarterForecast:
    quarter: str
    expected_won_amount: float
    low: float
    high: float
    expected_won_deals: float


@dataclass(frozen=True, kw_only=True)
class Forecast:
    expected_won_amount: float
    low: float
    high: float
    level: float
    expected_won_deals: float
    deals_low: float
    deals_high: float
    open_amount: float
    open_deals: int
    by_quarter: list[QuarterForecast] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class CalibrationBin:
    decile: int
    n: int
    mean_probability: float
    observed: Rate


@dataclass(frozen=True, kw_only=True)
class Backtest:
    as_of: dt.date
    scored: int  # deals open then that have closed since
    unresolved: int  # deals open then and still open now (left out)
    win_rate: float | None  # of the scored deals
    mean_probability: float | None
    auc: float | None
    auc_ci_low: float | None
    auc_ci_high: float | None
    brier: float | None
    base_rate: float | None  # the closed win rate known at the backtest date
    base_rate_brier: float | None
    brier_p_value: float | None  # one-sided paired test: model Brier below the base rate's
    calibration: list[CalibrationBin] = field(default_factory=list)
    skill: bool = False
    forecast_won_amount: float | None = None
    forecast_low: float | None = None
    forecast_high: float | None = None
    actual_won_amount: float | None = None  # of the deals open then, won since
    forecast_covered: bool | None = None  # the actual won amount fell inside the forecast's interval


@dataclass(frozen=True, kw_only=True)
class PipelineSegment:
    segment: dict[str, str]
    label: str
    open_deals: int
    open_amount: float
    expected_won_amount: float
    low: float
    high: float
    at_risk_amount: float  # sum of amount x (1 - p)


@dataclass(kw_only=True)
class PipelineResult(Result):
    open_deals: int = 0
    open_amount: float = 0.0  # of the open deals that have an amount
    open_without_amount: int = 0  # open deals counted whose amount is blank
    skill: bool = False
    ranked_by: str = "expected_loss"  # or "amount_and_age" when the backtest shows no skill
    forecast: Forecast | None = None
    backtest: Backtest | None = None
    at_risk: list[OpenDeal] = field(default_factory=list)
    stalled_deals: int = 0
    segments: list[PipelineSegment] = field(default_factory=list)
    deals: list[OpenDeal] = field(default_factory=list)
    model_bands: int = 0
    training_deals: int = 0
    features: list[str] = field(default_factory=list)

    def all_deals(self) -> list[OpenDeal]:
        """Every open deal of the selection, in ranking order; built on demand (JSON, CSV), not per reply."""
        build = getattr(self, "_build_deals", None)
        if build is not None and not self.deals:
            self.deals = build()
        return self.deals

    def to_dict(self) -> dict:
        self.all_deals()
        return to_jsonable(self)


# -- the model ---------------------------------------------------------------------------------------


@dataclass
class _Band:
    low: int
    features: list[str]
    columns: list[tuple[int, int]]  # (feature index, code) per non-intercept column
    reference: dict[str, int]
    beta: np.ndarray
    cov: np.ndarray
    n: int
    won: int

    def matrix(self, codes: np.ndarray) -> np.ndarray:
        x = np.zeros((len(codes), 1 + len(self.columns)))
        x[:, 0] = 1.0
        for j, (f, code) in enumerate(self.columns, start=1):
            x[:, j] = codes[:, f] == code
        return x


@dataclass
class PipelineModel:
    as_of: dt.date
    features: list[str]
    bands: list[_Band | None]  # per age band; None: too few deals, use the band below
    won_cycles: np.ndarray  # sorted cycles of won deals
    base_rate: float
    training_deals: int
    condition_on_age: bool = True

    def band_of(self, age: np.ndarray) -> np.ndarray:
        if not self.condition_on_age:
            return np.zeros(len(age), dtype=np.int64)
        return np.clip(np.searchsorted(AGE_EDGES, age, side="right") - 1, 0, len(AGE_EDGES) - 1)

    def model_for(self, b: int) -> _Band | None:
        while b >= 0 and self.bands[b] is None:
            b -= 1
        return self.bands[b] if b >= 0 else None

    @property
    def stalled_after(self) -> float | None:
        if len(self.won_cycles) < 30:
            return None
        return float(np.quantile(self.won_cycles, STALLED_QUANTILE))


def _open_codes(snapshot: Snapshot, features) -> np.ndarray:
    return np.column_stack([snapshot.codes(f, open_pipeline=True) for f in features]) if features else \
        np.zeros((len(snapshot.open_deals), 0), dtype=np.int64)


def open_ages(snapshot: Snapshot) -> np.ndarray:
    """Each open deal's age in days; -1 for a deal kept without a created date (no age: scored in the
    youngest band, never stalled, not counted as still open in any training cohort)."""
    created = snapshot.open_deals["created_date"].to_numpy().astype("datetime64[D]")
    ages = (np.datetime64(snapshot.as_of, "D") - created).astype(np.int64)
    ages[np.isnat(created)] = -1
    return ages


def fit_model(snapshot: Snapshot, condition_on_age: bool = True) -> PipelineModel:
    """One GLM per age band on the closed deals that were still open at the band's lower edge."""
    features = [f for f in PIPELINE_FEATURES if f in snapshot.dimensions]
    sizes = [len(snapshot.values(f)) for f in features]
    # each deal's cell in the grid of the features, one integer per deal (not a deals x features matrix)
    flat = np.zeros(len(snapshot.deals), dtype=np.int64)
    valid = np.isfinite(snapshot.cycle_days)
    for f, size in zip(features, sizes):
        codes = snapshot.codes(f)
        valid &= codes >= 0
        flat *= size
        flat += codes
    won, cycle, created = snapshot.won, snapshot.cycle_days, snapshot.created_day
    as_of_day = day_number(snapshot.as_of)
    ages = open_ages(snapshot)
    open_created = as_of_day - ages
    won_cycles = np.sort(cycle[won & np.isfinite(cycle)])
    base_rate = float(won.mean()) if len(won) else math.nan
    edges = AGE_EDGES if condition_on_age else (0,)
    bands: list[_Band | None] = []
    for low in edges:
        train = valid & (cycle >= low)
        if condition_on_age:
            train &= created <= as_of_day - _censoring_window(low, cycle, created, ages, open_created, as_of_day)
        bands.append(_fit_band(low, features, sizes, flat[train], won[train]))
    return PipelineModel(snapshot.as_of, features, bands, won_cycles, base_rate,
                         int(valid.sum()), condition_on_age)


def _censoring_window(low, cycle, created, ages, open_created, as_of_day) -> int:
    """Days before as_of a band's training cohort must be created by, so that few of it are still open."""
    reached = cycle >= low
    closed_created = created[reached]
    still_open = open_created[ages >= low]
    best, best_share = low, math.inf
    for window in range(int(low), int(low) + 731, 15):
        cut = as_of_day - window
        closed_n = int((closed_created <= cut).sum())
        if closed_n < MIN_TRAIN:
            break
        open_n = int((still_open <= cut).sum())
        share = open_n / (open_n + closed_n)
        if share <= MAX_OPEN_SHARE:
            return window
        if share < best_share:
            best, best_share = window, share
    return best


def _fit_band(low, features, sizes, flat, won) -> _Band | None:
    """The band's GLM on the training deals' cells (`flat`: each deal's cell number in the feature grid)."""
    n, wins = len(won), int(won.sum())
    if n < MIN_TRAIN or wins == 0 or wins == n:
        return None
    grid = int(np.prod(sizes, dtype=object)) if features else 1
    if grid <= max(4 * n, 1 << 22):  # a histogram of the cells: no sort
        cell_n, cell_won = np.bincount(flat, minlength=grid), np.bincount(flat[won], minlength=grid)
        cells = np.flatnonzero(cell_n)
        cell_n, cell_won = cell_n[cells], cell_won[cells].astype(float)
    else:
        cells, inverse = np.unique(flat, return_inverse=True)
        cell_n = np.bincount(inverse)
        cell_won = np.bincount(inverse, weights=won.astype(float))
    cell_codes = np.array(np.unravel_index(cells, sizes)).T if features else np.zeros((len(cells), 0), dtype=int)
    columns, reference = [], {}
    for j, f in enumerate(features):
        per_level = np.bincount(cell_codes[:, j], weights=cell_n, minlength=sizes[j])
        ref = int(np.argmax(per_level))
        reference[f] = ref
        columns += [(j, k) for k in range(sizes[j]) if k != ref and per_level[k] >= MIN_LEVEL]
    band = _Band(low, list(features), columns, reference, np.zeros(1 + len(columns)),
                 np.zeros((1 + len(columns),) * 2), n, wins)
    x = band.matrix(cell_codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.GLM(np.column_stack([cell_won, cell_n - cell_won]), x, family=sm.families.Binomial()).fit()
            beta, cov = np.asarray(fit.params), np.asarray(fit.cov_params())
        except Exception:
            beta = cov = None
    if beta is None or not np.all(np.isfinite(beta)) or not np.all(np.isfinite(cov)):
        rate = wins / n  # intercept only
        band.columns, band.beta = [], np.array([math.log(rate / (1 - rate))])
        band.cov = np.array([[1 / (n * rate * (1 - rate))]])
        return band
    band.beta, band.cov = beta, cov
    return band


def _sigmoid(z):
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


@dataclass
class _Scored:
    p: np.ndarray  # per open deal
    band: np.ndarray
    cell: np.ndarray  # per open deal: index into cell_p rows
    cell_p: np.ndarray  # (cells, DRAWS) bootstrap probabilities
    codes: np.ndarray
    ages: np.ndarray
    quarters: tuple | None = None  # _close_quarter_shares of these deals, once per refresh (see _fitted)


def score(model: PipelineModel, snapshot: Snapshot, draws: int = DRAWS, seed: int = 0) -> _Scored:
    """Win probability of every open deal, and per-cell bootstrap draws of it."""
    codes = _open_codes(snapshot, model.features).astype(np.int64)
    ages = open_ages(snapshot)
    band = model.band_of(ages)
    sizes = [len(snapshot.values(f)) + 1 for f in model.features]
    flat = band.astype(np.int64)
    for j, size in enumerate(sizes):
        flat = flat * size + (codes[:, j] + 1)  # code -1 (no value) gets its own slot
    cells, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    cell_codes, cell_band = codes[first], band[first]
    rng = np.random.default_rng(seed)
    cell_p = np.full((len(cells), draws), model.base_rate if np.isfinite(model.base_rate) else 0.5)
    point = np.full(len(cells), cell_p[:, 0] if len(cells) else 0.0)
    for b in np.unique(cell_band):
        m = model.model_for(int(b))
        rows = np.flatnonzero(cell_band == b)
        if m is None:
            continue
        x = m.matrix(np.where(cell_codes[rows] < 0, -2, cell_codes[rows]))  # no value: the reference
        point[rows] = _sigmoid(x @ m.beta)
        betas = rng.multivariate_normal(m.beta, m.cov, size=draws, method="cholesky" if _pd(m.cov) else "svd")
        cell_p[rows] = _sigmoid(x @ betas.T)
    return _Scored(point[inverse], band, inverse, cell_p, codes, ages)


def _pd(cov) -> bool:
    try:
        np.linalg.cholesky(cov)
        return True
    except np.linalg.LinAlgError:
        return False


# -- the forecast ------------------------------------------------------------------------------------


def _interval(scored: _Scored, mask: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None,
              level: float = LEVEL, seed: int = 1) -> tuple[float, float, float]:
    """Expected sum of values x won over the masked deals, with its interval: model draws x Bernoulli."""
    w = np.ones(len(values)) if weights is None else weights
    idx = scored.cell[mask]
    if not len(idx):
        return 0.0, 0.0, 0.0
    cells = scored.cell_p.shape[0]
    s1 = np.bincount(idx, weights=(values * w)[mask], minlength=cells)
    s2 = np.bincount(idx, weights=(values ** 2 * w)[mask], minlength=cells)
    s3 = np.bincount(idx, weights=(values ** 2 * w ** 2)[mask], minlength=cells)
    expected = float((values * w * scored.p)[mask].sum())
    p = scored.cell_p
    means = s1 @ p
    variances = np.maximum(s2 @ p - s3 @ (p * p), 0.0)  # sum a^2 (pq - p^2 q^2) per draw
    rng = np.random.default_rng(seed)
    totals = means + np.sqrt(variances) * rng.standard_normal(len(means))
    totals = np.maximum(totals, 0.0)
    tail = (1 - level) / 2
    return expected, float(np.quantile(totals, tail)), float(np.quantile(totals, 1 - tail))


def _close_quarter_shares(model: PipelineModel, ages: np.ndarray, as_of: dt.date, quarters: int = 3):
    """Per open deal, the share of won-deal cycles (longer than its age) ending in each coming quarter.

    Columns: this quarter, the next ones, and the last column everything later. A deal older than
    every won cycle is put in the last column (it has no precedent).
    """
    cycles = model.won_cycles
    first = grain_start(as_of, "quarter")
    if add_months(first, 3) - dt.timedelta(days=1) == as_of:  # the quarter ends today: it is done
        first = add_months(first, 3)
    starts = [add_months(first, 3 * k) for k in range(quarters)]
    labels = [label_for(s, "quarter") for s in starts] + ["later"]
    ends = [day_number(add_months(s, 3)) - 1 - day_number(as_of) for s in starts]  # days left to each end
    shares = np.zeros((len(ages), quarters + 1))
    if not len(cycles):
        shares[:, -1] = 1.0
        return shares, labels
    beyond = len(cycles) - np.searchsorted(cycles, ages, side="right")  # won cycles longer than the age
    previous = np.zeros(len(ages))
    for k, days_left in enumerate(ends):
        reached = len(cycles) - np.searchsorted(cycles, ages + days_left, side="right")
        closed_by = np.where(beyond > 0, (beyond - reached) / np.maximum(beyond, 1), 0.0)
        shares[:, k] = closed_by - previous
        previous = closed_by
    shares[:, -1] = 1.0 - previous
    return shares, labels


# -- the backtest ------------------------------------------------------------------------------------


def months_back(d: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day when it is shorter)."""
    first = add_months(dt.date(d.year, d.month, 1), -months)
    last_day = (add_months(first, 1) - dt.timedelta(days=1)).day
    return first.replace(day=min(d.day, last_day))


def delong_auc(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """AUC with its DeLong 95% interval (placement values from midranks: O(n log n))."""
    pos, neg = scores[labels], scores[~labels]
    n1, n0 = len(pos), len(neg)
    if n1 < 2 or n0 < 2:
        return math.nan, math.nan, math.nan
    r_all = sps.rankdata(scores)
    v10 = (r_all[labels] - sps.rankdata(pos)) / n0
    v01 = 1 - (r_all[~labels] - sps.rankdata(neg)) / n1
    auc = float(v10.mean())
    se = math.sqrt(v10.var(ddof=1) / n1 + v01.var(ddof=1) / n0)
    return auc, max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se)


def outcomes_since(snapshot: Snapshot, then: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """For each deal open on `then`, in the order of `snapshot.at(then).open_deals`: has it closed
    since, and was it won. `at` lists the deals still open first, then those that closed after `then`
    (ids are unique, so each is one closed deal); read off the dates, with no join on deal ids."""
    day = day_number(then)
    open_created = snapshot.open_deals["created_date"].to_numpy().astype("datetime64[D]")
    still_open = int((open_created <= np.datetime64(then, "D")).sum())
    closed_since = (snapshot.closed_day > day) & (snapshot.created_day <= day)
    known = np.concatenate([np.zeros(still_open, dtype=bool), np.ones(int(closed_since.sum()), dtype=bool)])
    won = np.concatenate([np.zeros(still_open, dtype=bool), snapshot.won[closed_since]])
    return known, won


def backtest(snapshot: Snapshot, months: int = BACKTEST_MONTHS, condition_on_age: bool = True) -> Backtest | None:
    """Fit as of `months` back, score the deals open then, compare with what happened since."""
    start = snapshot.first_closed
    then = months_back(snapshot.as_of, months)
    if start is None or then <= start:
        return None
    past = snapshot.at(then, drop=("deal_id",))  # the outcomes are read off the dates: no ids needed
    model = fit_model(past, condition_on_age)
    if all(b is None for b in model.bands) or not len(past.open_deals):
        return None
    scored = score(model, past)
    known, y = outcomes_since(snapshot, then)
    p, y = scored.p[known], y[known]
    result = dict(as_of=then, scored=int(known.sum()), unresolved=int((~known).sum()))
    if len(y) < 30 or y.all() or not y.any():
        return Backtest(**result, win_rate=_round(y.mean(), 4) if len(y) else None,
                        mean_probability=_round(p.mean(), 4) if len(p) else None, auc=None, auc_ci_low=None,
                        auc_ci_high=None, brier=None, base_rate=_round(model.base_rate, 4), base_rate_brier=None,
                        brier_p_value=None)
    auc, low, high = delong_auc(p, y)
    se_model, se_base = (p - y) ** 2, (model.base_rate - y) ** 2
    diff = se_model - se_base
    sd = diff.std(ddof=1)
    brier_p = float(sps.norm.cdf(diff.mean() / (sd / math.sqrt(len(diff))))) if sd > 0 else 1.0
    order = np.argsort(p, kind="stable")
    calibration = []
    for k, chunk in enumerate(np.array_split(order, 10), start=1):
        if len(chunk):
            calibration.append(CalibrationBin(decile=k, n=len(chunk), mean_probability=_round(p[chunk].mean(), 4),
                                              observed=Rate.of(y[chunk].sum(), len(chunk))))
    amounts = past.open_amount
    everything = np.ones(len(known), dtype=bool)
    expected, f_low, f_high = _interval(scored, everything, amounts)
    won_amount = float(amounts[known][y].sum())
    skill = bool(low > 0.5 and brier_p < 0.05)
    return Backtest(**result, win_rate=_round(y.mean(), 4), mean_probability=_round(p.mean(), 4), auc=_round(auc, 4),
                    auc_ci_low=_round(low, 4), auc_ci_high=_round(high, 4), brier=_round(se_model.mean(), 4),
                    base_rate=_round(model.base_rate, 4), base_rate_brier=_round(se_base.mean(), 4),
                    brier_p_value=_sig(brier_p), calibration=calibration, skill=skill,
                    forecast_won_amount=round(expected, 2), forecast_low=round(f_low, 2),
                    forecast_high=round(f_high, 2), actual_won_amount=round(won_amount, 2),
                    forecast_covered=bool(f_low <= won_amount <= f_high))


# -- the command -------------------------------------------------------------------------------------

_CACHE: dict[int, tuple[weakref.ref, PipelineModel, _Scored, Backtest | None]] = {}


def _fitted(snapshot: Snapshot):
    """The model, its scores and the backtest of a snapshot, fitted once per refresh."""
    hit = _CACHE.get(id(snapshot))
    if hit is not None and hit[0]() is snapshot:
        return hit[1:]
    model = fit_model(snapshot)
    scored = score(model, snapshot)
    scored.quarters = _close_quarter_shares(model, scored.ages, snapshot.as_of)
    bt = backtest(snapshot)
    for key in [k for k, v in _CACHE.items() if v[0]() is None]:
        del _CACHE[key]
    _CACHE[id(snapshot)] = (weakref.ref(snapshot), model, scored, bt)
    return model, scored, bt


def _reasons(model: PipelineModel, codes_row, band: int, age: int, snapshot: Snapshot, p: float) -> list[Reason]:
    out = []
    m = model.model_for(0)  # a factor's effect is judged on every closed deal: the widest sample
    if m is not None:
        z = m.beta / np.sqrt(np.maximum(np.diag(m.cov), 1e-300))
        for j, (f, code) in enumerate(m.columns, start=1):
            if codes_row[f] == code and m.beta[j] < 0 and abs(z[j]) >= Z95:
                without = _sigmoid(math.log(p / (1 - p)) - m.beta[j]) if 0 < p < 1 else p
                out.append(Reason(kind="segment", dimension=m.features[f], value=snapshot.values(m.features[f])[code],
                                  effect_pp=_round(100 * (p - without), 1)))
    cycles = model.won_cycles
    if len(cycles) >= 30:
        share = float(np.searchsorted(cycles, age, side="right") / len(cycles))
        if share >= 0.75:
            out.append(Reason(kind="age", age_days=int(age), won_cycle_percentile=_round(100 * share, 0)))
    return out


def _ranked(rows: np.ndarray, key: np.ndarray, limit: int | None = None) -> np.ndarray:
    """`rows` in ascending order of `key` (ties in row order), or only the first `limit` of them: those
    are found by a partition, not by sorting a million open deals for ten."""
    order_key = key[rows]
    if limit is None or limit >= len(rows):
        return rows[np.argsort(order_key, kind="stable")]
    kth = np.partition(order_key, limit - 1)[limit - 1]
    candidates = np.flatnonzero(order_key <= kth)  # every row that can rank among the first `limit`
    return rows[candidates[np.argsort(order_key[candidates], kind="stable")][:limit]]


def open_pipeline(snapshot: Snapshot, query: Query) -> PipelineResult:
    period, _ = resolve_periods(snapshot, query, default=ALL_TIME)
    mask = filter_mask(snapshot, query.filters, open_pipeline=True)
    result = PipelineResult(command="pipeline", as_of=snapshot.as_of, query=query, period=period,
                            date_basis="open_pipeline")
    amounts = snapshot.open_amount  # a blank amount counts as a deal, adds 0 to any dollar figure
    result.open_deals, result.open_amount = int(mask.sum()), round(float(amounts[mask].sum()), 2)
    result.open_without_amount = int((mask & ~snapshot.open_has_amount).sum())
    if len(snapshot.deals) < MIN_TRAIN or snapshot.won.all() or not snapshot.won.any():
        result.notes.append("too_few_for_model")
        return result
    if not mask.any():
        result.notes.append("no_open_deals")
        return result
    model, scored, bt = _fitted(snapshot)
    result.backtest, result.skill = bt, bool(bt is not None and bt.skill)
    result.features = list(model.features)
    result.model_bands = sum(b is not None for b in model.bands)
    result.training_deals = model.training_deals
    if bt is None:
        result.notes.append("no_backtest")

    # forecast, overall and by expected close quarter
    expected, low, high = _interval(scored, mask, amounts)
    ones = np.ones(len(amounts))
    deals_exp, deals_low, deals_high = _interval(scored, mask, ones)
    shares, labels = scored.quarters or _close_quarter_shares(model, scored.ages, snapshot.as_of)
    quarters = []
    for k, label in enumerate(labels):
        q_exp, q_low, q_high = _interval(scored, mask, amounts, shares[:, k], seed=2 + k)
        d_exp = float((shares[:, k] * scored.p)[mask].sum())
        quarters.append(QuarterForecast(quarter=label, expected_won_amount=round(q_exp, 2), low=round(q_low, 2),
                                        high=round(q_high, 2), expected_won_deals=round(d_exp, 1)))
    result.forecast = Forecast(expected_won_amount=round(expected, 2), low=round(low, 2), high=round(high, 2),
                               level=LEVEL, expected_won_deals=round(deals_exp, 1), deals_low=round(deals_low, 1),
                               deals_high=round(deals_high, 1), open_amount=result.open_amount,
                               open_deals=result.open_deals, by_quarter=quarters)

    # deals, at risk first
    stalled_after = model.stalled_after
    stalled = scored.ages > stalled_after if stalled_after is not None else np.zeros(len(amounts), dtype=bool)
    result.stalled_deals = int(stalled[mask].sum())
    loss = amounts * (1 - scored.p)
    if result.skill:
        key = -loss
    else:  # no skill: rank by amount and age only
        result.ranked_by = "amount_and_age"
        share = np.searchsorted(model.won_cycles, scored.ages, side="right") / max(len(model.won_cycles), 1)
        key = -(amounts * (0.5 + share))
    rows = np.flatnonzero(mask)
    frame = snapshot.open_deals
    # a snapshot whose rep dimension was taken out (REPS_USERS) names no owner
    rep_codes = snapshot.codes("sales_rep_id", open_pipeline=True) if "sales_rep_id" in snapshot.dimensions else None
    labels_by_dim = {f: snapshot.values(f) for f in model.features}

    def deal(i: int, deal_id, with_reasons: bool) -> OpenDeal:
        p = float(scored.p[i])
        rep = None if rep_codes is None or rep_codes[i] < 0 else snapshot.values("sales_rep_id")[rep_codes[i]]
        return OpenDeal(deal_id=str(deal_id), win_probability=_round(p, 4), amount=float(amounts[i]),
                        expected_amount=round(float(amounts[i] * p), 2), expected_loss=round(float(loss[i]), 2),
                        age_days=int(scored.ages[i]) if scored.ages[i] >= 0 else None, rep=rep,
                        segment={f: labels_by_dim[f][c] if c >= 0 else "" for f, c in zip(model.features, scored.codes[i])},
                        reasons=_reasons(model, scored.codes[i], int(scored.band[i]), int(scored.ages[i]), snapshot, p)
                        if with_reasons else [],
                        stalled=bool(stalled[i]))

    def listed(chosen: np.ndarray, with_reasons: bool) -> list[OpenDeal]:
        ids = frame["deal_id"].iloc[chosen].tolist()  # only the listed deals' ids are read
        return [deal(int(i), d, with_reasons) for i, d in zip(chosen, ids)]

    result.at_risk = listed(_ranked(rows, key, AT_RISK_SHOWN), True)
    result._build_deals = lambda: result.at_risk + listed(_ranked(rows, key)[AT_RISK_SHOWN:], len(rows) <= 5000)

    if query.group_by:
        dim = query.group_by[0]
        dim_codes = snapshot.codes(dim, open_pipeline=True)
        for k, value in enumerate(snapshot.values(dim)):
            seg = mask & (dim_codes == k)
            if not seg.any():
                continue
            s_exp, s_low, s_high = _interval(scored, seg, amounts, seed=100 + k)
            result.segments.append(PipelineSegment(
                segment={dim: value}, label=value, open_deals=int(seg.sum()), open_amount=round(float(amounts[seg].sum()), 2),
                expected_won_amount=round(s_exp, 2), low=round(s_low, 2), high=round(s_high, 2),
                at_risk_amount=round(float(loss[seg].sum()), 2)))
        result.segments.sort(key=lambda s: -s.at_risk_amount)
    return result
