"""Detection and false-alarm rates of plain `/why` and `/trend` on generated data with a known truth.

    python tests/measure_detection.py [--seeds 40] [--deals 20000] [--months 18]

Each scenario is generated afresh per seed and asked with the defaults (no period typed); the
rates and their 95% Clopper-Pearson intervals go into the README. Scenarios:

  subtle        one region of four (North America, 30% of deals; --region APAC for 25%) loses
                8 pp (45% -> 37%) in the latest quarter, data ending on the quarter's last day:
                is it the first finding?
  subtle-mid    the same, data ending mid-quarter (the drop is in the latest complete quarter)
  offsetting    APAC -10 pp and India +12 pp in the latest quarter: are both named?
  noise         no effect anywhere: does /why call anything (a finding, a mix story, or the total)?
  noise-censored  the same on an extract whose created dates stop four months before its closes
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from scipy.stats import beta  # noqa: E402

from insights.load import from_table  # noqa: E402
from insights.periods import add_months  # noqa: E402
from insights.query import Query  # noqa: E402
from insights.synthetic import DealSpec, PlantedDrop, generate_deals, logit  # noqa: E402
from insights.trend import trend  # noqa: E402
from insights.why import explain_change  # noqa: E402

END, MID = dt.date(2025, 6, 30), dt.date(2025, 5, 15)


def _spec(seed, deals, months, as_of, **kw) -> DealSpec:
    start = add_months(as_of.replace(day=1), -(months - 1))  # 18 months to 2025-06-30 start 2024-01-01
    return DealSpec(n_deals=deals, seed=seed, start=start, as_of=as_of, **kw)


def _drop(segment, start, end, to):
    return PlantedDrop(segment, start, end, logit(to) - logit(0.45))


def run(args) -> tuple[str, bool, bool]:
    """(scenario, hit, false alarm) for one seed."""
    scenario, seed, deals, months, region = args
    if scenario == "subtle":
        spec = _spec(seed, deals, months, END, drops=(_drop({"region": region}, dt.date(2025, 4, 1), END, 0.37),))
    elif scenario == "subtle-mid":
        spec = _spec(seed, deals, months, MID, drops=(_drop({"region": region}, dt.date(2025, 1, 1), MID, 0.37),))
    elif scenario == "offsetting":
        q2 = dt.date(2025, 4, 1)
        spec = _spec(seed, deals, months, END, drops=(_drop({"region": "APAC"}, q2, END, 0.35),
                                                       _drop({"region": "India"}, q2, END, 0.57)))
    elif scenario == "noise":
        spec = _spec(10_000 + seed, deals, months, END)
    else:
        spec = _spec(20_000 + seed, deals, months, END, created_until=dt.date(2025, 2, 28))
    snap = from_table(generate_deals(spec), source=scenario)
    r = explain_change(snap, Query())
    if scenario.startswith("subtle"):
        return scenario, r.findings[:1] == [region], any(f != region for f in r.findings)
    if scenario == "offsetting":
        return scenario, "APAC" in r.falls and "India" in r.rises, any(f not in ("APAC", "India") for f in r.findings)
    t = trend(snap, Query())
    # "hit" here: a segment finding or a mix story; "alarm": anything at all, the total included
    alarm = bool(r.findings) or r.story == "mix" or r.significant or t.verdict in ("drop", "rise")
    return scenario, bool(r.findings) or r.story == "mix", alarm


def interval(k: int, n: int) -> str:
    low = beta.ppf(0.025, k, n - k + 1) if k else 0.0
    high = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return f"{k}/{n} ({100 * k / n:.0f}%, 95% CI {100 * low:.0f}–{100 * high:.0f}%)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--region", default="North America", help="the region that loses 8 pp (subtle)")
    parser.add_argument("--scenarios", default="subtle,subtle-mid,offsetting,noise,noise-censored")
    a = parser.parse_args()
    jobs = [(s, seed, a.deals, a.months, a.region) for s in a.scenarios.split(",") for seed in range(a.seeds)]
    started = time.perf_counter()
    with Pool(2) as pool:
        results = pool.map(run, jobs, chunksize=4)
    print(f"{a.deals:,} deals over {a.months} months, {a.seeds} seeds per scenario, subtle drop in {a.region} "
          f"({time.perf_counter() - started:.0f} s)")
    for scenario in a.scenarios.split(","):
        mine = [r for r in results if r[0] == scenario]
        hits, alarms = sum(r[1] for r in mine), sum(r[2] for r in mine)
        if scenario.startswith("noise"):
            print(f"  {scenario:15s} a segment finding or mix story: {interval(hits, len(mine))}; "
                  f"anything called significant, the total included: {interval(alarms, len(mine))}")
        else:
            print(f"  {scenario:15s} found: {interval(hits, len(mine))}; "
                  f"an extra (false) finding: {interval(alarms, len(mine))}")


if __name__ == "__main__":
    main()
