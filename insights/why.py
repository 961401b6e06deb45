"""/why: decompose a change in win rate into rate and mix effects, and find what really explains it.

For one dimension with segments s, shares w and rates r in the baseline (0) and current (1) period:

    rate effect_s = (r1 - r0) * (w0 + w1) / 2          segments winning more or less often
    mix effect_s  = (w1 - w0) * ((r0 + r1) / 2 - R)    more deals where the rate is below average

with R the mean of the two overall rates. Rate plus mix over a dimension's segments equals the
overall change exactly (the shares' changes sum to zero, so R drops out of the total). Each
segment's rate change is tested and the false-discovery rate is controlled across every segment
and two-way combination tested; a significant segment is reported as a finding only if its change
is not explained by a finding already made (its deals outside that finding show no change).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from .actions import Action, from_why, rank
from .periods import Period, PeriodSpec
from .query import Query
from .results import Rate, Result, _round, _sig
from .select import Sliced, censoring_notes, count_by, filter_mask, period_mask, resolve_periods
from .snapshot import Snapshot
from .stats import benjamini_hochberg, minimum_detectable_change, two_proportion_test
from .winrate import MIN_N, segment_label

LAST_QUARTER = PeriodSpec("relative", ("quarter", -1), "last quarter")
PREVIOUS = PeriodSpec("previous", (), "the period before")
WHY_DIMENSIONS = ("region", "industry", "product_type", "lead_source", "deal_stage", "sales_rep_id",
                  "size_band", "cycle_band")
PAIR_DIMENSIONS = ("region", "industry", "product_type", "lead_source")
# A won deal's last stage is always Closed: within a stage the rate is 0 or 1, so stage changes are
# all "mix". Decomposed for the picture, never tested or offered as an explanation.
UNTESTED_DIMENSIONS = ("deal_stage",)
MIX_SHARE = 0.5  # a mix story needs the mix effect to carry at least half of the change


@dataclass(frozen=True, kw_only=True)
class SegmentEffect:
    segment: dict[str, str]
    label: str
    contribution_pp: float
    rate_effect_pp: float
    mix_effect_pp: float
    share_now: float
    share_before: float


@dataclass(frozen=True, kw_only=True)
class DimensionEffect:
    dimension: str
    rate_effect_pp: float
    mix_effect_pp: float
    mix_p_value: float | None  # chi-square test that the segment shares moved; BH across dimensions
    mix_significant: bool
    segments: list[SegmentEffect]


@dataclass(frozen=True, kw_only=True)
class Contributor:
    dimension: str
    segment: dict[str, str]
    label: str
    contribution_pp: float
    rate_effect_pp: float
    mix_effect_pp: float
    current: Rate
    baseline: Rate
    change_pp: float
    p_value: float | None
    significant: bool
    explained_by: str | None = None  # label of the finding whose deals carry this change


@dataclass(kw_only=True)
class WhyResult(Result):
    compare_period: Period
    current: Rate
    baseline: Rate
    change_pp: float | None = None
    p_value: float | None = None
    significant: bool = False
    test: str = ""
    mde_pp: float | None = None
    tested: int = 0
    story: str = "not_tested"  # rate | mix | rate_and_mix | diffuse | noise | not_tested
    mix_dimension: str | None = None
    contributors: list[Contributor] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    explained: list[Contributor] = field(default_factory=list)
    dimensions: list[DimensionEffect] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    min_n: int = MIN_N


def explain_change(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> WhyResult:
    """Why the win rate of the selection changed between two periods."""
    spec_query = Query(query.filters, query.group_by, query.period or LAST_QUARTER, query.compare or PREVIOUS,
                       query.grain, query.text)
    period, compare = resolve_periods(snapshot, spec_query)
    selected = filter_mask(snapshot, query.filters)
    now = selected & period_mask(snapshot, period)
    before = selected & period_mask(snapshot, compare)
    current = Rate.of(snapshot.won[now].sum(), now.sum())
    baseline = Rate.of(snapshot.won[before].sum(), before.sum())
    result = WhyResult(command="why", as_of=snapshot.as_of, query=query, period=period, compare_period=compare,
                       current=current, baseline=baseline, min_n=min_n)
    result.notes.extend(censoring_notes(snapshot, period, compare))
    if current.n < min_n or baseline.n < min_n:
        result.notes.append("too_few_to_compare")
        return result
    p, test = two_proportion_test(current.won, current.n, baseline.won, baseline.n)
    pooled = (current.won + baseline.won) / (current.n + baseline.n)
    result.change_pp = _round(100 * (current.won / current.n - baseline.won / baseline.n), 4)
    result.p_value, result.test = _sig(p[0]), str(test[0])
    result.significant = bool(p[0] < 0.05)
    result.mde_pp = _round(100 * minimum_detectable_change(pooled, current.n, baseline.n), 2)

    # From here on only the two periods' deals matter: work on them alone, so every mask and
    # grouping below costs the size of two periods, not of the whole history.
    both = now | before
    snapshot, now, before = snapshot.subset(both), now[both], before[both]

    filtered = {d for d, _ in query.filters}
    singles = [(d,) for d in WHY_DIMENSIONS if d in snapshot.dimensions and d not in filtered]
    pairs = [pr for pr in itertools.combinations(PAIR_DIMENSIONS, 2)
             if set(pr) <= set(snapshot.dimensions) and not filtered & set(pr)]
    cells = _decompose(snapshot, now, before, singles + pairs, current, baseline)
    result.dimensions = _dimension_effects(cells, singles + pairs)

    tests = {r[0]: r for r in _cell_tests(snapshot, now, before, singles + pairs, min_n)}
    result.tested = len(tests)
    contributors = [_contributor(c, tests[c["key"]]) for c in cells if c["key"] in tests]
    direction = -1 if (result.change_pp or 0) < 0 else 1
    contributors.sort(key=lambda c: -direction * c.contribution_pp)
    findings, explained = _findings(snapshot, now, before, contributors, singles + pairs, direction, min_n)
    result.findings = [f.label for f in findings]
    result.explained = explained
    shown = {_key(c.segment) for c in findings + explained}
    result.contributors = findings + [c for c in contributors if _key(c.segment) not in shown][:10]

    result.mix_dimension = _mix_dimension(result, direction) if result.significant else None
    if findings:
        result.story = "rate_and_mix" if result.mix_dimension else "rate"
    elif result.mix_dimension:
        result.story = "mix"
    else:
        result.story = "diffuse" if result.significant else "noise"
    result.actions = rank(from_why(snapshot, result))
    return result


def _decompose(snapshot, now, before, groupings, current, baseline) -> list[dict]:
    """Rate and mix effect of every cell of every grouping, in percentage points."""
    n1_all, n0_all = current.n, baseline.n
    r1_all, r0_all = current.won / n1_all, baseline.won / n0_all
    mean_rate = (r1_all + r0_all) / 2
    sliced_now, sliced_before = Sliced(snapshot, now), Sliced(snapshot, before)
    cells = []
    for dims in groupings:
        c1 = count_by(snapshot, now, dims, sliced_now)
        c0 = count_by(snapshot, before, dims, sliced_before)
        present = np.flatnonzero((c1.n + c0.n) > 0)
        n1, n0 = c1.n[present].astype(float), c0.n[present].astype(float)
        w1_won, w0_won = c1.won[present].astype(float), c0.won[present].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            r1, r0 = w1_won / n1, w0_won / n0
        # a segment absent from one period takes its other rate there: its change is all mix
        r1, r0 = np.where(n1 > 0, r1, r0), np.where(n0 > 0, r0, r1)
        s1, s0 = n1 / n1_all, n0 / n0_all
        rate = 100 * (r1 - r0) * (s1 + s0) / 2
        mix = 100 * (s1 - s0) * ((r1 + r0) / 2 - mean_rate)
        name = "×".join(dims)
        for j, i in enumerate(present):
            segment = c1.labels(snapshot, i)
            cells.append({
                "dimension": name, "key": _key(segment), "segment": segment, "label": segment_label(segment),
                "rate": rate[j], "mix": mix[j], "share1": s1[j], "share0": s0[j],
                "w1": int(w1_won[j]), "n1": int(n1[j]), "w0": int(w0_won[j]), "n0": int(n0[j]),
            })
    return cells


def _dimension_effects(cells: list[dict], groupings) -> list[DimensionEffect]:
    out, raw_p = [], []
    for dims in groupings:
        name = "×".join(dims)
        mine = [c for c in cells if c["dimension"] == name]
        table = np.array([[c["n1"] for c in mine], [c["n0"] for c in mine]])
        p = float(sps.chi2_contingency(table)[1]) if table.shape[1] > 1 and (table.sum(axis=1) > 0).all() else np.nan
        raw_p.append(p if len(dims) == 1 and dims[0] not in UNTESTED_DIMENSIONS else np.nan)
        out.append((name, mine))
    adjusted, significant = benjamini_hochberg(raw_p)
    return [
        DimensionEffect(
            dimension=name,
            rate_effect_pp=_round(sum(c["rate"] for c in mine), 4),
            mix_effect_pp=_round(sum(c["mix"] for c in mine), 4),
            mix_p_value=_sig(adjusted[k]), mix_significant=bool(significant[k]),
            segments=[SegmentEffect(segment=c["segment"], label=c["label"],
                                    contribution_pp=_round(c["rate"] + c["mix"], 4),
                                    rate_effect_pp=_round(c["rate"], 4), mix_effect_pp=_round(c["mix"], 4),
                                    share_now=_round(c["share1"], 4), share_before=_round(c["share0"], 4))
                      for c in mine],
        )
        for k, (name, mine) in enumerate(out)
    ]


def _key(segment: dict[str, str]) -> tuple:
    return tuple(segment.items())


def _contributor(c: dict, test: list) -> Contributor:
    now, before = Rate.of(c["w1"], c["n1"]), Rate.of(c["w0"], c["n0"])
    return Contributor(
        dimension=c["dimension"], segment=c["segment"], label=c["label"],
        contribution_pp=_round(c["rate"] + c["mix"], 4), rate_effect_pp=_round(c["rate"], 4),
        mix_effect_pp=_round(c["mix"], 4), current=now, baseline=before,
        change_pp=_round(100 * (c["w1"] / c["n1"] - c["w0"] / c["n0"]), 2),
        p_value=_sig(test[6]), significant=test[7],
    )


def _cell_tests(snapshot, now, before, groupings, min_n, against_rest: bool = False):
    """Each testable cell's change among these deals, BH-adjusted across all of them:
    [key, segment, won now, n now, won before, n before, adjusted p, significant].

    With `against_rest` the test is whether the cell changed differently from the rest of these
    deals (difference in differences), which is what makes a segment an explanation rather than
    one more place where a broad change shows up."""
    sliced_now, sliced_before = Sliced(snapshot, now), Sliced(snapshot, before)
    total = np.array([snapshot.won[now].sum(), now.sum(), snapshot.won[before].sum(), before.sum()], dtype=float)
    rows = []
    for dims in groupings:
        if set(dims) & set(UNTESTED_DIMENSIONS):
            continue
        c1 = count_by(snapshot, now, dims, sliced_now)
        c0 = count_by(snapshot, before, dims, sliced_before)
        ok = (c1.n >= min_n) & (c0.n >= min_n)
        if against_rest:
            ok &= (total[1] - c1.n >= min_n) & (total[3] - c0.n >= min_n)
        for i in np.flatnonzero(ok):
            segment = c1.labels(snapshot, i)
            rows.append([_key(segment), segment, int(c1.won[i]), int(c1.n[i]), int(c0.won[i]), int(c0.n[i])])
    if not rows:
        return []
    w1, n1, w0, n0 = (np.array([r[k] for r in rows], dtype=float) for k in (2, 3, 4, 5))
    if against_rest:
        p = _difference_in_differences(w1, n1, w0, n0, total[0] - w1, total[1] - n1, total[2] - w0, total[3] - n0)
    else:
        p = two_proportion_test(w1, n1, w0, n0)[0]
    adjusted, significant = benjamini_hochberg(p)
    return [r + [adjusted[k], bool(significant[k])] for k, r in enumerate(rows)]


def _difference_in_differences(w1, n1, w0, n0, rw1, rn1, rw0, rn0) -> np.ndarray:
    """Two-sided test that a cell's change equals the rest's change, on the log-odds scale (Woolf's
    test of a ratio of odds ratios). On this scale a change that hits every segment alike is the
    same size everywhere, whatever each segment's starting rate; 0.5 is added to every count so
    that a cell with no wins or no losses still has a finite variance."""
    def log_odds_change(won_now, n_now, won_before, n_before):
        a, b = won_now + 0.5, n_now - won_now + 0.5
        c, d = won_before + 0.5, n_before - won_before + 0.5
        return np.log(a / b) - np.log(c / d), 1 / a + 1 / b + 1 / c + 1 / d

    d_cell, v_cell = log_odds_change(w1, n1, w0, n0)
    d_rest, v_rest = log_odds_change(rw1, rn1, rw0, rn0)
    z = (d_cell - d_rest) / np.sqrt(v_cell + v_rest)
    return 2 * sps.norm.sf(np.abs(z))


def _findings(snapshot, now, before, contributors, groupings, direction, min_n):
    """Findings one at a time: the largest contributor that changed significantly more than the rest
    of the deals no finding covers yet (BH across every cell tested). Re-testing on the deals left
    means a segment that only moved because a finding overlaps it (Outbound moving because APAC
    did) is reported as explained by that finding, and a change spread evenly over every segment
    yields no finding at all. A single segment whose excess change sits in one two-way child is
    replaced by that child."""
    order = {_key(c.segment): k for k, c in enumerate(contributors)}
    by_key = {_key(c.segment): c for c in contributors}
    masks = {}

    def mask_of(segment):
        key = _key(segment)
        if key not in masks:
            masks[key] = filter_mask(snapshot, [(d, (v,)) for d, v in segment.items()])
        return masks[key]

    def moved(rows):
        """Cells that changed more than the rest, in the direction of the overall change."""
        out = []
        for r in rows:
            if not r[7] or r[0] not in order:
                continue
            if direction * (r[2] / r[3] - r[4] / r[5]) > 0:
                out.append(r)
        return out

    findings = []
    universe = np.ones(len(snapshot.deals), dtype=bool)
    while len(findings) < 5:
        rows = moved(_cell_tests(snapshot, now & universe, before & universe, groupings, min_n, against_rest=True))
        totals = _totals(snapshot, now & universe, before & universe)
        rows = [r for r in rows if _excess(r, totals) * direction > 0]
        if not rows:
            break
        best = min(rows, key=lambda r: order[r[0]])
        if len(best[1]) == 1:
            for child in sorted((r for r in rows if len(r[1]) == 2 and best[1].items() <= r[1].items()),
                                key=lambda r: order[r[0]]):
                if _child_carries_parent(snapshot, now, before, universe, best, child, mask_of, min_n):
                    best = child  # e.g. Pro fell only because Europe · Pro did
                    break
        findings.append(by_key[best[0]])
        universe &= ~mask_of(best[1])

    taken_keys = {_key(f.segment) for f in findings}
    explained = []
    if findings:
        for c in contributors:
            if c.significant and _key(c.segment) not in taken_keys and direction * c.change_pp > 0:
                overlap = max(findings, key=lambda f: int((mask_of(c.segment) & mask_of(f.segment)).sum()))
                explained.append(Contributor(**{**c.__dict__, "explained_by": overlap.label}))
    return findings, explained


def _child_carries_parent(snapshot, now, before, universe, parent, child, mask_of, min_n) -> bool:
    """True when the child changed differently from the rest of its parent, and the rest of the
    parent changed no differently from everything else: the parent's story is the child's."""
    _, _, cw1, cn1, cw0, cn0, _, _ = child
    _, _, pw1, pn1, pw0, pn0, _, _ = parent
    if min(pn1 - cn1, pn0 - cn0) < min_n:
        return True  # the child is nearly all of the parent
    within = _difference_in_differences(*(np.array([x], dtype=float) for x in
                                          (cw1, cn1, cw0, cn0, pw1 - cw1, pn1 - cn1, pw0 - cw0, pn0 - cn0)))[0]
    if within >= 0.05:
        return False
    keep = universe & ~mask_of(child[1])
    left = _cell_tests(snapshot, now & keep, before & keep, [tuple(parent[1])], min_n, against_rest=True)
    return not any(r[0] == parent[0] and r[7] for r in left)


def _totals(snapshot, now, before) -> tuple[int, int, int, int]:
    return int(snapshot.won[now].sum()), int(now.sum()), int(snapshot.won[before].sum()), int(before.sum())


def _excess(row, totals) -> float:
    """The cell's change minus the rest's change, in log-odds (sign tells more or less)."""
    _, _, w1, n1, w0, n0, _, _ = row
    tw1, tn1, tw0, tn0 = totals

    def lo(w, n):
        return np.log((w + 0.5) / (n - w + 0.5))

    return (lo(w1, n1) - lo(w0, n0)) - (lo(tw1 - w1, tn1 - n1) - lo(tw0 - w0, tn0 - n0))


def _mix_dimension(result: WhyResult, direction: int) -> str | None:
    """The single dimension whose shifting shares carry at least half of the change, if any."""
    change = result.change_pp or 0.0
    best = None
    for d in result.dimensions:
        if "×" in d.dimension or not d.mix_significant or change == 0:
            continue
        if direction * d.mix_effect_pp > 0 and abs(d.mix_effect_pp) >= MIX_SHARE * abs(change):
            if best is None or abs(d.mix_effect_pp) > abs(best.mix_effect_pp):
                best = d
    return best.dimension if best else None
