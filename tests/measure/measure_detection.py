"""Detection and false-alarm rates of plain `/why`, `/trend`, the alerts on generated data with a known truth.

    nice python tests/measure/measure_detection.py [--seeds 40] [--seed-offset 0] [--deals 20000] [--months 18] [--scenarios ...]

Each scenario is generated afresh per seed and asked with the defaults (no period typed); the
rates and their 95% Clopper-Pearson intervals go into the README. `--seed-offset N` asks seeds N to
N + seeds - 1 instead of 0 to seeds - 1: a fresh set, to check that a change made while looking at
the usual seeds holds on seeds it was not made on. Scenarios:

  drop4, drop6, drop8, drop12
                one region (North America, 30% of deals; --region for another) loses 4/6/8/12 pp
                (45% -> 41/39/37/33%) in the latest quarter, data ending on the quarter's last day.
                Reported: plain /why names it first; the oracle (one z-test of that region's own
                change); naive BH (every one-way segment's own change, Benjamini-Hochberg over all);
                a segment that did not change named as a finding; "broad"; a rise named (mirror);
                the region among segments that moved together and could not be told apart ("tangled")
  subtle-mid    an 8 pp drop with data ending mid-quarter (the drop is in the latest complete quarter)
  offsetting    APAC -10 pp and India +12 pp in the latest quarter: are both named?
  noise         no effect anywhere (200 seeds in the README): any alarm in plain /why (the total,
                a segment, a mix story or a tangle), and in /trend
  noise-censored  the same on an extract whose created dates stop four months before its closes
  season        three years of crm_spec data (Q4 +0.3, Q1 -0.3 log-odds every year; quarter-end
                push), asked at the end of 2024Q4: is the usual Q4 lift called significant by
                /why or /trend? And /trend monthly on December (the quarter-end month)
  season-drop   the same with India losing 12 pp in 2024Q4 on top of the season: found?
  season-lost   the same with every deal losing the Q4 lift (-0.3 log-odds in 2024Q4): flat against the
                four quarters before, a fall against the usual change; is it called a fall?
  flip          Referral won 10 pp more than Inbound for years and, in the latest quarter, 5 pp
                less: does /drivers say so, and does the driver-flip alert fire?
  flip-null     crm_spec with stable drivers: does the driver-flip alert fire?
  total-drop    every deal loses 5 pp in the latest quarter: does the drop alert fire (as broad)?
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
from scipy.stats import beta  # noqa: E402

from insights.alerts import AlertRule, evaluate  # noqa: E402
from insights.drivers import drivers  # noqa: E402
from insights.load import from_table  # noqa: E402
from insights.periods import add_months  # noqa: E402
from insights.query import Query  # noqa: E402
from insights.select import BASELINE, count_by, period_mask, resolve_periods  # noqa: E402
from insights.stats import benjamini_hochberg, two_proportion_test  # noqa: E402
from insights.synthetic import DealSpec, PlantedDrop, crm_spec, generate_deals, logit  # noqa: E402
from insights.trend import trend  # noqa: E402
from insights.why import UNTESTED_DIMENSIONS, WHY_DIMENSIONS, explain_change  # noqa: E402

END, MID = dt.date(2025, 6, 30), dt.date(2025, 5, 15)
DROPS = {"drop4": 0.41, "drop6": 0.39, "drop8": 0.37, "drop12": 0.33}


def _spec(seed, deals, months, as_of, **kw) -> DealSpec:
    start = add_months(as_of.replace(day=1), -(months - 1))  # 18 months to 2025-06-30 start 2024-01-01
    return DealSpec(n_deals=deals, seed=seed, start=start, as_of=as_of, **kw)


def _drop(segment, start, end, to, base=0.45):
    return PlantedDrop(segment, start, end, logit(to) - logit(base))


def _own_changes(snap, region):
    """(oracle, naive BH): the region's own change at 5%; BH over every one-way segment's own change."""
    period, compare = resolve_periods(snap, Query(), compare_default=BASELINE)
    now, before = period_mask(snap, period), period_mask(snap, compare)
    labels, counts = [], []
    for dim in WHY_DIMENSIONS:
        if dim in UNTESTED_DIMENSIONS or dim not in snap.dimensions:
            continue
        c1, c0 = count_by(snap, now, (dim,)), count_by(snap, before, (dim,))
        for i in np.flatnonzero((c1.n >= 30) & (c0.n >= 30)):
            labels.append(c1.labels(snap, i)[dim])
            counts.append((c1.won[i], c1.n[i], c0.won[i], c0.n[i]))
    p, _ = two_proportion_test(*np.array(counts, dtype=float).T)
    _, significant = benjamini_hochberg(p)
    k = labels.index(region)
    return bool(p[k] < 0.05), bool(significant[k])


def run(args) -> tuple:
    """(scenario, measures...) for one seed; see main() for what each position means."""
    scenario, seed, deals, months, region = args
    if scenario in DROPS:
        spec = _spec(seed, deals, months, END, drops=(_drop({"region": region}, dt.date(2025, 4, 1), END, DROPS[scenario]),))
        snap = from_table(generate_deals(spec), source=scenario)
        r = explain_change(snap, Query())
        oracle, naive = _own_changes(snap, region)
        tangled = region in [c.label for c in r.tangled]
        return (scenario, r.findings[:1] == [region], oracle, naive, any(f != region for f in r.findings),
                r.story == "diffuse", bool(r.rises), tangled)
    if scenario == "subtle-mid":
        spec = _spec(seed, deals, months, MID, drops=(_drop({"region": region}, dt.date(2025, 1, 1), MID, 0.37),))
        r = explain_change(from_table(generate_deals(spec), source=scenario), Query())
        return scenario, r.findings[:1] == [region], any(f != region for f in r.findings)
    if scenario == "offsetting":
        q2 = dt.date(2025, 4, 1)
        spec = _spec(seed, deals, months, END, drops=(_drop({"region": "APAC"}, q2, END, 0.35),
                                                       _drop({"region": "India"}, q2, END, 0.57)))
        r = explain_change(from_table(generate_deals(spec), source=scenario), Query())
        return scenario, "APAC" in r.falls and "India" in r.rises, any(f not in ("APAC", "India") for f in r.findings)
    if scenario.startswith("noise"):
        kw = {"created_until": dt.date(2025, 2, 28)} if scenario == "noise-censored" else {}
        snap = from_table(generate_deals(_spec(10_000 + seed, deals, months, END, **kw)), source=scenario)
        r = explain_change(snap, Query())
        t = trend(snap, Query())
        why_alarm = bool(r.findings) or bool(r.tangled) or r.story == "mix" or r.significant
        return scenario, why_alarm, t.verdict in ("drop", "rise"), bool(r.findings), r.significant
    if scenario.startswith("season"):
        q4 = dt.date(2024, 10, 1)
        drops = {"season-drop": (_drop({"region": "India"}, q4, dt.date(2024, 12, 31), 0.33),),
                 "season-lost": (PlantedDrop({}, q4, dt.date(2024, 12, 31), -0.3),)}.get(scenario, ())
        snap = from_table(generate_deals(crm_spec(n_deals=deals, seed=seed, as_of=dt.date(2024, 12, 31), drops=drops)),
                          source=scenario)
        r = explain_change(snap, Query())
        t = trend(snap, Query())
        monthly = trend(snap, Query(grain="month"))
        called = r.significant or t.verdict in ("drop", "rise")
        if scenario == "season-lost":
            called = (r.significant and r.moved_pp < 0) or t.verdict == "drop"
        return (scenario, called, bool(r.findings), monthly.verdict in ("drop", "rise"),
                r.findings[:1] == ["India"])
    if scenario.startswith("flip"):
        snap = from_table(generate_deals(flip_spec(seed, flipped=scenario == "flip")), source=scenario)
        fired = bool(evaluate(snap, [AlertRule(1, "driver_flip")]))
        d = drivers(snap, Query())
        said = any(f.feature == "lead_source" and f.level == "Referral" for f in d.flips)
        return scenario, fired, said
    if scenario == "total-drop":
        spec = _spec(seed, deals, months, END, drops=(_drop({}, dt.date(2025, 4, 1), END, 0.40),))
        snap = from_table(generate_deals(spec), source=scenario)
        found = evaluate(snap, [AlertRule(1, "drop")])
        return scenario, any(f.label == "all deals" and f.details.get("story") == "diffuse" for f in found), bool(found)
    raise ValueError(scenario)


def flip_spec(seed: int, flipped: bool) -> DealSpec:
    """Referral +10 pp over Inbound (45%) for years; with `flipped`, 5 pp under it in 2025Q2."""
    up = logit(0.55) - logit(0.45)
    drops = (PlantedDrop({"lead_source": "Referral"}, dt.date(2025, 4, 1), END, logit(0.40) - logit(0.55)),) if flipped else ()
    return DealSpec(n_deals=20_000, seed=30_000 + seed, start=dt.date(2023, 7, 1), as_of=END,
                    effects={"lead_source": {"Referral": up}}, drops=drops)


def interval(k: int, n: int) -> str:
    low = beta.ppf(0.025, k, n - k + 1) if k else 0.0
    high = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return f"{k}/{n} ({100 * k / n:.0f}%, 95% CI {100 * low:.0f}–{100 * high:.0f}%)"


LINES = {  # what each measure of a scenario says, in order
    "drop": ("named first by /why", "oracle (one z-test)", "naive BH", "an unchanged segment named",
             "called broad", "a rise named", "named among a tangle (no finding)"),
    "subtle-mid": ("found", "an extra (false) finding"),
    "offsetting": ("both named", "an extra (false) finding"),
    "noise": ("any alarm in /why", "/trend verdict", "a segment finding", "the total significant"),
    "season": ("/why or /trend call it significant", "a /why finding", "/trend monthly calls the last month",
               "India named first"),
    "season-lost": ("/why or /trend call a fall beyond the usual", "a /why finding", "/trend monthly calls the last month",
                    "India named first"),
    "flip": ("driver-flip alert fired", "/drivers says Referral flipped"),
    "total-drop": ("drop alert on all deals (broad)", "any drop alert"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--seed-offset", type=int, default=0, help="first seed (a fresh set: e.g. 1000)")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--region", default="North America", help="the region that drops (drop4..drop12)")
    parser.add_argument("--scenarios", default="drop4,drop6,drop8,drop12,noise")
    parser.add_argument("--processes", type=int, default=2)
    a = parser.parse_args()
    scenarios = a.scenarios.split(",")
    seeds = range(a.seed_offset, a.seed_offset + a.seeds)
    jobs = [(s, seed, a.deals, a.months, a.region) for s in scenarios for seed in seeds]
    started = time.perf_counter()
    with Pool(a.processes) as pool:
        results = pool.map(run, jobs, chunksize=2)
    print(f"{a.deals:,} deals over {a.months} months, seeds {seeds.start}-{seeds.stop - 1} per scenario, drops in {a.region} "
          f"({time.perf_counter() - started:.0f} s)")
    for scenario in scenarios:
        mine = [r for r in results if r[0] == scenario]
        names = LINES.get(scenario) or LINES[next(k for k in LINES if scenario.startswith(k[:4]))]
        parts = [f"{name}: {interval(sum(r[i + 1] for r in mine), len(mine))}" for i, name in enumerate(names)]
        print(f"  {scenario:15s} " + "; ".join(parts))


if __name__ == "__main__":
    main()
