"""Measure /pipeline: replayed on CRM-shaped data with each open deal's future known, and speed at 1M.

    python tests/measure/measure_pipeline.py --seeds 40        # calibration, stale deals, AUC, interval coverage
    python tests/measure/measure_pipeline.py --bench 1000000   # the fit within a refresh, and /pipeline after it

Not a test: it asserts nothing and is not collected by pytest (test_pipeline.py asserts the same
things, with looser bounds, on fewer seeds).
"""
from __future__ import annotations

import argparse
import os
import tracemalloc
import statistics
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def quality(seeds: int) -> None:
    from insights.pipeline import delong_auc, fit_models, open_ages, open_pipeline, score_open
    from insights.query import Query
    from tests.unit.test_pipeline import hindsight_probability, replay

    rows, held, stale, past = [], [], [], [0, 0]
    for seed in range(seeds):
        snapshot, won = replay(seed)
        r = open_pipeline(snapshot, Query())
        models = fit_models(snapshot)
        shown = score_open(snapshot, models, segments=r.skill).p[:, 0]
        full = score_open(snapshot, models, segments=True).p[:, 0]
        q = r.forecast.by_quarter[0]
        actual = int(won.sum())
        held.append(q.deals_low <= actual <= q.deals_high)
        past[0] += r.backtest.covered
        past[1] += r.backtest.quarters
        stalled = open_ages(snapshot) > np.quantile(snapshot.cycle_days[snapshot.won], 0.95)
        stale.append((shown[stalled].mean(), won[stalled].mean(), int(stalled.sum())))
        rows.append((len(won), won.mean(), shown.mean(), q.expected_won_deals, actual,
                     delong_auc(full, won)[0], delong_auc(hindsight_probability(snapshot, won), won)[0], r.skill,
                     r.forecast.interval_scale))
        print(f"seed {seed}: {q.expected_won_deals:.0f} expected ({q.deals_low:.0f}-{q.deals_high:.0f}), {actual} won; "
              f"backtest {r.backtest.covered}/{r.backtest.quarters}, scale {r.forecast.interval_scale}, "
              f"skill {r.skill}", flush=True)
    a, s = np.array(rows, dtype=float), np.array(stale)
    print(f"\n{seeds} seeds of crm_spec (20,000 deals) replayed as of 2025-03-31, {int(a[:, 0].sum()):,} open deals")
    print(f"won by the quarter's end, real / mean predicted   {a[:, 1].mean():.3f} / {a[:, 2].mean():.3f}")
    off = np.abs(a[:, 3] - a[:, 4]) / a[:, 4]
    print(f"won deals, |forecast - actual| / actual             mean {off.mean():.3f}, max {off.max():.3f} "
          f"({int((off <= 0.1).sum())} of {seeds} within 10%)")
    print(f"stalled deals ({int(s[:, 2].sum()):,}): mean predicted / won       "
          f"{s[:, 0].mean():.4f} / {s[:, 1].mean():.4f}")
    print(f"AUC model / hindsight model of the true factors     {a[:, 5].mean():.3f} / {a[:, 6].mean():.3f}")
    print(f"today's 90% interval held the truth                 {np.mean(held):.2f} ({sum(held)} of {seeds})")
    print(f"backtests' 90% intervals held                       {past[0] / past[1]:.2f} ({past[0]} of {past[1]})")
    print(f"segments beat age and season (skill)                {int(a[:, 7].sum())} of {seeds}; widened in "
          f"{int((a[:, 8] > 1).sum())}")


def bench(n: int) -> None:
    from bot.core.commands import answer
    from bot.core.grammar import Vocabulary
    from insights.load import from_table
    from insights.pipeline import fit_models
    from insights.synthetic import crm_spec, generate_deals

    snapshot = from_table(generate_deals(crm_spec(n_deals=n, seed=7, open_blank_amount_share=0.0,
                                                  open_missing_created_share=0.0)), source="bench")
    vocab = Vocabulary.from_snapshot(snapshot)
    print(f"{len(snapshot.deals):,} closed, {len(snapshot.open_deals):,} open "
          f"({len(snapshot.open_deals) / (len(snapshot.deals) + len(snapshot.open_deals)):.0%})")
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: the fit's own peak, above the loaded data
    t = time.perf_counter()
    models = fit_models(snapshot)  # what the refresh's warm-up fits
    fit = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"fit (history of {len(models.hist.anchor_days)} anchors, {int(models.hist.n.sum()):,} deal-snapshots in "
          f"{len(models.hist.n):,} cells, {models.backtest.quarters} backtests): {fit:.2f} s, "
          f"peak memory +{peak / 2 ** 20:.0f} MB")
    for line in ("/pipeline", "/pipeline APAC", "/pipeline by region", "/deals open"):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            reply = answer(snapshot, line, vocab)
            times.append(1000 * (time.perf_counter() - t))
        assert reply.kind == "answer"
        print(f"{line}: median {statistics.median(times):.0f} ms (max {max(times):.0f})")
    bt = answer(snapshot, "/pipeline", vocab).result.backtest
    print(f"backtest: interval held in {bt.covered} of {bt.quarters}; AUC {bt.auc} ({bt.auc_ci_low}-{bt.auc_ci_high}), "
          f"Brier {bt.brier} vs {bt.base_rate_brier}, skill {bt.skill}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=0)
    parser.add_argument("--bench", type=int, default=0)
    args = parser.parse_args()
    if args.seeds:
        quality(args.seeds)
    if args.bench:
        bench(args.bench)
