"""/pipeline: the chance each open deal is won by the end of this quarter (and of next), and the
bookings the open pipeline will bring, with intervals whose coverage is checked on past quarters.

The question. "Will it be won if it ever closes" overstates a real pipeline: many open deals never
close, they go stale and sit open. So the model answers the CRO's question directly: won by the
end of this quarter. It learns it from the history itself. At past dates at the same point of
their quarter as today (the anchors: with today a quarter's last day, every past quarter's last day),
the deals open that day are taken as they stood: their age, their segments, and whether they were won
by the end of that quarter (and of the next). Lost deals and deals still open at the horizon count as
not won, so stale deals teach the model what becomes of deals that old. A binomial GLM (logit link)

    won_by_horizon ~ C(age_band) + C(season) + C(region) + C(industry) + C(product_type) + C(lead_source)

is fitted on the deals counted into cells (anchor x age band x segment), which gives the row-level
likelihood at the cost of the cells. Season is the calendar quarter being forecast, once every one
of the four has been seen. An age band in which no deal was ever won within the horizon gets probability 0
(it is not fitted: there is nothing to fit), bands with fewer than MIN_BAND deals join the band below.

What it does not use, and why. The export does not record a deal's past stage: a closed deal's stage
today is where it ended, which gives its outcome away. Nor its past amount: CRMs zero lost deals'
amounts and leave open ones blank, so a past deal's amount today says how it ended. Rep: too many
levels for the cells. Deals without a created date have no age: they get the mean chance of today's
dated open deals (the backtest cannot check this: past deals all have a created date).

Backtest (every refresh): at every past anchor whose quarter has ended, the model is refitted on
the anchors whose horizon had passed by then, and the deals open then are forecast: expected won
deals (and amount, where lost deals keep their amounts) with a 90% interval from the deals' own
chance and the model's uncertainty (delta method), against what happened. The hit rate of those
intervals is reported; when they missed more often than 90% allows (binomial test, 5%), today's
interval is widened by the root-mean-square of the past standardised errors, and said so (withheld
when there are fewer than MIN_BACKTESTS quarters, or when even widened they miss too often). Over all
backtests pooled: AUC with a DeLong interval, Brier against the flat base rate, calibration by
decile, and `skill`: whether the segments beat age and season alone (a paired test of the squared
errors). Without skill the deals' probabilities come from age and season alone.
"""
from __future__ import annotations

import datetime as dt
import gc
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import stats as sps

from .counting import counter_of, open_frame, open_mask
from .periods import add_months, grain_start, label_for
from .query import Query
from .results import NOT_JSON, Rate, Result, _round, _sig, to_jsonable
from .select import ALL_TIME, period_mask
from .selection import Selection
from .snapshot import Snapshot, day_number, from_day_number
from .stats import Z95

PIPELINE_FEATURES = ("region", "industry", "product_type", "lead_source")
AGE_EDGES = (0, 15, 30, 45, 60, 90, 120, 180, 270, 365, 540, 730)  # age bands [edge, next edge) in days
HORIZONS = 2  # this quarter and the next
MIN_BAND = 30  # deal-snapshots an age band needs, or it joins the band below
MIN_LEVEL = 30  # a segment level with fewer is folded into the reference
MIN_TRAIN = 200  # deal-snapshots a fit needs
MIN_ANCHORS = 2  # past anchors a backtest's fit needs
SEASON_ANCHORS = 4  # a year of anchors (every calendar quarter seen) before the season enters the model
MIN_BACKTESTS = 4  # past quarters before an interval counts as checked
LEVEL = 0.9
Z_LEVEL = float(sps.norm.ppf(0.5 + LEVEL / 2))
STALLED_QUANTILE = 0.95
AT_RISK_SHOWN = 10
NEVER = np.iinfo(np.int32).max  # the closed day of a deal still open


@dataclass(frozen=True, kw_only=True)
class Reason:
    kind: str  # "segment" (a factor lowering the odds) or "age" (open longer than most won cycles)
    dimension: str | None = None
    value: str | None = None
    effect_pp: float | None = None  # change in win probability against the factor's reference
    age_days: int | None = None
    won_cycle_percentile: float | None = None  # share of won deals' cycles shorter than the age
    history_open: int | None = None  # deals this old open at past anchors
    history_won: int | None = None  # ... of which won by the end of that quarter


@dataclass(frozen=True, kw_only=True)
class OpenDeal:
    deal_id: str
    win_probability: float | None  # won by the end of this quarter
    win_probability_next_quarter: float | None  # won by the end of next quarter
    amount: float | None  # None: blank in the CRM
    expected_amount: float | None
    expected_loss: float | None  # amount x (1 - won by the end of next quarter)
    age_days: int | None  # None: no created date
    rep: str | None  # None when the asker may not see reps
    segment: dict[str, str]
    reasons: list[Reason]
    stalled: bool


@dataclass(frozen=True, kw_only=True)
class QuarterForecast:
    quarter: str
    expected_won_amount: float
    low: float | None  # None: the interval is withheld (the backtest contradicts it)
    high: float | None
    expected_won_deals: float
    deals_low: float | None
    deals_high: float | None


@dataclass(frozen=True, kw_only=True)
class Forecast:
    expected_won_amount: float  # this quarter and next
    low: float | None
    high: float | None
    level: float
    expected_won_deals: float
    deals_low: float | None
    deals_high: float | None
    open_amount: float
    open_deals: int
    deals_without_amount: int  # open deals with a blank amount: in the deal counts, not in the amounts
    interval_scale: float = 1.0  # deal intervals widened by this from the backtest's errors (1: as modelled)
    amount_interval_scale: float = 1.0  # amount intervals, likewise
    by_quarter: list[QuarterForecast] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class CalibrationBin:
    decile: int
    n: int
    mean_probability: float
    observed: Rate


@dataclass(frozen=True, kw_only=True)
class BacktestQuarter:
    as_of: dt.date  # the past anchor
    quarter: str  # the quarter forecast from it
    open_deals: int
    expected_won_deals: float
    deals_low: float
    deals_high: float
    actual_won_deals: int
    covered: bool  # the actual count fell inside the interval as modelled
    expected_won_amount: float | None = None  # None: amounts not backtestable (lost deals zeroed)
    amount_low: float | None = None
    amount_high: float | None = None
    actual_won_amount: float | None = None
    amount_covered: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Backtest:
    as_of: dt.date  # the latest past anchor checked
    quarters: int  # past anchors checked
    covered: int  # ... whose 90% interval held the won deals
    amount_quarters: int
    amount_covered: int
    level: float
    too_many_misses: bool  # more misses than the level allows (binomial test, 5%)
    interval_scale: float  # today's deal-count intervals widened by this (1: not widened)
    amount_interval_scale: float  # today's amount intervals: from the amounts' own errors where replayed
    covered_after_widening: int | None  # the past quarters a widened interval would have held
    scored: int  # deal-snapshots pooled over the backtests
    win_rate: float | None  # of the scored: won by the end of their quarter
    mean_probability: float | None
    auc: float | None
    auc_ci_low: float | None
    auc_ci_high: float | None
    brier: float | None
    base_rate: float | None  # the flat rate of won-this-quarter known at each anchor, averaged
    base_rate_brier: float | None
    brier_p_value: float | None  # one-sided paired test: model Brier below the base rate's
    age_only_brier: float | None  # a model of age and season alone
    skill_p_value: float | None  # one-sided paired test: the segments' Brier below age and season's
    skill: bool = False  # the segments beat age and season alone
    calibration: list[CalibrationBin] = field(default_factory=list)
    history: list[BacktestQuarter] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class PipelineSegment:
    segment: dict[str, str]
    label: str
    open_deals: int
    open_amount: float
    expected_won_deals: float
    expected_won_amount: float  # this quarter and next
    low: float | None
    high: float | None
    at_risk_amount: float  # sum of amount x (1 - p), deals with an amount


@dataclass(kw_only=True)
class PipelineResult(Result):
    open_deals: int = 0
    open_amount: float = 0.0  # of the open deals that have an amount
    open_without_amount: int = 0  # open deals counted whose amount is blank
    skill: bool = False
    ranked_by: str = "expected_loss"  # or "amount_and_age" when the segments show no skill
    forecast: Forecast | None = None
    backtest: Backtest | None = None
    at_risk: list[OpenDeal] = field(default_factory=list)
    stalled_deals: int = 0
    stalled_probability: float | None = None  # mean win probability this quarter of the stalled deals
    segments: list[PipelineSegment] = field(default_factory=list)
    deals: list[OpenDeal] = field(default_factory=list)
    anchors: int = 0  # past dates learned from
    training_deals: int = 0  # deal-snapshots learned from
    features: list[str] = field(default_factory=list)
    # deals of the selection already won in the forecast's first quarter, up to the as-of date (the
    # forecast adds the open deals' wins to these); 0 when the data ends on a quarter's last day
    won_to_date: int = 0
    won_to_date_amount: float = 0.0
    # the extract stopped taking new deals (created dates end well before closed dates): deals created
    # since are missing from the open pipeline, so the forecast counts only the older deals
    created_until: dt.date | None = None

    # lists the rest of the selection's open deals when they are asked for; not part of the JSON
    listing: OpenDealListing | None = field(default=None, repr=False, compare=False, metadata=NOT_JSON)

    def all_deals(self) -> list[OpenDeal]:
        """Every open deal of the selection, in ranking order; built on demand (JSON, CSV), not per reply."""
        if self.listing is not None and not self.deals:
            self.deals = self.at_risk + self.listing.after(AT_RISK_SHOWN)
        return self.deals

    def to_dict(self) -> dict:
        self.all_deals()
        return to_jsonable(self)


# -- the history: the deals open at past anchors, counted into cells -----------------------------------


def forecast_quarters(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """First days of this quarter and the next, as forecast from `as_of`: a quarter ending on
    `as_of` is done, so "this quarter" is then the next one."""
    first = grain_start(as_of, "quarter")
    if add_months(first, 3) - dt.timedelta(days=1) == as_of:
        first = add_months(first, 3)
    return first, add_months(first, 3)


def same_day_back(d: dt.date, months: int) -> dt.date:
    """The same point of the month `months` earlier: a month's last day stays its last day."""
    first = add_months(dt.date(d.year, d.month, 1), -months)
    last_day = (add_months(first, 1) - dt.timedelta(days=1)).day
    month_end = (d + dt.timedelta(days=1)).day == 1
    return first.replace(day=last_day if month_end else min(d.day, last_day))


def _quarter_end(first: dt.date) -> int:
    return day_number(add_months(first, 3)) - 1


@dataclass
class _History:
    """Deal-snapshots at the anchors, as cells: one row per (anchor, age band, segment) with counts."""
    features: list[str]
    sizes: list[int]  # levels per feature, +1 for "no value" (slot 0)
    anchor_days: np.ndarray  # per anchor, oldest last: day number
    anchor_quarters: list[dt.date]  # per anchor: first day of the quarter it forecasts
    horizon_ends: np.ndarray  # (anchors, HORIZONS) day numbers
    season: np.ndarray  # per anchor: calendar quarter 0-3 of the quarter it forecasts
    anchor: np.ndarray  # per row
    band: np.ndarray
    seg: np.ndarray  # (rows, features) codes + 1
    segment: np.ndarray  # per row: the segment's number in the grid of the features
    grid: int  # segments in that grid
    n: np.ndarray
    won: np.ndarray  # (rows, HORIZONS): won by each horizon's end
    amount: np.ndarray
    amount_sq: np.ndarray
    won_amount: np.ndarray  # (rows, HORIZONS)
    won_cycles: "_Cycles"  # the won deals' cycle lengths
    amounts_kept: bool  # lost deals keep their amounts (a CRM that zeroes them cannot backtest amounts)


class _Cycles:
    """The won deals' cycle lengths as their distinct values (sorted) and how many deals have each: at 100M deals,
    40M won deals' lengths one array entry per deal (and np.quantile's copy of them) were 640 MB of the digest's peak.
    Answers exactly as the sorted array of every deal's length would."""

    def __init__(self, values: np.ndarray, counts: np.ndarray):
        self.values = np.asarray(values, dtype=np.float64)
        self.counts = np.asarray(counts, dtype=np.int64)
        self._ends = np.cumsum(self.counts)  # the sorted array's index past each value's last deal

    @classmethod
    def of(cls, cycles: np.ndarray) -> "_Cycles":
        values, counts = np.unique(np.asarray(cycles, dtype=np.float64), return_counts=True)
        return cls(values, counts)

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def _at(self, k: int) -> np.float64:
        """The k-th (from 0) of the sorted lengths."""
        return self.values[np.searchsorted(self._ends, k, side="right")]

    def quantile(self, q: float) -> float:
        """np.quantile(sorted lengths, q), its default linear method, done the same way on the two neighbours."""
        n = len(self)
        virtual = (n - 1) * np.float64(q)
        lo = int(np.floor(virtual))
        gamma = virtual - np.float64(lo)
        a, b = self._at(lo), self._at(min(lo + 1, n - 1))
        diff = b - a
        return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)

    def share_at_most(self, age) -> float:
        """np.searchsorted(sorted lengths, age, side="right") / len: the share of won deals this long or shorter."""
        k = np.searchsorted(self.values, age, side="right")
        return float((int(self._ends[k - 1]) if k else 0) / len(self))


def band_of(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(AGE_EDGES, age, side="right") - 1


def open_ages(snapshot: Snapshot) -> np.ndarray:
    """Age in days of each open deal on the snapshot's date; -1 where it has no created date."""
    created = open_frame(snapshot)["created_date"].to_numpy().astype("datetime64[D]")
    ages = (np.datetime64(snapshot.as_of, "D") - created).astype("timedelta64[D]")
    return np.where(np.isnat(ages), -1, ages.astype(np.int64))


def _history(snapshot: Snapshot) -> _History:
    features = [f for f in PIPELINE_FEATURES if f in snapshot.dimensions]
    sizes = [len(snapshot.values(f)) + 1 for f in features]
    if counter_of(snapshot) is not None:
        return _counted_history(snapshot, features, sizes)
    open_created = snapshot.open_deals["created_date"].to_numpy().astype("datetime64[D]")
    dated = ~np.isnat(open_created)  # an open deal without a created date was open since when? unknown
    created = np.concatenate([snapshot.created_day, (open_created[dated] - np.datetime64("1970-01-01", "D"))
                              .astype(np.int64)]).astype(np.int64)
    ended = np.concatenate([snapshot.closed_day.astype(np.int64), np.full(int(dated.sum()), NEVER, dtype=np.int64)])
    won = np.concatenate([snapshot.won, np.zeros(int(dated.sum()), dtype=bool)])
    seg = np.zeros(len(created), dtype=np.int64)
    for f, size in zip(features, sizes):
        codes = np.concatenate([snapshot.codes(f), snapshot.codes(f, open_pipeline=True)[dated]]).astype(np.int64)
        seg = seg * size + (codes + 1)
    amount = np.concatenate([snapshot.amount, snapshot.open_deals["deal_amount"].to_numpy(dtype=float)[dated]])
    amount = np.where(amount > 0, amount, np.nan)  # $0 is a zeroed loss, not a deal's size
    lost_amounts = snapshot.amount[~snapshot.won]
    amounts_kept = bool(len(lost_amounts) and np.mean(lost_amounts > 0) > 0.5)

    this_q, _ = forecast_quarters(snapshot.as_of)
    earliest = int(created.min()) + 30 if len(created) else day_number(snapshot.as_of)
    anchor_days, quarters, ends, season = [], [], [], []
    rows = {k: [] for k in ("anchor", "key", "n", "won", "amount", "amount_sq", "won_amount")}
    grid = int(np.prod(sizes, dtype=np.int64)) if features else 1
    for k in range(1, 400):
        first = add_months(this_q, -3 * k)
        t = day_number(same_day_back(snapshot.as_of, 3 * k))
        if t < earliest:
            break
        at = np.flatnonzero((created <= t) & (ended > t))
        if not len(at):
            continue
        a = len(anchor_days)
        anchor_days.append(t)
        quarters.append(first)
        horizon = [_quarter_end(add_months(first, 3 * h)) for h in range(HORIZONS)]
        ends.append(horizon)
        season.append((first.month - 1) // 3)
        key = band_of(t - created[at]) * grid + seg[at]
        cells, inverse = np.unique(key, return_inverse=True)
        amt = amount[at]
        known = np.isfinite(amt)
        amt0 = np.where(known, amt, 0.0)
        rows["anchor"].append(np.full(len(cells), a))
        rows["key"].append(cells)
        rows["n"].append(np.bincount(inverse, minlength=len(cells)))
        won_by = [won[at] & (ended[at] <= e) for e in horizon]
        rows["won"].append(np.column_stack([np.bincount(inverse, weights=w, minlength=len(cells)) for w in won_by]))
        rows["amount"].append(np.bincount(inverse, weights=amt0, minlength=len(cells)))
        rows["amount_sq"].append(np.bincount(inverse, weights=amt0 ** 2, minlength=len(cells)))
        rows["won_amount"].append(np.column_stack([np.bincount(inverse, weights=amt0 * w, minlength=len(cells))
                                                   for w in won_by]))
    if anchor_days:
        cat = {k: np.concatenate(v) for k, v in rows.items()}
    else:
        cat = {k: np.zeros((0, HORIZONS) if k in ("won", "won_amount") else 0) for k in rows}
    key = cat["key"].astype(np.int64)
    seg_codes = np.array(np.unravel_index(key % grid, sizes)).T if features else np.zeros((len(key), 0), dtype=np.int64)
    cycles = snapshot.cycle_days[snapshot.won]
    return _History(features, sizes, np.array(anchor_days, dtype=np.int64), quarters,
                    np.array(ends, dtype=np.int64).reshape(-1, HORIZONS), np.array(season, dtype=np.int64),
                    cat["anchor"].astype(np.int64), key // grid, seg_codes.astype(np.int64), key % grid, grid,
                    cat["n"].astype(float), cat["won"].astype(float), cat["amount"], cat["amount_sq"],
                    cat["won_amount"], _Cycles.of(cycles[np.isfinite(cycles)]), amounts_kept)


def _counted_history(snapshot, features: list[str], sizes: list[int]) -> _History:
    """`_history` of deals counted where they live: the same anchors, and the same cells counted by one
    GROUP BY there (the deals open at each anchor per age band and segment), not deal by deal here."""
    counter = counter_of(snapshot)
    facts = counter.pipeline_facts
    this_q, _ = forecast_quarters(snapshot.as_of)
    earliest = day_number(facts["earliest"]) + 30 if facts["earliest"] is not None else day_number(snapshot.as_of)
    candidates = []
    for k in range(1, 400):
        first = add_months(this_q, -3 * k)
        day = same_day_back(snapshot.as_of, 3 * k)
        if day_number(day) < earliest:
            break
        candidates.append((first, day, [_quarter_end(add_months(first, 3 * h)) for h in range(HORIZONS)]))
    found = counter.pipeline_cells(features, [(day, [from_day_number(e) for e in ends])
                                              for _, day, ends in candidates], AGE_EDGES)
    grid = int(np.prod(sizes, dtype=np.int64)) if features else 1
    present = sorted({int(k) for k in found["anchor"]}) if len(found) else []  # anchors with no deal open: none
    number = {k: a for a, k in enumerate(present)}
    if present:
        anchor = found["anchor"].astype(np.int64).map(number).to_numpy(dtype=np.int64)
        seg = np.zeros(len(found), dtype=np.int64)
        for f, size in zip(features, sizes):
            seg = seg * size + (found[f"c_{f}"].to_numpy(dtype=np.int64) + 1)
        key = found["band"].to_numpy(dtype=np.int64) * grid + seg
        order = np.lexsort([key, anchor])  # as in memory: anchor by anchor, cells in key order
        anchor, key = anchor[order], key[order]

        def column(name: str) -> np.ndarray:
            return found[name].fillna(0).to_numpy(dtype=np.float64)[order]

        n, amount, amount_sq = column("n"), column("amount"), column("amount_sq")
        won = np.column_stack([column(f"won_{h}") for h in range(HORIZONS)])
        won_amount = np.column_stack([column(f"won_amount_{h}") for h in range(HORIZONS)])
    else:
        anchor = key = np.zeros(0, dtype=np.int64)
        n = amount = amount_sq = np.zeros(0)
        won = won_amount = np.zeros((0, HORIZONS))
    chosen = [candidates[k] for k in present]
    seg_codes = np.array(np.unravel_index(key % grid, sizes)).T if features else np.zeros((len(key), 0), dtype=np.int64)
    values, counts = facts["won_cycles"]
    return _History(features, sizes, np.array([day_number(day) for _, day, _ in chosen], dtype=np.int64),
                    [first for first, _, _ in chosen], np.array([ends for _, _, ends in chosen], dtype=np.int64)
                    .reshape(-1, HORIZONS), np.array([(first.month - 1) // 3 for first, _, _ in chosen], dtype=np.int64),
                    anchor, key // grid, seg_codes.astype(np.int64), key % grid, grid, n, won, amount, amount_sq,
                    won_amount, _Cycles(values, counts),
                    bool(facts["lost"] and facts["lost_positive"] / facts["lost"] > 0.5))


def _too_little_history(snapshot: Snapshot) -> bool:
    """Too few closed deals to fit on, or none won, or none lost."""
    counter = counter_of(snapshot)
    if counter is None:
        return len(snapshot.deals) < MIN_TRAIN or snapshot.won.all() or not snapshot.won.any()
    facts = counter.pipeline_facts
    return facts["closed"] < MIN_TRAIN or facts["won"] in (0, facts["closed"])


# -- the model ---------------------------------------------------------------------------------------


@dataclass
class _Fit:
    """One horizon's GLM, fitted on the history's rows known by a cutoff."""
    horizon: int
    band_group: np.ndarray  # per age band: the band whose coefficient it uses (sparse bands join the one below)
    never_won: np.ndarray  # per age band: no deal this old was won within the horizon (probability 0)
    band_open: np.ndarray  # per age band: deal-snapshots in training
    band_won: np.ndarray
    season_on: bool
    columns: list[tuple[str, int, int]]  # ("season" | "band" | "seg", feature index, level) per column
    beta: np.ndarray
    cov: np.ndarray
    base_rate: float  # won by the horizon among all training deal-snapshots
    n: float
    anchors: int

    def matrix(self, season: np.ndarray, band: np.ndarray, seg: np.ndarray) -> np.ndarray:
        x = np.zeros((len(band), 1 + len(self.columns)))
        x[:, 0] = 1.0
        group = self.band_group[np.clip(band, 0, len(self.band_group) - 1)]
        for j, (kind, f, level) in enumerate(self.columns, start=1):
            on = season if kind == "season" else group if kind == "band" else seg[:, f]
            x[:, j] = on == level
        return x

    def predict(self, season, band, seg) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities, and the design matrix scaled by p(1-p) (the gradient for the delta method)."""
        x = self.matrix(season, band, seg)
        p = _sigmoid(x @ self.beta)
        clipped = np.clip(band, 0, len(self.never_won) - 1)
        zero = self.never_won[clipped]
        p = np.where(zero & (band >= 0), 0.0, p)
        grad = x * (p * (1 - p) * ~zero * (band >= 0))[:, None]
        return p, grad


def _sigmoid(z):
    return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def _fit(hist: _History, anchors: np.ndarray, horizon: int, segments: bool) -> _Fit | None:
    """The horizon's GLM on the rows of `anchors`; None when they hold too few deals or no win."""
    rows = np.isin(hist.anchor, anchors)
    n, won = hist.n[rows], hist.won[rows, horizon]
    total, wins = float(n.sum()), float(won.sum())
    if total < MIN_TRAIN or wins == 0 or wins == total:
        return None
    bands = len(AGE_EDGES)
    band = hist.band[rows]
    band_n = np.bincount(band, weights=n, minlength=bands)
    band_w = np.bincount(band, weights=won, minlength=bands)
    group = np.arange(bands)
    for b in range(1, bands):  # a sparse band takes the coefficient of the band below
        if band_n[b] < MIN_BAND:
            group[b] = group[b - 1]
    group_n = np.bincount(group, weights=band_n, minlength=bands)
    group_w = np.bincount(group, weights=band_w, minlength=bands)
    never = (group_w[group] == 0) & (group_n[group] > 0)
    season = hist.season[hist.anchor[rows]]
    season_on = len(anchors) >= SEASON_ANCHORS and len(np.unique(hist.season[anchors])) == 4
    fitted = ~never[band]
    g = group[band]
    present = np.bincount(g[fitted], weights=n[fitted], minlength=bands)
    columns = [("band", 0, b) for b in np.flatnonzero(present) if b != int(np.argmax(present))]
    if season_on:
        per = np.bincount(season[fitted], weights=n[fitted], minlength=4)
        columns = [("season", 0, s) for s in range(4) if s != int(np.argmax(per)) and per[s] > 0] + columns
    if segments:
        seg = hist.seg[rows][fitted]
        for f, size in enumerate(hist.sizes):
            per = np.bincount(seg[:, f], weights=n[fitted], minlength=size)
            ref = int(np.argmax(per))
            columns += [("seg", f, k) for k in range(size) if k != ref and per[k] >= MIN_LEVEL]
    fit = _Fit(horizon, group, never, band_n, band_w, season_on, columns, np.zeros(1 + len(columns)),
               np.zeros((1 + len(columns),) * 2), wins / total, total, len(anchors))
    # the anchors' rows of one season, band and segment are one cell of the likelihood
    key = (season[fitted] * len(AGE_EDGES) + g[fitted]) * hist.grid + hist.segment[rows][fitted]
    cells, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    cell_n = np.bincount(inverse, weights=n[fitted], minlength=len(cells))
    cell_won = np.bincount(inverse, weights=won[fitted], minlength=len(cells))
    at = np.flatnonzero(rows)[np.flatnonzero(fitted)[first]]
    x = fit.matrix(hist.season[hist.anchor[at]], hist.band[at], hist.seg[at])
    solved = _logistic(x, cell_won, cell_n)
    if solved is None:
        rate = float(cell_won.sum() / cell_n.sum())  # intercept only: the rate of the fitted bands
        fit.columns, fit.beta = [], np.array([math.log(rate / (1 - rate))])
        fit.cov = np.array([[1 / (cell_n.sum() * rate * (1 - rate))]])
        return fit
    fit.beta, fit.cov = solved
    return fit


def _logistic(x: np.ndarray, won: np.ndarray, n: np.ndarray):
    """Binomial GLM (logit link) on cells, statsmodels' own: (beta, cov), or None when it does not
    converge or separates."""
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            fitted = sm.GLM(np.column_stack([won, n - won]), x, family=sm.families.Binomial()).fit()
        except (PerfectSeparationWarning, np.linalg.LinAlgError, ValueError):
            return None
    beta, cov, converged = np.array(fitted.params), np.array(fitted.cov_params()), bool(fitted.converged)
    # statsmodels' results and model refer to each other (a cycle): without a collection each fit's weighted
    # design matrices outlive it, and a refresh's ~200 fits held ~150 MB until the collector ran
    del fitted
    gc.collect(1)
    if not converged or not (np.all(np.isfinite(beta)) and np.all(np.isfinite(cov))):
        return None
    return beta, cov


@dataclass(frozen=True)
class _Sum:
    """An expected total over deals, with the variance of the deals' own chance and of the model's."""
    expected: float
    chance: float  # sum of weight^2 x p(1-p): the deals' own randomness
    model: float  # g' cov g (delta method, g = d expected / d beta): the fit's uncertainty

    def interval(self, scale: float = 1.0) -> tuple[float, float]:
        half = Z_LEVEL * scale * math.sqrt(max(self.chance + self.model, 0.0))
        return max(self.expected - half, 0.0), self.expected + half

    @property
    def sd(self) -> float:
        return math.sqrt(max(self.chance + self.model, 1e-9))


def _total(fit: _Fit, p, grad, weight, square) -> _Sum:
    """Expected sum of weight x won, with its two variances."""
    g = grad.T @ weight
    return _Sum(float(weight @ p), float(square @ (p * (1 - p))), float(g @ fit.cov @ g))


# -- the backtest ------------------------------------------------------------------------------------


def _weighted_delong(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, float]:
    """AUC with its DeLong 95% interval from counts of positives and negatives per score (ties share
    half their placement), so cells need not be expanded into deals."""
    order = np.argsort(score, kind="stable")
    s, pos, neg = score[order], pos[order].astype(float), neg[order].astype(float)
    edges = np.flatnonzero(np.r_[True, np.diff(s) != 0])  # groups of equal scores
    P, N = np.add.reduceat(pos, edges), np.add.reduceat(neg, edges)
    n1, n0 = P.sum(), N.sum()
    if n1 < 2 or n0 < 2:
        return math.nan, math.nan, math.nan
    v10 = (np.cumsum(N) - N + 0.5 * N) / n0  # per positive at this score: negatives ranked below
    v01 = 1 - (np.cumsum(P) - P + 0.5 * P) / n1  # per negative: positives ranked above
    auc = float(P @ v10 / n1)
    var10 = float(P @ (v10 - auc) ** 2 / (n1 - 1))
    var01 = float(N @ (v01 - auc) ** 2 / (n0 - 1))
    se = math.sqrt(var10 / n1 + var01 / n0)
    return auc, max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se)


def delong_auc(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """AUC with its DeLong 95% interval, one score and label per deal."""
    labels = np.asarray(labels, dtype=bool)
    return _weighted_delong(np.asarray(scores, dtype=float), labels.astype(float), (~labels).astype(float))


def _paired_brier(p_model, p_other, n, won) -> tuple[float, float, float]:
    """(model Brier, other Brier, one-sided p-value that the model's is lower), from cells."""
    lost = n - won
    d_won = (1 - p_model) ** 2 - (1 - p_other) ** 2
    d_lost = p_model ** 2 - p_other ** 2
    total = n.sum()
    mean = (won @ d_won + lost @ d_lost) / total
    var = (won @ (d_won - mean) ** 2 + lost @ (d_lost - mean) ** 2) / max(total - 1, 1)
    brier = (won @ (1 - p_model) ** 2 + lost @ p_model ** 2) / total
    other = (won @ (1 - p_other) ** 2 + lost @ p_other ** 2) / total
    p_value = float(sps.norm.cdf(mean / math.sqrt(var / total))) if var > 0 else 1.0
    return float(brier), float(other), p_value


def _calibration(p, n, won) -> list[CalibrationBin]:
    """Deciles of the deal-snapshots by predicted probability (a cell is never split)."""
    order = np.argsort(p, kind="stable")
    p, n, won = p[order], n[order], won[order]
    middle = (np.cumsum(n) - n / 2) / max(n.sum(), 1)
    decile = np.minimum((middle * 10).astype(int), 9)
    bins = []
    for k in range(10):
        at = decile == k
        if n[at].sum():
            bins.append(CalibrationBin(decile=k + 1, n=int(n[at].sum()),
                                       mean_probability=_round(float(p[at] @ n[at] / n[at].sum()), 4),
                                       observed=Rate.of(won[at].sum(), n[at].sum())))
    return bins


@dataclass
class _Models:
    """Everything one refresh fits: the history, today's fits (with and without segments) and the backtest."""
    hist: _History
    fits: list[_Fit | None]  # per horizon, with segments
    age_fits: list[_Fit | None]  # per horizon, age and season alone
    backtest: Backtest | None
    scale: tuple[float, float]  # today's interval widening: deals, amounts
    withheld: tuple[bool, bool]  # no interval printed: deals, amounts
    stalled_after: float | None  # days: the STALLED_QUANTILE of won deals' cycles
    scores: dict = field(default_factory=dict)  # score_open's, per model


def _known_by(hist: _History, day: int, horizon: int) -> np.ndarray:
    """Anchors whose horizon had ended by `day`: their outcomes were known then."""
    return np.flatnonzero(hist.horizon_ends[:, horizon] <= day)


def _score_rows(fit: _Fit, hist: _History, rows: np.ndarray):
    return fit.predict(hist.season[hist.anchor[rows]], hist.band[rows], hist.seg[rows])


def _backtest(hist: _History, as_of_day: int):
    """(the backtest, today's widening for (deals, amounts), whether to withhold (deals, amounts))."""
    # every past anchor whose quarter has ended, refitted on what was known then
    history, pooled = [], {k: [] for k in ("p", "p_age", "base", "n", "won")}
    z_deals, z_amount = [], []
    for a in range(len(hist.anchor_days) - 1, -1, -1):  # oldest first
        if hist.horizon_ends[a, 0] > as_of_day:
            continue
        known = _known_by(hist, int(hist.anchor_days[a]), 0)
        if len(known) < MIN_ANCHORS:
            continue
        fit, age_fit = _fit(hist, known, 0, True), _fit(hist, known, 0, False)
        if fit is None or age_fit is None:
            continue
        rows = np.flatnonzero(hist.anchor == a)
        p, grad = _score_rows(fit, hist, rows)
        n, won = hist.n[rows], hist.won[rows, 0]
        deals = _total(fit, p, grad, n, n)
        low, high = deals.interval()
        actual = int(round(won.sum()))
        row = dict(as_of=from_day_number(int(hist.anchor_days[a])),
                   quarter=label_for(hist.anchor_quarters[a], "quarter"),
                   open_deals=int(n.sum()), expected_won_deals=round(deals.expected, 1), deals_low=round(low, 1),
                   deals_high=round(high, 1), actual_won_deals=actual, covered=bool(low <= actual <= high))
        z_deals.append((actual - deals.expected) / deals.sd)
        if hist.amounts_kept:
            # a cell's deals with an amount share its probability, so their sum of amounts is the weight
            amounts = _total(fit, p, grad, hist.amount[rows], hist.amount_sq[rows])
            a_low, a_high = amounts.interval()
            won_amount = float(hist.won_amount[rows, 0].sum())
            row.update(expected_won_amount=round(amounts.expected, 2), amount_low=round(a_low, 2),
                       amount_high=round(a_high, 2), actual_won_amount=round(won_amount, 2),
                       amount_covered=bool(a_low <= won_amount <= a_high))
            z_amount.append((won_amount - amounts.expected) / amounts.sd)
        history.append(BacktestQuarter(**row))
        pooled["p"].append(p)
        pooled["p_age"].append(_score_rows(age_fit, hist, rows)[0])
        pooled["base"].append(np.full(len(rows), fit.base_rate))
        pooled["n"].append(n)
        pooled["won"].append(won)
    if not history:
        return None, (1.0, 1.0), (False, False)
    p, p_age, base, n, won = (np.concatenate(pooled[k]) for k in ("p", "p_age", "base", "n", "won"))
    quarters, covered = len(history), sum(h.covered for h in history)
    too_many, scale = widening(z_deals)
    after = sum(abs(z) <= Z_LEVEL * scale for z in z_deals) if too_many else None
    # too few quarters to widen from, or missing too often even widened: no interval is printed
    withheld = too_many and (quarters < MIN_BACKTESTS or widening([z / scale for z in z_deals])[0])
    # amounts: their own errors where they could be replayed, else the deal counts' widening
    amount_too_many, amount_scale = widening(z_amount) if z_amount else (too_many, scale)
    amount_withheld = amount_too_many and (len(z_amount or z_deals) < MIN_BACKTESTS or widening(
        [z / amount_scale for z in (z_amount or z_deals)])[0])
    auc, auc_low, auc_high = _weighted_delong(p, won, n - won)
    brier, base_brier, brier_p = _paired_brier(p, base, n, won)
    _, age_brier, skill_p = _paired_brier(p, p_age, n, won)
    amount_rows = [h for h in history if h.amount_covered is not None]
    bt = Backtest(as_of=history[-1].as_of, quarters=quarters, covered=covered, amount_quarters=len(amount_rows),
                  amount_covered=sum(h.amount_covered for h in amount_rows), level=LEVEL, too_many_misses=too_many,
                  interval_scale=round(scale, 2), amount_interval_scale=round(amount_scale, 2),
                  covered_after_widening=after, scored=int(n.sum()),
                  win_rate=_round(won.sum() / n.sum(), 4), mean_probability=_round(p @ n / n.sum(), 4),
                  auc=_round(auc, 4), auc_ci_low=_round(auc_low, 4), auc_ci_high=_round(auc_high, 4),
                  brier=_round(brier, 4), base_rate=_round(base @ n / n.sum(), 4),
                  base_rate_brier=_round(base_brier, 4),
                  brier_p_value=_sig(brier_p), age_only_brier=_round(age_brier, 4), skill_p_value=_sig(skill_p),
                  skill=bool(auc_low > 0.5 and brier_p < 0.05 and skill_p < 0.05),
                  calibration=_calibration(p, n, won), history=history)
    return bt, (scale, amount_scale), (withheld, amount_withheld)


def widening(errors: list[float]) -> tuple[bool, float]:
    """(too many misses, scale) from past forecasts' standardised errors (actual - expected) / sd. Too
    many: at least that many misses of the 90% interval would happen under 5% of the time were it right;
    then the scale is the errors' root mean square (their sd, were the model's sd right, would be 1)."""
    errors = np.asarray(errors, dtype=float)
    misses = int((np.abs(errors) > Z_LEVEL).sum())
    if not len(errors) or sps.binom.sf(misses - 1, len(errors), 1 - LEVEL) >= 0.05:
        return False, 1.0
    return True, max(1.0, float(np.sqrt(np.mean(errors ** 2))))


def fit_models(snapshot: Snapshot) -> _Models:
    """The history, today's fits and the backtest of a snapshot, fitted once per refresh (kept in its memo)."""
    return snapshot.memo.get("pipeline", "models", lambda: _fit_models(snapshot), keep=1)


def _fit_models(snapshot: Snapshot) -> _Models:
    hist = _history(snapshot)
    today = day_number(snapshot.as_of)
    fits = [_fit(hist, _known_by(hist, today, h), h, True) for h in range(HORIZONS)]
    age_fits = [_fit(hist, _known_by(hist, today, h), h, False) for h in range(HORIZONS)]
    bt, scale, withheld = _backtest(hist, today)
    cycles = hist.won_cycles
    stalled_after = cycles.quantile(STALLED_QUANTILE) if len(cycles) >= 30 else None
    return _Models(hist, fits, age_fits, bt, scale, withheld, stalled_after)


@dataclass
class _Scores:
    """Open deals scored by cell (age band x segment): a million open deals share a few thousand cells."""
    cell: np.ndarray  # per open deal: its cell
    cell_p: np.ndarray  # (cells, HORIZONS): won by each horizon's end
    cell_grad: list[np.ndarray]  # per horizon: (cells, columns), d p / d beta
    fits: list[_Fit]
    ages: np.ndarray  # per open deal; -1: no created date
    band: np.ndarray

    @cached_property
    def p(self) -> np.ndarray:
        return self.cell_p[self.cell]


def score_open(snapshot: Snapshot, models: _Models, segments: bool) -> _Scores | None:
    """Each open deal's probability of being won by the end of this quarter and of next, once per refresh."""
    key = ("scores", segments)
    if key not in models.scores:
        models.scores[key] = _score_open(snapshot, models, segments)
    return models.scores[key]


def _score_open(snapshot: Snapshot, models: _Models, segments: bool) -> _Scores | None:
    fits = models.fits if segments else models.age_fits
    if any(f is None for f in fits):
        return None
    hist = models.hist
    ages = open_ages(snapshot)
    band = np.where(ages >= 0, band_of(np.maximum(ages, 0)), -1)
    seg = np.column_stack([snapshot.codes(f, open_pipeline=True) + 1 for f in hist.features]) if hist.features \
        else np.zeros((len(ages), 0), dtype=np.int64)
    this_q, _ = forecast_quarters(snapshot.as_of)
    key = band.astype(np.int64) + 1
    for f, size in enumerate(hist.sizes):
        key = key * size + seg[:, f]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    season = np.full(len(first), (this_q.month - 1) // 3)
    cell_p, grads = np.zeros((len(first), HORIZONS)), []
    for h, fit in enumerate(fits):
        cell_p[:, h], g = fit.predict(season, band[first], seg[first])
        grads.append(g)
    cell_p[:, 1] = np.maximum(cell_p[:, 1], cell_p[:, 0])  # won by next quarter's end includes this quarter's
    undated = band[first] < 0
    if undated.any() and not undated.all():  # no created date, no age: the chance of today's average dated deal
        deals = np.bincount(inverse, minlength=len(first)).astype(float)
        cell_p[undated] = (deals[~undated] @ cell_p[~undated]) / deals[~undated].sum()
        for g in grads:
            g[undated] = 0.0
    return _Scores(inverse.ravel(), cell_p, grads, list(fits), ages, band)


# -- the command -------------------------------------------------------------------------------------


def _reasons(fit: _Fit | None, hist: _History, seg_row, band: int, age: int, p: float, skill: bool,
             snapshot: Snapshot) -> list[Reason]:
    out = []
    if skill and fit is not None and 0 < p < 1:  # a deal at 0 (older than any win) is explained by its age
        z = fit.beta / np.sqrt(np.maximum(np.diag(fit.cov), 1e-300))
        for j, (kind, f, level) in enumerate(fit.columns, start=1):
            if kind == "seg" and seg_row[f] == level and fit.beta[j] < 0 and abs(z[j]) >= Z95:
                without = _sigmoid(math.log(p / (1 - p)) - fit.beta[j])
                dim = hist.features[f]
                out.append(Reason(kind="segment", dimension=dim, value=snapshot.values(dim)[level - 1],
                                  effect_pp=_round(100 * (p - without), 1)))
    cycles = hist.won_cycles
    if age >= 0 and len(cycles) >= 30:
        share = cycles.share_at_most(age)
        if share >= 0.75:
            b = min(band, len(AGE_EDGES) - 1)
            opened = won = None
            if fit is not None:  # what became of deals this old in past quarters
                opened, won = int(fit.band_open[b:].sum()), int(fit.band_won[b:].sum())
            out.append(Reason(kind="age", age_days=int(age), won_cycle_percentile=_round(100 * share, 0),
                              history_open=opened, history_won=won))
    return out


def _rank_key(loss: np.ndarray) -> np.ndarray:
    """The listing's order, ascending: the largest amount at risk (amount x chance of not being won) first,
    deals without an amount after every deal with one."""
    return -np.nan_to_num(loss, nan=-1.0)


def _ranked(rows: np.ndarray, key: np.ndarray, limit: int | None = None) -> np.ndarray:
    """`rows` in ascending order of `key` (ties in row order), or only the first `limit` of them: those
    are found by a partition, not by sorting a million open deals for ten."""
    order_key = key[rows]
    if limit is None or limit >= len(rows):
        return rows[np.argsort(order_key, kind="stable")]
    kth = np.partition(order_key, limit - 1)[limit - 1]
    candidates = np.flatnonzero(order_key <= kth)  # every row that can rank among the first `limit`
    return rows[candidates[np.argsort(order_key[candidates], kind="stable")][:limit]]


def _sums(scores: _Scores, mask: np.ndarray, amounts: np.ndarray) -> dict[str, _Sum]:
    """Expected won deals and amount this quarter ("0"), next ("1") and over both ("both"), over the
    masked deals: their weights are summed into cells first, so the cost is the cells', not the deals'."""
    cells = len(scores.cell_p)
    at = scores.cell[mask]
    a = amounts[mask]
    a = np.where(np.isfinite(a), a, 0.0)  # a deal without an amount counts in the deals, not the amounts
    return _cell_sums(scores, np.bincount(at, minlength=cells).astype(float),
                      np.bincount(at, weights=a, minlength=cells), np.bincount(at, weights=a * a, minlength=cells))


def _cell_sums(scores, counts: np.ndarray, amount: np.ndarray, amount_sq: np.ndarray) -> dict[str, _Sum]:
    """`_sums` from the deals' weights per cell: their number, amounts (blank: 0) and squared amounts."""
    out = {}
    p0, p1 = scores.cell_p[:, 0], scores.cell_p[:, 1]
    for name, w, w2 in (("deals", counts, counts), ("amount", amount, amount_sq)):
        per = [_total(scores.fits[h], scores.cell_p[:, h], scores.cell_grad[h], w, w2) for h in range(HORIZONS)]
        q = p1 - p0  # won next quarter, not this one
        out[name + "0"], out[name + "both"] = per
        out[name + "1"] = _Sum(float(w @ q), float(w2 @ (q * (1 - q))), per[0].model + per[1].model)
    return out


def _won_to_date(snapshot: Snapshot, sel: Selection) -> dict:
    """The selection's deals won from the first day of the quarter being forecast to the as-of date, and
    the censoring of the extract: the forecast is read against both."""
    from .counting import amount_rate_in, rate_in
    from .periods import Period

    out: dict = {}
    if snapshot.report.censored_after is not None and snapshot.report.censored_after < snapshot.as_of:
        out["created_until"] = snapshot.report.censored_after
    first, _ = forecast_quarters(snapshot.as_of)
    if first > snapshot.as_of:
        return out
    mask = sel.filtered & period_mask(snapshot, Period(first, snapshot.as_of, label_for(first, "quarter"), complete=False))
    won = rate_in(snapshot, mask).won
    out["won_to_date"] = int(won)
    if won:
        out["won_to_date_amount"] = round(float(amount_rate_in(snapshot, mask).won_amount), 2)
    return out


def open_pipeline(snapshot: Snapshot, query: Query) -> PipelineResult:
    """The open pipeline of the selection: each deal's chance of being won this quarter and next, the
    bookings they bring with intervals the backtest checked, the deals most at risk, by segment."""
    sel = Selection(snapshot, query, default=ALL_TIME)
    if counter_of(snapshot) is not None:
        return _streamed_pipeline(snapshot, query, sel)
    mask = open_mask(snapshot, sel.open)
    amounts = open_frame(snapshot)["deal_amount"].to_numpy(dtype=float)
    fields = {"command": "pipeline", "as_of": snapshot.as_of, "query": query, "period": sel.period,
              "date_basis": "open_pipeline", "open_deals": int(mask.sum()),
              "open_amount": round(float(np.nansum(amounts[mask])), 2),
              "open_without_amount": int(np.isnan(amounts[mask]).sum())}
    fields.update(_won_to_date(snapshot, sel))
    if _too_little_history(snapshot):
        return PipelineResult(**fields, notes=["too_few_for_model"])
    if not mask.any():
        return PipelineResult(**fields, notes=["no_open_deals"])
    models = fit_models(snapshot)
    bt = models.backtest
    skill = bool(bt is not None and bt.skill)
    scores = score_open(snapshot, models, segments=skill)
    if scores is None:
        return PipelineResult(**fields, backtest=bt, skill=skill, notes=["too_few_for_model"])
    notes = ["no_backtest"] if bt is None else ["few_backtests"] if bt.quarters < MIN_BACKTESTS else []
    if not models.hist.amounts_kept:
        notes.append("amounts_not_backtested")
    stalled = scores.ages > models.stalled_after if models.stalled_after is not None else \
        np.zeros(len(amounts), dtype=bool)
    stalled_deals = int((stalled & mask).sum())
    listing = OpenDealListing(snapshot=snapshot, scores=scores, hist=models.hist, rows=np.flatnonzero(mask),
                              amounts=amounts, stalled=stalled, skill=skill)
    return PipelineResult(
        **fields, notes=notes, backtest=bt, skill=skill, features=list(models.hist.features) if skill else [],
        anchors=scores.fits[0].anchors, training_deals=int(scores.fits[0].n),
        forecast=_forecast(models, scores, mask, amounts, snapshot.as_of), stalled_deals=stalled_deals,
        stalled_probability=_round(float(scores.p[stalled & mask, 0].mean()), 4) if stalled_deals else None,
        ranked_by="expected_loss" if skill else "amount_and_age", at_risk=listing.first(AT_RISK_SHOWN),
        listing=listing, segments=_segments(snapshot, query, models, scores, mask, amounts, listing.loss))


def _interval(models: _Models, s: _Sum, digits: int, amounts: bool = False) -> tuple[float | None, float | None]:
    """An interval printed only where the backtest does not contradict it (see _backtest)."""
    if models.withheld[amounts]:
        return None, None
    low, high = s.interval(models.scale[amounts])
    return round(low, digits), round(high, digits)


def _forecast(models: _Models, scores: _Scores, mask: np.ndarray, amounts: np.ndarray, as_of: dt.date) -> Forecast:
    """Expected won deals and bookings this quarter, next, and over both, with their intervals."""
    return _forecast_of(models, _sums(scores, mask, amounts), round(float(np.nansum(amounts[mask])), 2),
                        int(mask.sum()), int((mask & ~np.isfinite(amounts)).sum()), as_of)


def _forecast_of(models: _Models, sums: dict[str, _Sum], open_amount: float, open_deals: int, without_amount: int,
                 as_of: dt.date) -> Forecast:
    quarters = []
    for h, first in enumerate(forecast_quarters(as_of)):
        dl, dh = _interval(models, sums[f"deals{h}"], 1)
        al, ah = _interval(models, sums[f"amount{h}"], 2, amounts=True)
        quarters.append(QuarterForecast(quarter=label_for(first, "quarter"),
                                        expected_won_amount=round(sums[f"amount{h}"].expected, 2), low=al, high=ah,
                                        expected_won_deals=round(sums[f"deals{h}"].expected, 1), deals_low=dl,
                                        deals_high=dh))
    dl, dh = _interval(models, sums["dealsboth"], 1)
    al, ah = _interval(models, sums["amountboth"], 2, amounts=True)
    return Forecast(expected_won_amount=round(sums["amountboth"].expected, 2), low=al, high=ah, level=LEVEL,
                    expected_won_deals=round(sums["dealsboth"].expected, 1), deals_low=dl, deals_high=dh,
                    open_amount=open_amount, open_deals=open_deals, deals_without_amount=without_amount,
                    interval_scale=round(models.scale[0], 2), amount_interval_scale=round(models.scale[1], 2),
                    by_quarter=quarters)


def _segments(snapshot: Snapshot, query: Query, models: _Models, scores: _Scores, mask: np.ndarray,
              amounts: np.ndarray, loss: np.ndarray) -> list[PipelineSegment]:
    """The forecast per value of the first grouping, the most amount at risk first."""
    if not query.group_by:
        return []
    dim = query.group_by[0]
    dim_codes = snapshot.codes(dim, open_pipeline=True)
    out = []
    for k, value in enumerate(snapshot.values(dim)):
        seg = mask & (dim_codes == k)
        if not seg.any():
            continue
        s = _sums(scores, seg, amounts)
        s_low, s_high = _interval(models, s["amountboth"], 2, amounts=True)
        out.append(PipelineSegment(
            segment={dim: value}, label=value, open_deals=int(seg.sum()),
            open_amount=round(float(np.nansum(amounts[seg])), 2),
            expected_won_deals=round(s["dealsboth"].expected, 1),
            expected_won_amount=round(s["amountboth"].expected, 2), low=s_low, high=s_high,
            at_risk_amount=round(float(np.nansum(loss[seg])), 2)))
    out.sort(key=lambda s: -s.at_risk_amount)
    return out


@dataclass(frozen=True, eq=False)
class OpenDealListing:
    """The selection's open deals in ranking order (the largest expected loss over the two quarters
    first, deals without an amount last), listed on demand: a reply shows the first few, the JSON and
    the CSV every one, and a million deals are not listed for a reply."""

    snapshot: Snapshot
    scores: _Scores
    hist: _History
    rows: np.ndarray  # the selection's open deals
    amounts: np.ndarray  # per open deal; NaN: blank
    stalled: np.ndarray
    skill: bool  # reasons name segments only when they beat age and season alone

    @cached_property
    def loss(self) -> np.ndarray:
        """Each open deal's amount x its chance of not being won by the end of next quarter."""
        return self.amounts * (1 - self.scores.p[:, 1])

    def first(self, limit: int) -> list[OpenDeal]:
        """The first `limit` deals, with their reasons."""
        return self._listed(_ranked(self.rows, self._key, limit), True)

    def after(self, skip: int) -> list[OpenDeal]:
        """Every deal after the first `skip` (with reasons only for a selection of up to 5,000)."""
        return self._listed(_ranked(self.rows, self._key)[skip:], len(self.rows) <= 5000)

    def at_least(self, amount: float) -> list[OpenDeal]:
        """The deals of at least `amount` (blank ones left out) in ranking order, without reasons."""
        rows = self.rows[self.amounts[self.rows] >= amount]
        return self._listed(_ranked(rows, self._key), False)

    @cached_property
    def _key(self) -> np.ndarray:
        return _rank_key(self.loss)

    @cached_property
    def _segment_codes(self) -> np.ndarray | None:
        features = self.hist.features
        return np.column_stack([self.snapshot.codes(f, open_pipeline=True) for f in features]) if features else None

    def _listed(self, chosen: np.ndarray, with_reasons: bool) -> list[OpenDeal]:
        ids = open_frame(self.snapshot)["deal_id"].iloc[chosen].tolist()  # only the listed deals' ids are read
        return [self._deal(int(i), d, with_reasons) for i, d in zip(chosen, ids)]

    def _deal(self, i: int, deal_id, with_reasons: bool) -> OpenDeal:
        snapshot, scores, seg_all = self.snapshot, self.scores, self._segment_codes
        rep = snapshot.codes("sales_rep_id", True)[i] if "sales_rep_id" in snapshot.dimensions else -1
        return _open_deal(snapshot, self.hist, scores.fits[0], self.skill, deal_id, float(scores.p[i, 0]),
                          float(scores.p[i, 1]), float(self.amounts[i]), int(scores.ages[i]), int(scores.band[i]),
                          seg_all[i] if seg_all is not None else None, int(rep), bool(self.stalled[i]), with_reasons)


def _open_deal(snapshot: Snapshot, hist: _History, fit: _Fit | None, skill: bool, deal_id, p0: float, p1: float,
               raw_amount: float, age: int, band: int, seg_codes, rep_code: int, stalled: bool,
               with_reasons: bool) -> OpenDeal:
    """One listed open deal: its chances, amount (NaN: blank), age (-1: no created date), age band, its features'
    category codes (-1: no value) and rep's, with the reasons it is at risk when asked for."""
    amount = raw_amount if np.isfinite(raw_amount) else None
    # a snapshot whose rep dimension was taken out (REPS_USERS) names no owner
    rep = snapshot.values("sales_rep_id")[rep_code] if "sales_rep_id" in snapshot.dimensions and rep_code >= 0 \
        else None
    return OpenDeal(deal_id=str(deal_id), win_probability=_round(p0, 4), win_probability_next_quarter=_round(p1, 4),
                    amount=amount, expected_amount=None if amount is None else round(amount * p1, 2),
                    expected_loss=None if amount is None else round(float(raw_amount * (1 - p1)), 2),
                    age_days=age if age >= 0 else None, rep=rep,
                    segment={f: snapshot.values(f)[c] if c >= 0 else "" for f, c in zip(hist.features, seg_codes)}
                    if seg_codes is not None else {},
                    reasons=_reasons(fit, hist, seg_codes + 1 if seg_codes is not None else (), band, age, p0, skill,
                                     snapshot) if with_reasons else [],
                    stalled=stalled)


# -- the open pipeline of deals counted where they live: scored chunk by chunk, never held whole --------------


@dataclass
class _CellScores:
    """`_Scores` without the per-deal arrays: the open deals' cells (their keys, sorted, as `_score_open` finds
    them), each cell's chances and gradients. A deal's cell is found from its key, chunk by chunk."""
    keys: np.ndarray
    cell_p: np.ndarray
    cell_grad: list[np.ndarray]
    fits: list[_Fit]


def _cell_key(ages: np.ndarray, seg: np.ndarray, sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(age band, each deal's cell key) as `_score_open` makes them; `seg` the features' codes + 1."""
    band = np.where(ages >= 0, band_of(np.maximum(ages, 0)), -1)
    key = band.astype(np.int64) + 1
    for f, size in enumerate(sizes):
        key = key * size + seg[:, f]
    return band, key


def _ages_of(created, as_of: dt.date) -> np.ndarray:
    """`open_ages` of these created dates."""
    created = np.asarray(created).astype("datetime64[D]")
    ages = (np.datetime64(as_of, "D") - created).astype("timedelta64[D]")
    return np.where(np.isnat(ages), -1, ages.astype(np.int64))


def score_cells(snapshot: Snapshot, models: _Models, segments: bool) -> _CellScores | None:
    """`score_open`'s cells and chances from the open deals counted per created day and features where they
    live (one GROUP BY): the same numbers, without a row per open deal. Once per refresh."""
    key = ("cells", segments)
    if key not in models.scores:
        models.scores[key] = _score_cells(snapshot, models, segments)
    return models.scores[key]


def _score_cells(snapshot: Snapshot, models: _Models, segments: bool) -> _CellScores | None:
    fits = models.fits if segments else models.age_fits
    if any(f is None for f in fits):
        return None
    hist = models.hist
    found = counter_of(snapshot).open_cell_counts(hist.features)
    ages = _ages_of(found["created"], snapshot.as_of)
    seg = np.column_stack([found[f"c_{f}"].to_numpy(dtype=np.int64) + 1 for f in hist.features]) if hist.features \
        else np.zeros((len(ages), 0), dtype=np.int64)
    band, key = _cell_key(ages, seg, hist.sizes)
    keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    this_q, _ = forecast_quarters(snapshot.as_of)
    season = np.full(len(first), (this_q.month - 1) // 3)
    cell_p, grads = np.zeros((len(first), HORIZONS)), []
    for h, fit in enumerate(fits):
        cell_p[:, h], g = fit.predict(season, band[first], seg[first])
        grads.append(g)
    cell_p[:, 1] = np.maximum(cell_p[:, 1], cell_p[:, 0])
    undated = band[first] < 0
    if undated.any() and not undated.all():
        deals = np.bincount(inverse.ravel(), weights=found["n"].to_numpy(dtype=np.float64),
                            minlength=len(first))
        cell_p[undated] = (deals[~undated] @ cell_p[~undated]) / deals[~undated].sum()
        for g in grads:
            g[undated] = 0.0
    return _CellScores(keys, cell_p, grads, list(fits))


class _Sparse:
    """Sums over keys met chunk by chunk (a segment's cells): each slot adds its deals in their order, as a
    `np.bincount` over every deal at once would."""

    def __init__(self, columns: int):
        self.keys = np.zeros(0, dtype=np.int64)
        self.values = np.zeros((0, columns))

    def add(self, keys: np.ndarray, weights: np.ndarray) -> None:
        new = np.setdiff1d(keys, self.keys)
        if len(new):
            merged = np.union1d(self.keys, new)
            values = np.zeros((len(merged), self.values.shape[1]))
            values[np.searchsorted(merged, self.keys)] = self.values
            self.keys, self.values = merged, values
        at = np.searchsorted(self.keys, keys)
        for c in range(weights.shape[1]):
            np.add.at(self.values[:, c], at, weights[:, c])


@dataclass
class _Candidate:
    """An open deal that may be among the first listed, with what its line needs."""
    rank: float  # the listing's key: smallest first
    deal_id: str
    p0: float
    p1: float
    amount: float
    age: int
    band: int
    seg_codes: np.ndarray
    rep: int
    stalled: bool


@dataclass
class _Reduced:
    """What the pipeline's answer needs of the selection's open deals, summed chunk by chunk."""
    counts: np.ndarray  # per cell
    amount: np.ndarray  # per cell: amounts (blank: 0)
    amount_sq: np.ndarray
    stalled: int
    stalled_p: float  # sum of this quarter's chance of the stalled deals
    top: list[_Candidate]
    groups: dict  # group code -> (deals, amount, at risk, _Sparse of its cells' weights)


def _chunk_cells(snapshot: Snapshot, hist: _History, scores: _CellScores, chunk) -> tuple[np.ndarray, ...]:
    """A chunk of open deals (rows in the loader's frame): each one's age (-1: no created date), its features'
    category codes (-1: no value), age band and cell (a position in `scores.keys`)."""
    m, features, cells = len(chunk), hist.features, len(scores.keys)
    ages = _ages_of(chunk["created_date"].to_numpy(), snapshot.as_of)
    codes = np.column_stack([chunk[f].cat.codes.to_numpy().astype(np.int64) for f in features]) if features \
        else np.zeros((m, 0), dtype=np.int64)
    band, key = _cell_key(ages, codes + 1, hist.sizes)
    cell = np.searchsorted(scores.keys, key)
    if (cell >= cells).any() or (scores.keys[np.minimum(cell, cells - 1)] != key).any():
        raise RuntimeError("an open deal's cell was not counted: the open deals changed during the answer")
    return ages, codes, band, cell


def _add(total: np.ndarray, slot: np.ndarray, values: np.ndarray) -> None:
    np.add.at(total, slot, values)


def _reduce(snapshot: Snapshot, subset, models: _Models, scores: _CellScores, group: str | None,
            limit: int) -> _Reduced:
    """One pass over the selection's open deals in chunks (in the Snapshot's row order): per cell their number
    and amounts, the stalled deals, per value of `group` the same and the amount at risk, and the first `limit`
    of the listing (a running top: ties keep row order, as `_ranked` does)."""
    hist = models.hist
    cells = len(scores.keys)
    out = _Reduced(np.zeros(cells, dtype=np.int64), np.zeros(cells), np.zeros(cells), 0, 0.0, [], {})
    stalled_sum = np.zeros(1)
    levels = len(snapshot.values(group)) if group is not None else 0
    group_n, group_amount, group_risk = np.zeros(levels, dtype=np.int64), np.zeros(levels), np.zeros(levels)
    sparse = _Sparse(3)
    for chunk in counter_of(snapshot).open_chunks(subset):
        m = len(chunk)
        if not m:
            continue
        ages, codes, band, cell = _chunk_cells(snapshot, hist, scores, chunk)
        p = scores.cell_p[cell]
        amounts = chunk["deal_amount"].to_numpy(dtype=float)
        a = np.where(np.isfinite(amounts), amounts, 0.0)
        out.counts += np.bincount(cell, minlength=cells)
        _add(out.amount, cell, a)
        _add(out.amount_sq, cell, a * a)
        stalled = ages > models.stalled_after if models.stalled_after is not None else np.zeros(m, dtype=bool)
        out.stalled += int(stalled.sum())
        _add(stalled_sum, np.zeros(int(stalled.sum()), dtype=np.int64), p[stalled, 0])
        loss = amounts * (1 - p[:, 1])
        if group is not None:
            g = chunk[group].cat.codes.to_numpy().astype(np.int64)
            kept = g >= 0
            sparse.add(g[kept] * cells + cell[kept], np.column_stack([np.ones(int(kept.sum())), a[kept],
                                                                      (a * a)[kept]]))
            group_n += np.bincount(g[kept], minlength=len(group_n))
            known = kept & np.isfinite(amounts)
            _add(group_amount, g[known], amounts[known])
            known = kept & np.isfinite(loss)
            _add(group_risk, g[known], loss[known])
        rank = _rank_key(loss)
        ids = chunk["deal_id"].to_numpy()
        reps = chunk["sales_rep_id"].cat.codes.to_numpy() if "sales_rep_id" in snapshot.dimensions else None
        for i in _ranked(np.arange(m), rank, limit):
            out.top.append(_Candidate(float(rank[i]), ids[i], float(p[i, 0]), float(p[i, 1]), float(amounts[i]),
                                      int(ages[i]), int(band[i]), codes[i].copy(),
                                      int(reps[i]) if reps is not None else -1, bool(stalled[i])))
        out.top = sorted(out.top, key=lambda c: c.rank)[:limit]  # stable: an earlier row first among ties
    out.stalled_p = float(stalled_sum[0])
    for k in np.flatnonzero(group_n):
        rows = (sparse.keys >= k * cells) & (sparse.keys < (k + 1) * cells)
        weights = np.zeros((cells, 3))
        weights[sparse.keys[rows] - k * cells] = sparse.values[rows]
        out.groups[int(k)] = (int(group_n[k]), float(group_amount[k]), float(group_risk[k]), weights)
    return out


@dataclass(frozen=True, eq=False)
class _RowsListing:
    """Every open deal of the selection listed (the JSON, the CSV), only when asked: the selection's open deals
    streamed in chunks twice — first each one's ranking key alone, then each deal listed at its place — so no
    frame of every open deal is held, only the listing itself."""
    snapshot: Snapshot
    models: _Models
    subset: object
    skill: bool

    def _scored(self, at_least: float | None = None):
        """(chunk, its deals' chances, ages, feature codes, bands, stalled flags, ranking keys), chunk by chunk."""
        snapshot, models = self.snapshot, self.models
        scores = score_cells(snapshot, models, segments=self.skill)
        for chunk in counter_of(snapshot).open_chunks(self.subset, at_least=at_least):
            if not len(chunk):
                continue
            ages, codes, band, cell = _chunk_cells(snapshot, models.hist, scores, chunk)
            p = scores.cell_p[cell]
            stalled = ages > models.stalled_after if models.stalled_after is not None else \
                np.zeros(len(chunk), dtype=bool)
            loss = chunk["deal_amount"].to_numpy(dtype=float) * (1 - p[:, 1])
            yield chunk, p, ages, codes, band, stalled, _rank_key(loss)

    def _deals(self, chunk, p, ages, codes, band, stalled, chosen: np.ndarray, with_reasons: bool) -> list[OpenDeal]:
        snapshot, hist = self.snapshot, self.models.hist
        fit = score_cells(snapshot, self.models, segments=self.skill).fits[0]
        ids = chunk["deal_id"].to_numpy()
        amounts = chunk["deal_amount"].to_numpy(dtype=float)
        reps = chunk["sales_rep_id"].cat.codes.to_numpy() if "sales_rep_id" in snapshot.dimensions else None
        return [_open_deal(snapshot, hist, fit, self.skill, ids[i], float(p[i, 0]), float(p[i, 1]), float(amounts[i]),
                           int(ages[i]), int(band[i]), codes[i] if hist.features else None,
                           int(reps[i]) if reps is not None else -1, bool(stalled[i]), with_reasons)
                for i in chosen]

    def after(self, skip: int) -> list[OpenDeal]:
        """`OpenDealListing.after`: every deal after the first `skip` in ranking order (ties in row order)."""
        keys = [scored[-1] for scored in self._scored()]
        keys = np.concatenate(keys) if keys else np.zeros(0)
        order = np.argsort(keys, kind="stable")
        place = np.empty(len(order), dtype=np.int64)
        place[order] = np.arange(len(order))
        del keys, order
        out: list[OpenDeal | None] = [None] * max(0, len(place) - skip)
        start = 0
        for chunk, p, ages, codes, band, stalled, _ in self._scored():
            if start + len(chunk) > len(place):
                raise RuntimeError("the open deals changed during the answer")
            at = place[start:start + len(chunk)] - skip
            chosen = np.flatnonzero(at >= 0)
            for k, deal in zip(at[chosen], self._deals(chunk, p, ages, codes, band, stalled, chosen,
                                                        len(place) <= 5000)):
                out[k] = deal
            start += len(chunk)
        if start != len(place):
            raise RuntimeError("the open deals changed during the answer")
        return out

    def at_least(self, amount: float) -> list[OpenDeal]:
        """`OpenDealListing.at_least`: only the deals of at least `amount` are fetched (the amount in the query)."""
        listed, keys = [], []
        for chunk, p, ages, codes, band, stalled, key in self._scored(at_least=amount):
            listed += self._deals(chunk, p, ages, codes, band, stalled, range(len(chunk)), False)
            keys.append(key)
        order = np.argsort(np.concatenate(keys), kind="stable") if keys else []
        return [listed[i] for i in order]


def _streamed_pipeline(snapshot: Snapshot, query: Query, sel: Selection) -> PipelineResult:
    """`open_pipeline` of deals counted where they live: the open deals' cells counted there, the selection's open
    deals streamed in chunks and reduced to what the answer says (the same numbers, in bounded memory)."""
    counter = counter_of(snapshot)
    n, amount, blank = counter.open_totals(sel.open)
    fields = {"command": "pipeline", "as_of": snapshot.as_of, "query": query, "period": sel.period,
              "date_basis": "open_pipeline", "open_deals": n, "open_amount": round(float(amount), 2),
              "open_without_amount": blank}
    fields.update(_won_to_date(snapshot, sel))
    if _too_little_history(snapshot):
        return PipelineResult(**fields, notes=["too_few_for_model"])
    if not n:
        return PipelineResult(**fields, notes=["no_open_deals"])
    models = fit_models(snapshot)
    bt = models.backtest
    skill = bool(bt is not None and bt.skill)
    scores = score_cells(snapshot, models, segments=skill)
    if scores is None:
        return PipelineResult(**fields, backtest=bt, skill=skill, notes=["too_few_for_model"])
    notes = ["no_backtest"] if bt is None else ["few_backtests"] if bt.quarters < MIN_BACKTESTS else []
    if not models.hist.amounts_kept:
        notes.append("amounts_not_backtested")
    group = query.group_by[0] if query.group_by else None
    red = snapshot.memo.get("pipeline", ("reduced", sel.open.filters, group, skill),
                            lambda: _reduce(snapshot, sel.open, models, scores, group, AT_RISK_SHOWN), keep=8)
    fit = scores.fits[0]
    at_risk = [_open_deal(snapshot, models.hist, fit, skill, c.deal_id, c.p0, c.p1, c.amount, c.age, c.band,
                          c.seg_codes, c.rep, c.stalled, True) for c in red.top]
    segments = []
    for k, value in enumerate(snapshot.values(group) if group else ()):
        if k not in red.groups:
            continue
        deals, amount_k, at_risk_k, w = red.groups[k]
        s = _cell_sums(scores, w[:, 0], w[:, 1], w[:, 2])
        s_low, s_high = _interval(models, s["amountboth"], 2, amounts=True)
        segments.append(PipelineSegment(
            segment={group: value}, label=value, open_deals=deals, open_amount=round(amount_k, 2),
            expected_won_deals=round(s["dealsboth"].expected, 1),
            expected_won_amount=round(s["amountboth"].expected, 2), low=s_low, high=s_high,
            at_risk_amount=round(at_risk_k, 2)))
    segments.sort(key=lambda s: -s.at_risk_amount)
    sums = _cell_sums(scores, red.counts.astype(float), red.amount, red.amount_sq)
    return PipelineResult(
        **fields, notes=notes, backtest=bt, skill=skill, features=list(models.hist.features) if skill else [],
        anchors=fit.anchors, training_deals=int(fit.n),
        forecast=_forecast_of(models, sums, round(float(amount), 2), n, blank, snapshot.as_of),
        stalled_deals=red.stalled,
        stalled_probability=_round(red.stalled_p / red.stalled, 4) if red.stalled else None,
        ranked_by="expected_loss" if skill else "amount_and_age", at_risk=at_risk,
        listing=_RowsListing(snapshot, models, sel.open, skill), segments=segments)


def open_chances(snapshot: Snapshot, frame) -> np.ndarray | None:
    """`open_win_probabilities` of these open deals (rows in the loader's frame, fetched where they live), each
    found by its cell; None where `open_win_probabilities` is None."""
    if _too_little_history(snapshot) or not len(snapshot.open_deals):
        return None
    models = fit_models(snapshot)
    scores = score_cells(snapshot, models, segments=bool(models.backtest is not None and models.backtest.skill))
    if scores is None:
        return None
    if not len(frame):
        return np.zeros(0)
    return scores.cell_p[_chunk_cells(snapshot, models.hist, scores, frame)[3], 0]


def open_win_probabilities(snapshot: Snapshot) -> np.ndarray | None:
    """Each open deal's chance of being won by the end of this quarter, as /pipeline gives it (with the
    segments only where the backtest shows they help); None when there is too little history."""
    if _too_little_history(snapshot) or not len(snapshot.open_deals):
        return None
    models = fit_models(snapshot)
    scores = score_open(snapshot, models, segments=bool(models.backtest is not None and models.backtest.skill))
    return None if scores is None else scores.p[:, 0]
