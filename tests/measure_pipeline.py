"""Measure /pipeline: calibration on open deals with known futures, forecast coverage, and speed at 1M.

    python tests/measure_pipeline.py --seeds 20        # calibration and coverage over seeds
    python tests/measure_pipeline.py --bench 1000000   # fit and /pipeline latency at 1M deals

Not a test: it asserts nothing and is not collected by pytest (the tests in test_pipeline.py
assert the same things on fewer seeds).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def quality(seeds: int) -> None:
    from insights.pipeline import _interval, delong_auc, fit_model, score
    from tests.test_pipeline import known_future, true_probability

    rows, hits = [], []
    for seed in range(seeds):
        spec, past, won = known_future(seed)
        sc = score(fit_model(past), past)
        blind = score(fit_model(past, condition_on_age=False), past)
        truth = true_probability(spec, past)
        amounts = past.open_deals["deal_amount"].to_numpy(dtype=float)
        _, low, high = _interval(sc, np.ones(len(amounts), dtype=bool), amounts)
        hits.append(low <= amounts[won].sum() <= high)
        rows.append((len(won), won.mean(), sc.p.mean(), blind.p.mean(), truth.mean(), delong_auc(sc.p, won)[0],
                     delong_auc(truth, won)[0]))
    a = np.array(rows)
    print(f"{seeds} seeds, {int(a[:, 0].sum()):,} open deals with known outcomes")
    print(f"real win rate of open deals     {a[:, 1].mean():.3f}")
    print(f"mean probability, age-banded    {a[:, 2].mean():.3f}")
    print(f"mean probability, ignoring age  {a[:, 3].mean():.3f}")
    print(f"mean probability, true factors  {a[:, 4].mean():.3f}")
    print(f"AUC model / true factors        {a[:, 5].mean():.3f} / {a[:, 6].mean():.3f}")
    print(f"90% forecast interval coverage  {np.mean(hits):.2f} ({sum(hits)} of {seeds})")


def bench(n: int) -> None:
    from bot.core.commands import answer
    from bot.core.grammar import Vocabulary
    from insights.load import from_table
    from insights.synthetic import demo_spec, generate_deals

    snapshot = from_table(generate_deals(demo_spec(n_deals=n, seed=7)), source="bench")
    vocab = Vocabulary.from_snapshot(snapshot)
    print(f"{len(snapshot.deals):,} closed, {len(snapshot.open_deals):,} open")
    t = time.perf_counter()
    answer(snapshot, "/pipeline", vocab)
    print(f"first /pipeline (fit + backtest + answer): {time.perf_counter() - t:.2f} s")
    for line in ("/pipeline", "/pipeline APAC", "/pipeline by region"):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            reply = answer(snapshot, line, vocab)
            times.append(1000 * (time.perf_counter() - t))
        assert reply.kind == "answer"
        print(f"{line}: median {statistics.median(times):.0f} ms (max {max(times):.0f})")
    bt = reply.result.backtest
    print(f"backtest as of {bt.as_of}: AUC {bt.auc} ({bt.auc_ci_low}-{bt.auc_ci_high}), Brier {bt.brier} vs "
          f"{bt.base_rate_brier}, skill {bt.skill}; forecast {bt.forecast_won_amount:,.0f} "
          f"({bt.forecast_low:,.0f}-{bt.forecast_high:,.0f}), won {bt.actual_won_amount:,.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=0)
    parser.add_argument("--bench", type=int, default=0)
    args = parser.parse_args()
    if args.seeds:
        quality(args.seeds)
    if args.bench:
        bench(args.bench)
