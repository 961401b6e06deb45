"""Seeded generator of deal data with a known truth: planted drops, drivers, mix shifts, censoring.

The bundled demo data, the ground-truth tests and the benchmarks all come from here, so every
statistical claim the bot makes can be checked against data whose answer is known.
"""
from __future__ import annotations

import datetime as dt
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


def _choice(rng, weights: dict[str, float], size: int) -> np.ndarray:
    labels = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    return labels[rng.choice(len(labels), size=size, p=p / p.sum())]


def generate_deals(spec: DealSpec = DealSpec()) -> pd.DataFrame:
    """Deals in the canonical schema; open deals have a blank outcome and closed date."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n_deals
    span = (spec.as_of - spec.start).days + 1
    created = np.datetime64(spec.start, "D") + rng.integers(0, span, n).astype("timedelta64[D]")
    cycle = np.clip(np.round(rng.lognormal(np.log(spec.median_cycle_days), 0.6, n)), 3, 365).astype(int)
    closed = created + cycle.astype("timedelta64[D]")
    is_closed = closed <= np.datetime64(spec.as_of, "D")

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
    won = rng.random(n) < 1 / (1 + np.exp(-log_odds))

    stage = np.where(won, "Closed", _choice(rng, LOST_STAGES, n))
    stage = np.where(is_closed, stage, _choice(rng, OPEN_STAGES, n))
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
    frame = frame.sort_values(["created_date", "deal_id"]).reset_index(drop=True)
    frame["sales_cycle_days"] = frame["sales_cycle_days"].astype(object).where(frame["sales_cycle_days"] >= 0, "")
    return frame


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
        out[col] = out[col].dt.strftime("%Y-%m-%d").fillna("")
    out.to_csv(path, index=False)
