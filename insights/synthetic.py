"""Seeded generator of deal data with a known truth: planted drops, drivers, mix shifts, censoring.

The bundled demo data, the ground-truth tests and the benchmarks all come from here, so every
statistical claim the bot makes can be checked against data whose answer is known. Real CRM exports
are messier than flat, complete data, so the generator also makes what they have, each shape off by
default (`DealSpec`'s second block of fields, `crm_spec` for all of them at once): yearly seasons and
quarter-end pushes, open deals that go stale and never close, blank amounts and created dates on open
deals, lost deals zeroed to $0, amounts as currency text, absent columns, messy labels, and extracts
cut at either end. `extract_at` replays an extract as of an earlier day, so a test knows each open
deal's future.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REGIONS = {"North America": 0.30, "Europe": 0.30, "APAC": 0.25, "India": 0.15}
INDUSTRIES = {"SaaS": 0.25, "FinTech": 0.2, "HealthTech": 0.2, "EdTech": 0.15, "Ecommerce": 0.2}
PRODUCTS = {"Core": 0.4, "Pro": 0.35, "Enterprise": 0.25}
LEAD_SOURCES = {"Inbound": 0.35, "Outbound": 0.3, "Referral": 0.15, "Partner": 0.2}
LOST_STAGES = {"Qualified": 0.3, "Demo": 0.3, "Proposal": 0.25, "Negotiation": 0.15}
OPEN_STAGES = {"Qualified": 0.35, "Demo": 0.3, "Proposal": 0.2, "Negotiation": 0.15}
MEDIAN_AMOUNT = {"Core": 8_000, "Pro": 22_000, "Enterprise": 60_000}

# Log-odds shifts of the demo's stable drivers: referrals and partners win more, outbound less.
DEMO_EFFECTS = {"lead_source": {"Referral": 0.35, "Partner": 0.15, "Outbound": -0.3}}
DEMO_CYCLE_EFFECT = {60: -0.25, 90: -0.55}  # deals with cycles of at least N days win less


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


@dataclass(frozen=True)
class PlantedDrop:
    """Deals in `segment` that close within [start, end] win with odds shifted by `logit_shift`."""

    segment: dict[str, str]
    start: dt.date
    end: dt.date
    logit_shift: float


@dataclass(frozen=True)
class MixShift:
    """From `start` (by closed date) the shares of `dimension`'s values become `weights`."""

    dimension: str
    weights: dict[str, float]
    start: dt.date


@dataclass(frozen=True)
class DealSpec:
    n_deals: int = 7_000  # created deals, closed and open
    seed: int = 7
    start: dt.date = dt.date(2023, 1, 1)
    as_of: dt.date = dt.date(2024, 7, 15)
    base_rate: float = 0.45
    effects: dict = field(default_factory=dict)  # dim -> value -> log-odds shift
    cycle_effect: dict = field(default_factory=dict)  # min cycle days -> log-odds shift
    drops: tuple[PlantedDrop, ...] = ()
    mix_shifts: tuple[MixShift, ...] = ()
    rep_count: int = 25
    created_until: dt.date | None = None  # simulate an extract cut-off on created dates
    median_cycle_days: float = 45.0
    # -- shapes of real CRM exports; each off by default ------------------------------------------------
    season: dict = field(default_factory=dict)  # calendar quarter (1-4) of the closed date -> log-odds shift
    quarter_months: tuple[float, float, float] = (0.0, 0.0, 0.0)  # log-odds shift by month of the quarter
    quarter_end_pull: float = 0.0  # share of deals closing early in a quarter whose close slips to its last month
    stale_share: float = 0.0  # share of deals that go stale: they never close (never won), sit open at any age
    open_stage_by_progress: bool = False  # open deals' stage follows how far into their cycle they are
    open_blank_amount_share: float = 0.0  # share of open deals whose amount is blank
    open_missing_created_share: float = 0.0  # share of open deals at the first stage without a created date
    lost_amount_zero: bool = False  # the CRM zeroes the amount of a lost deal
    amount_as_text: bool = False  # amounts as currency text: "$12,345"
    absent_columns: tuple[str, ...] = ()  # columns the export lacks
    messy_label_share: float = 0.0  # share of segment labels written another way (case, spacing, near-duplicate)
    created_from: dt.date | None = None  # a left-truncated extract: deals created before this are not in it


def _choice(rng, weights: dict[str, float], size: int) -> np.ndarray:
    labels = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    return labels[rng.choice(len(labels), size=size, p=p / p.sum())]


def generate_deals(spec: DealSpec = DealSpec()) -> pd.DataFrame:
    """Deals in the canonical schema; open deals have a blank outcome and closed date."""
    return _export_shapes(_deals(spec), spec)


def _deals(spec: DealSpec) -> pd.DataFrame:
    """Every deal's truth as of `spec.as_of`, before an export's blanks, zeroes and lost columns."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n_deals
    span = (spec.as_of - spec.start).days + 1
    created = np.datetime64(spec.start, "D") + rng.integers(0, span, n).astype("timedelta64[D]")
    cycle = np.clip(np.round(rng.lognormal(np.log(spec.median_cycle_days), 0.6, n)), 3, 365).astype(int)
    closed = created + cycle.astype("timedelta64[D]")
    # each realistic shape draws from its own stream, so turning one on leaves every other draw as it was
    if spec.quarter_end_pull:
        closed = _pull_to_quarter_end(closed, spec.quarter_end_pull, np.random.default_rng([spec.seed, 1]))
        cycle = (closed - created).astype(int)
    stale = np.random.default_rng([spec.seed, 2]).random(n) < spec.stale_share
    is_closed = (closed <= np.datetime64(spec.as_of, "D")) & ~stale

    columns = {
        "region": REGIONS,
        "industry": INDUSTRIES,
        "product_type": PRODUCTS,
        "lead_source": LEAD_SOURCES,
    }
    values = {dim: _choice(rng, weights, n) for dim, weights in columns.items()}
    for shift in spec.mix_shifts:
        after = closed >= np.datetime64(shift.start, "D")
        values[shift.dimension][after] = _choice(rng, shift.weights, int(after.sum()))
    values["sales_rep_id"] = np.array([f"rep_{i}" for i in range(1, spec.rep_count + 1)], dtype=object)[
        rng.integers(0, spec.rep_count, n)
    ]

    log_odds = np.full(n, logit(spec.base_rate))
    for dim, shifts in spec.effects.items():
        for value, delta in shifts.items():
            log_odds[values[dim] == value] += delta
    for min_days, delta in sorted(spec.cycle_effect.items()):
        log_odds[cycle >= min_days] += delta  # cumulative: 90d+ gets both shifts when both are set
    for drop in spec.drops:
        hit = (closed >= np.datetime64(drop.start, "D")) & (closed <= np.datetime64(drop.end, "D"))
        for dim, value in drop.segment.items():
            hit &= values[dim] == value
        log_odds[hit] += drop.logit_shift
    log_odds += _calendar_shift(closed, spec.season, spec.quarter_months)
    won = (rng.random(n) < 1 / (1 + np.exp(-log_odds))) & ~stale

    stage = np.where(won, "Closed", _choice(rng, LOST_STAGES, n))
    open_stage = _choice(rng, OPEN_STAGES, n)
    if spec.open_stage_by_progress:
        open_stage = _stage_by_progress(created, cycle, stale, spec.as_of)
    stage = np.where(is_closed, stage, open_stage)
    median = np.vectorize(MEDIAN_AMOUNT.get)(values["product_type"]).astype(float)
    amount = np.round(median * rng.lognormal(0.0, 0.6, n))

    frame = pd.DataFrame(
        {
            "deal_id": [f"D{i:07d}" for i in range(1, n + 1)],
            "created_date": pd.to_datetime(created),
            "closed_date": pd.to_datetime(np.where(is_closed, closed, np.datetime64("NaT"))),
            "sales_rep_id": values["sales_rep_id"],
            "industry": values["industry"],
            "region": values["region"],
            "product_type": values["product_type"],
            "lead_source": values["lead_source"],
            "deal_stage": stage,
            "deal_amount": amount.astype(int),
            "sales_cycle_days": np.where(is_closed, cycle, -1),
            "outcome": np.where(is_closed, np.where(won, "Won", "Lost"), ""),
        }
    )
    if spec.created_until is not None:
        frame = frame[frame["created_date"] <= pd.Timestamp(spec.created_until)]
    if spec.created_from is not None:
        frame = frame[frame["created_date"] >= pd.Timestamp(spec.created_from)]
    frame = frame.sort_values(["created_date", "deal_id"]).reset_index(drop=True)
    frame["sales_cycle_days"] = frame["sales_cycle_days"].astype(object).where(frame["sales_cycle_days"] >= 0, "")
    return frame


def _calendar_shift(closed: np.ndarray, season: dict, quarter_months: tuple[float, float, float]) -> np.ndarray:
    """Log-odds shifts by the closed date's calendar quarter (a yearly season) and by its month within
    the quarter (a quarter-end push)."""
    month0 = closed.astype("datetime64[M]").astype(int) % 12  # 0 = January
    shift = np.zeros(len(closed))
    for quarter, delta in season.items():
        shift[month0 // 3 == int(quarter) - 1] += delta
    shift += np.asarray(quarter_months, dtype=float)[month0 % 3]
    return shift


def _pull_to_quarter_end(closed: np.ndarray, share: float, rng) -> np.ndarray:
    """A share of the deals closing in a quarter's first two months slip to a day of its last month."""
    month = closed.astype("datetime64[M]")
    in_last = month.astype(int) % 3 == 2
    pulled = ~in_last & (rng.random(len(closed)) < share)
    last_month = month + (2 - month.astype(int) % 3)
    days_in = ((last_month + 1).astype("datetime64[D]") - last_month.astype("datetime64[D]")).astype(int)
    day = np.floor(rng.random(len(closed)) * days_in).astype(int)
    return np.where(pulled, last_month.astype("datetime64[D]") + day.astype("timedelta64[D]"), closed)


STAGE_STEPS = tuple(OPEN_STAGES)


def _stage_by_progress(created: np.ndarray, cycle: np.ndarray, stale: np.ndarray, as_of: dt.date) -> np.ndarray:
    """An open deal's stage from how far into its cycle it is on `as_of`; a stale deal stays where it
    stalled, in the first two stages."""
    age = (np.datetime64(as_of, "D") - created).astype(int)
    progress = np.clip(age / np.maximum(cycle, 1), 0, 0.999)
    step = np.where(stale, cycle % 2, (progress * len(STAGE_STEPS)).astype(int))  # stalled: either early stage
    return np.array(STAGE_STEPS, dtype=object)[step]


def _near_duplicate(label: str) -> str:
    """"North America" as "NorthAmerica", "FinTech" as "Fin Tech", "APAC" as "Apac"."""
    if " " in label:
        return label.replace(" ", "")
    split = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label)
    return split if split != label else label.title()


_MESSY = (str.lower, str.upper, lambda s: s + " ", _near_duplicate)


def _export_shapes(frame: pd.DataFrame, spec: DealSpec) -> pd.DataFrame:
    """What a CRM's export does to the deals: blank fields, zeroed losses, text amounts, lost columns."""
    shape_rng = {k: np.random.default_rng([spec.seed, 100 + k]) for k in range(8)}
    is_open = (frame["outcome"] == "").to_numpy()
    n = len(frame)
    if spec.open_missing_created_share:
        first = is_open & (frame["deal_stage"] == STAGE_STEPS[0]).to_numpy()
        frame["created_date"] = frame["created_date"].mask(first & (shape_rng[2].random(n) < spec.open_missing_created_share))
    amount = frame["deal_amount"].astype("float64")
    if spec.lost_amount_zero:
        amount = amount.mask((frame["outcome"] == "Lost").to_numpy(), 0.0)
    if spec.open_blank_amount_share:
        amount = amount.mask(is_open & (shape_rng[3].random(n) < spec.open_blank_amount_share))
    if spec.amount_as_text:
        frame["deal_amount"] = [f"${a:,.0f}" if a == a else "" for a in amount]
    elif amount.isna().any():
        frame["deal_amount"] = amount.map(lambda a: "" if a != a else str(int(a)))
    else:
        frame["deal_amount"] = amount.astype(int)
    if spec.messy_label_share:
        for k, dim in enumerate(d for d in ("region", "industry", "product_type", "lead_source") if d in frame):
            rng = shape_rng[4 + k % 4]
            hit = rng.random(n) < spec.messy_label_share
            how = rng.integers(0, len(_MESSY), n)
            values = frame[dim].to_numpy(dtype=object).copy()
            values[hit] = [_MESSY[h](v) for h, v in zip(how[hit], values[hit])]
            frame[dim] = values
    return frame.drop(columns=[c for c in spec.absent_columns if c in frame])


def extract_at(spec: DealSpec, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the export as it stood on an earlier day `as_of`, every deal's truth on `spec.as_of`). In the
    export, deals created later are absent and deals that closed later are open, at the stage their
    progress gives; the export's shapes (blanks, zeroes, lost columns) are applied after. Each open
    deal's future is the truth's row of the same deal_id: won or lost by then, or still open."""
    truth = _deals(spec)
    return _export_shapes(_as_it_stood(truth, as_of), spec), truth


def _as_it_stood(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    day = pd.Timestamp(as_of)
    out = frame[frame["created_date"] <= day].copy()
    later = (out["closed_date"] > day).to_numpy()
    created = out["created_date"].to_numpy(dtype="datetime64[D]")
    cycle = (out["closed_date"].to_numpy(dtype="datetime64[D]") - created).astype(int)
    reached = _stage_by_progress(created[later], cycle[later], np.zeros(int(later.sum()), dtype=bool), as_of)
    out.loc[later, "deal_stage"] = reached
    out.loc[later, "outcome"] = ""
    out.loc[later, "closed_date"] = pd.NaT
    if "sales_cycle_days" in out:
        out.loc[later, "sales_cycle_days"] = ""
    return out.reset_index(drop=True)


def crm_spec(n_deals: int = 20_000, seed: int = 7, as_of: dt.date = dt.date(2025, 6, 30), **changes) -> DealSpec:
    """Deals shaped like a real CRM's opportunity report: Q4 wins more and Q1 less, the last month of
    every quarter far more than the first, one deal in twenty goes stale and never closes, most open deals
    lack an amount, some early ones a created date, and lost deals are zeroed to $0. Three years of
    history, ending on a quarter's last day; `changes` override any field."""
    spec = dict(
        n_deals=n_deals, seed=seed, start=dt.date(as_of.year - 3, as_of.month, 1) + dt.timedelta(days=31),
        as_of=as_of, effects=DEMO_EFFECTS, season={4: 0.3, 1: -0.3}, quarter_months=(-0.35, 0.0, 0.6),
        quarter_end_pull=0.3, stale_share=0.05, open_stage_by_progress=True, open_blank_amount_share=0.6,
        open_missing_created_share=0.2, lost_amount_zero=True,
    )
    spec["start"] = spec["start"].replace(day=1)
    spec.update(changes)
    return DealSpec(**spec)


def demo_spec(n_deals: int = 7_000, seed: int = 7) -> DealSpec:
    """The bundled demo's story: stable drivers, and APAC's win rate falls in 2024Q2."""
    return DealSpec(
        n_deals=n_deals,
        seed=seed,
        effects=DEMO_EFFECTS,
        cycle_effect=DEMO_CYCLE_EFFECT,
        drops=(PlantedDrop({"region": "APAC"}, dt.date(2024, 4, 1), dt.date(2024, 7, 15), logit(0.25) - logit(0.45)),),
    )


def write_csv(frame: pd.DataFrame, path) -> None:
    out = frame.copy()
    for col in ("created_date", "closed_date"):
        if col not in out:  # an export that lacks the column (absent_columns)
            continue
        out[col] = out[col].dt.strftime("%Y-%m-%d").fillna("")
    out.to_csv(path, index=False)
