"""What keeps plain `/why` from naming a planted single-region drop first, seed by seed.

    nice python tests/measure/why_blocks.py [--seeds 40] [--seed-offset 0] [--scenarios drop4,drop6,drop8,drop12,noise]

The drop scenarios are measure_detection.py's (North America, 30% of deals, loses 4/6/8/12 pp in the
latest quarter; `noise`: nothing planted). Each seed's search is watched as it runs (its first round
of tests and every "which candidate explains the others" decision), and the seed is put in one box:

  named first       North America is the first finding
  tangled           the first round called it, but beside overlapping segments none of which stands
                    once another is set aside: no cause named
  a cell of it      the first round called it, and one of its two-way cells replaced it
  not concentrated  the first round called it, but the rest of the deals moved too and it did not
                    move significantly more (broad)
  another first     the first round called it, and another segment was named first
  not called        its own change did not pass the first round's correction

Beside each box: in how many seeds naive BH (every one-way segment's own change, Benjamini-Hochberg
over all, the pooled two-proportion z-test) calls the region, and in how many it does and the first
round does not. Then every first-round tangle (two or more called candidates) is decided again by
rules that name a cause more readily, offline on the recorded joint fits, and counted against the
rule in insights/why.py: North America named where it was not (gained) or no longer (lost), a
segment that did not change named where none was (wrong added) or no longer (wrong removed); under
noise nothing changed, so every segment named is wrong.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "measure")]

import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

import measure_detection as md  # noqa: E402
from insights import why  # noqa: E402
from insights.load import from_table  # noqa: E402
from insights.query import Query  # noqa: E402
from insights.stats import ALPHA  # noqa: E402
from insights.synthetic import generate_deals  # noqa: E402

REGION = "North America"
BOXES = ("named first", "tangled", "a cell of it", "not concentrated", "another first", "not called")


class _Watch:
    """The search of one explain_change call: its first round and its tangle decisions."""

    def __init__(self):
        self.search = None
        self.decisions: list[dict] = []

    def __enter__(self):
        run, explains = why._Search.run, why._Search._explains_most
        watch = self

        def watched_run(search):
            watch.search = search
            return run(search)

        def watched_explains(search, candidates, universe):
            if len(candidates) > 1 and not search.findings:
                watch.decisions.append(dict(
                    labels=[why.segment_label(c.segment) for c in candidates],
                    p=[c.p_value for c in candidates], adjusted=[c.adjusted for c in candidates],
                    z=[[search._partial_z(c, o, universe) if o is not c else np.nan for o in candidates]
                       for c in candidates]))
            return explains(search, candidates, universe)
        self._saved = run, explains
        why._Search.run, why._Search._explains_most = watched_run, watched_explains
        return self

    def __exit__(self, *exc):
        why._Search.run, why._Search._explains_most = self._saved


def one(job) -> dict:
    scenario, seed = job
    if scenario == "noise":
        spec = md._spec(10_000 + seed, 20_000, 18, md.END)
    else:
        spec = md._spec(seed, 20_000, 18, md.END, drops=(
            md._drop({"region": REGION}, dt.date(2025, 4, 1), md.END, md.DROPS[scenario]),))
    snap = from_table(generate_deals(spec), source=scenario)
    with _Watch() as watch:
        r = why.explain_change(snap, Query())
    out = dict(scenario=scenario, seed=seed, decisions=watch.decisions, findings=r.findings)
    if scenario == "noise":
        return out
    first = watch.search.first_round.get((("region", REGION),))
    called = first is not None and first.significant
    if r.findings[:1] == [REGION]:
        box = "named first"
    elif not called:
        box = "not called"
    elif REGION in [c.label for c in r.tangled]:
        box = "tangled"
    elif r.findings and r.findings[0].startswith(REGION + " · "):
        box = "a cell of it"
    elif not first.concentrated:
        box = "not concentrated"
    else:
        box = "another first"
    _, naive = md._own_changes(snap, REGION)
    return {**out, "box": box, "called": called, "naive": naive, "p": first.p_value if first else None}


def _weakest(d) -> np.ndarray:
    z = np.array(d["z"], dtype=float)
    return np.nanmin(z, axis=1)


def rule_now(d):
    """The rule in insights/why.py: a candidate stands when its weakest joint-fit part passes at the
    level that called it; the strongest standing one is named, none standing is a tangle."""
    w = _weakest(d)
    stand = [i for i in range(len(w)) if 2 * norm.sf(max(w[i], 0)) * d["adjusted"][i] / max(d["p"][i], 1e-300) <= ALPHA]
    return max(stand, key=lambda i: w[i]) if stand else None


def rule_shortlist_bonferroni(d):
    """The joint-fit tests as a new family of the k candidates: each at ALPHA / k."""
    w = _weakest(d)
    stand = [i for i in range(len(w)) if 2 * norm.sf(max(w[i], 0)) <= ALPHA / len(w)]
    return max(stand, key=lambda i: w[i]) if stand else None


def rule_largest_part(d):
    """The candidate that keeps the most of its change against its strongest rival, always."""
    return int(np.argmax(_weakest(d)))


def rule_smallest_p(d):
    """The candidate with the strongest own evidence, always."""
    return int(np.argmin(d["p"]))


def rule_posterior(d):
    """Equal priors on "only this one moved": name one whose weight exp(z^2 / 2) (z its weakest
    joint-fit part) is at least 95% of the candidates' total."""
    w = np.exp(np.maximum(_weakest(d), 0) ** 2 / 2)
    i = int(np.argmax(w))
    return i if w[i] / w.sum() >= 0.95 else None


def rule_rivals_explained(d):
    """A rival drops out of a candidate's comparisons when the rival keeps no significant part of
    its own change against the candidate even at an uncorrected 5%; the rest as the rule now."""
    z, k = np.array(d["z"], dtype=float), len(d["labels"])
    bar = [norm.isf(ALPHA * d["p"][i] / d["adjusted"][i] / 2) for i in range(k)]
    stand = [i for i in range(k) if all(z[i, j] >= bar[i] or z[j, i] < norm.isf(ALPHA / 2) for j in range(k) if j != i)]
    w = _weakest(d)
    return max(stand, key=lambda i: w[i]) if stand else None


RULES = {"shortlist Bonferroni": rule_shortlist_bonferroni, "largest part": rule_largest_part,
         "smallest p": rule_smallest_p, "posterior 95%": rule_posterior,
         "rivals explained drop out": rule_rivals_explained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--seed-offset", type=int, default=0)
    parser.add_argument("--scenarios", default="drop4,drop6,drop8,drop12,noise")
    parser.add_argument("--processes", type=int, default=2)
    a = parser.parse_args()
    scenarios = a.scenarios.split(",")
    seeds = range(a.seed_offset, a.seed_offset + a.seeds)
    with Pool(a.processes) as pool:
        results = pool.map(one, [(s, seed) for s in scenarios for seed in seeds], chunksize=2)
    print(f"seeds {seeds.start}-{seeds.stop - 1}")
    for scenario in scenarios:
        mine = [r for r in results if r["scenario"] == scenario]
        if scenario != "noise":
            boxes = Counter(r["box"] for r in mine)
            print(f"  {scenario:7s} " + ", ".join(f"{b} {boxes[b]}" for b in BOXES if boxes[b])
                  + f"; first round calls it {sum(r['called'] for r in mine)}, naive BH {sum(r['naive'] for r in mine)}"
                  + f", naive BH and not the first round {sum(r['naive'] and not r['called'] for r in mine)}")
            for r in mine:
                if r["box"] != "named first" and (r["box"] != "not called" or r["naive"]):
                    print(f"      seed {r['seed']}: {r['box']} (own p={r['p']:.2g}), naive BH "
                          f"{'calls' if r['naive'] else 'does not call'} it; findings {r['findings'][:2]}")
        truth = None if scenario == "noise" else REGION
        tally = {name: Counter() for name in RULES}
        for r in mine:
            for d in r["decisions"]:
                now = rule_now(d)
                for name, rule in RULES.items():
                    i = rule(d)
                    if i == now:
                        continue
                    label = d["labels"][i] if i is not None else None
                    before = d["labels"][now] if now is not None else None
                    if truth is not None:
                        tally[name]["gained"] += label == truth
                        tally[name]["lost"] += before == truth
                    tally[name]["wrong added"] += label not in (None, truth) and before in (None, truth)
                    tally[name]["wrong removed"] += before not in (None, truth) and label in (None, truth)
        decisions = sum(len(r["decisions"]) for r in mine)
        print(f"  {scenario:7s} first-round tangle decisions {decisions}; against the rule now: "
              + "; ".join(f"{name}: {', '.join(f'{k} {v}' for k, v in t.items() if v) or 'the same'}" for name, t in tally.items()))


if __name__ == "__main__":
    main()
