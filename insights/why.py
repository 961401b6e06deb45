"""/why: decompose a change in win rate into rate and mix effects, and find what really explains it.

For one dimension with segments s, shares w and rates r in the baseline (0) and current (1) period:

    rate effect_s = (r1 - r0) * (w0 + w1) / 2          segments winning more or less often
    mix effect_s  = (w1 - w0) * ((r0 + r1) / 2 - R)    more deals where the rate is below average

with R the mean of the two overall rates. Rate plus mix over a dimension's segments equals the
overall change exactly (the shares' changes sum to zero, so R drops out of the total).

By default the period is the period in question (insights/focus.py) and the baseline the four
complete quarters before it. A segment is a *finding* when its own change (log-odds, now against
its baseline, beyond the usual change of this period in earlier years when there is a real yearly
pattern: insights/season.py) is significant, tested hierarchically so that the error rate stays at
5% while each real move needs to beat far fewer tests:

1. each dimension (region, industry, ...) gets one p-value, the Simes combination of its
   segments' tests; dimensions are selected by weighted Benjamini-Hochberg, each weighted by its
   segments' power to see a 5 pp move (sample sizes only, never outcomes);
2. inside the R of m dimensions that pass, segments are tested with Benjamini-Hochberg at level
   0.05 x R x weight / m (Benjamini & Bogomolov's selective procedure);
3. inside a finding, its two-way cells (Europe · Pro inside Europe) are tested against the rest of
   it, Benjamini-Hochberg across them; a cell that carries its parent's whole story replaces it.

The total's own change is one more family at level 1, weighted TOTAL_SHARE of the error rate, so
"something changed" (the total or a segment) is said in at most 5% of pure-noise runs.

Each segment is tested against its own past, not against "the rest": India's fall never makes
APAC look like it rose. When the rest of the deals moved the same way too (a company-wide fall),
a segment is a finding only if it also moved significantly more than the rest (the same
hierarchy on its change against the others'), so a broad move is not pinned on its strongest
segment. Only segments the first round (on every deal) calls can be findings; they are taken one
at a time, and only one that keeps a significant part of its change when fitted jointly with each
other candidate (at the level that called it) is named: when none does, the overlapping segments
are a "tangle" and no cause is named. The tests then run again on the deals no finding covers
yet, so a segment that moved only through deals it shares with a finding is reported as explained
by it. A real total change with no finding is broad ("diffuse") when every
segment set aside leaves the rest moving, else "unlocated". Both directions are findings; the
story says how they add up.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as sps

from .actions import Action, from_why, rank
from .periods import Period
from .query import Query
from .results import Comparison, Rate, Result, _round, _sig
from .cells import Cells, cached_cells
from .counting import cells_of, counts_of, rate_in
from .focus import baseline_before, left_truncated_until, needs_cohorts, period_in_question
from .select import BASELINE, censoring_notes, period_mask
from .selection import Selection
from .season import NO_CHANGE, Expected, Season, usual_change
from .snapshot import Snapshot
from .stats import ALPHA, benjamini_hochberg, log_odds, minimum_detectable_change, simes, two_proportion_test
from .winrate import MIN_N, compare_rates, segment_label

WHY_DIMENSIONS = ("region", "industry", "product_type", "lead_source", "deal_stage", "sales_rep_id",
                  "size_band", "cycle_band")
PAIR_DIMENSIONS = ("region", "industry", "product_type", "lead_source")
# A won deal's last stage is always Closed: within a stage the rate is 0 or 1, so stage changes are
# all "mix". Decomposed for the picture, never tested or offered as an explanation.
UNTESTED_DIMENSIONS = ("deal_stage",)
MIX_SHARE = 0.5  # a mix story needs the mix effect to carry at least half of the change
MAX_FINDINGS = 5
SHORTLIST = 5  # candidates compared for which one explains the others
REFERENCE_CHANGE = 0.2  # log-odds, about 5 pp at a 45% win rate: the move each dimension's weight is sized for
WEIGHT_FLOOR = 0.05  # no dimension's share of the error rate falls below this (before normalising)
# The total is tested in the same procedure as the dimensions, with this share of the error rate at
# first (the dimensions share the rest; each one called raises everyone's level): "something
# changed", by the total or by a segment, is said in at most 5% of pure-noise runs. A broad move
# also moves every dimension, so the total needs its own share mostly for moderate broad moves.
TOTAL_SHARE = 0.2


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
    # against the rest of the deals, adjusted (hierarchical BH): for a finding, in the round that
    # found it; otherwise in the last round, where nothing passed. None when it was not testable.
    p_value: float | None
    significant: bool  # a finding: this and only this makes a segment "significant" in any reply
    explained_by: str | None = None  # label of the finding whose deals carry this change


@dataclass(frozen=True)
class CellTest:
    """One segment's own change (now against before, beyond the usual seasonal change) and, for
    telling a concentrated move from a broad one, its change against the rest of the deals."""

    segment: dict[str, str]
    won_now: int
    n_now: int
    won_before: int
    n_before: int
    excess: float  # its log-odds change beyond the expected (seasonal) change
    p_value: float  # raw, two-sided: its own change
    vs_rest: float  # its log-odds change minus the rest's
    vs_rest_p: float  # raw, two-sided
    rest_excess: float  # the rest's log-odds change beyond the expected
    rest_p: float  # raw, two-sided: is the rest moving too?
    adjusted: float = float("nan")
    significant: bool = False  # its own change passed the hierarchical test
    differs: bool = False  # its change against the rest passed the hierarchical test

    @property
    def key(self) -> tuple:
        return _key(self.segment)

    @property
    def change(self) -> float:
        return self.won_now / self.n_now - self.won_before / self.n_before

    @property
    def concentrated(self) -> bool:
        """Its move is its own: the rest of the deals held (no significant change their way), or it
        moved significantly more than they did. A broad move is not pinned on whichever segment of
        it happened to be the strongest."""
        rest_moved = self.rest_p < ALPHA and np.sign(self.rest_excess) == np.sign(self.excess)
        return not rest_moved or (self.differs and np.sign(self.vs_rest) == np.sign(self.excess))


@dataclass(kw_only=True)
class WhyResult(Result):
    compare_period: Period | None
    current: Rate
    baseline: Rate
    change_pp: float | None = None
    p_value: float | None = None
    # the total is tested in the same procedure as the segments (TOTAL_SHARE of the error rate): its
    # p-value after that correction; `significant` is its verdict, `p_value` the test's own
    total_adjusted_p: float | None = None
    significant: bool = False
    test: str = ""
    mde_pp: float | None = None
    # the usual change of this period in earlier cycles (same quarter a year earlier, same month of
    # earlier quarters); with a real pattern, `significant` and every segment test are against it
    season: Season | None = None
    # a typed comparison that is not fair (note "early_comparison": the period against the complete
    # quarters before it instead; "right_censored": the newest complete created-date cohort, whose
    # rate is `fair_current`, against the cohorts before it, as the defaults do)
    fair_compare: Comparison | None = None
    fair_period: str | None = None  # None: the period itself
    fair_current: Rate | None = None
    fair_window_days: int | None = None
    tested: int = 0  # segments tested in the first round
    families_tested: int = 0  # dimensions tested in the first round
    # rate | rate_and_mix | mix | diffuse (broad) | unlocated | tangled | offsetting | hidden | noise | not_tested
    story: str = "not_tested"
    mix_dimension: str | None = None
    contributors: list[Contributor] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    falls: list[str] = field(default_factory=list)  # findings whose win rate fell
    rises: list[str] = field(default_factory=list)  # findings whose win rate rose
    explained: list[Contributor] = field(default_factory=list)
    # segments whose own change passed the correction but overlap and none stands once another is
    # set aside: something moved among them, the data cannot yet say which (story "tangled")
    tangled: list[Contributor] = field(default_factory=list)
    dimensions: list[DimensionEffect] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    min_n: int = MIN_N

    @property
    def moved_pp(self) -> float | None:
        """The change the verdict is about: against the usual seasonal change when there is a real
        pattern (a Q4 that rose 4 pp where Q4s rise 9 pp fell beyond the usual), else the change."""
        if self.season is not None and self.season.pattern and self.season.change_vs_usual_pp is not None:
            return self.season.change_vs_usual_pp
        return self.change_pp


def explain_change(snapshot: Snapshot, query: Query, min_n: int = MIN_N) -> WhyResult:
    """Why the win rate of the selection changed between two periods. The result is built once, from
    the steps' values (the actions, which read the finished diagnosis, are added last)."""
    sel = Selection(snapshot, query, compare_default=BASELINE)
    period, compare, current = sel.period, sel.compare_period, sel.overall
    baseline = sel.baseline_overall if compare is not None else Rate.of(0, 0)
    known = dict(command="why", as_of=snapshot.as_of, query=query, period=period, compare_period=compare,
                 current=current, baseline=baseline, min_n=min_n,
                 date_basis="created_date" if period.basis == "created" else "closed_date")
    if compare is None:
        return WhyResult(**known, notes=["no_baseline"])
    notes = list(censoring_notes(snapshot, period, compare))
    fair_notes, fair = _fair_comparison(sel, current, notes, min_n)
    notes += fair_notes
    if current.n < min_n or baseline.n < min_n:
        return WhyResult(**known, **fair, notes=notes + ["too_few_to_compare"])
    p, test = two_proportion_test(current.won, current.n, baseline.won, baseline.n)
    pooled = (current.won + baseline.won) / (current.n + baseline.n)
    change_pp, p_value = _round(100 * (current.won / current.n - baseline.won / baseline.n), 4), _sig(p[0])
    season = usual_change(snapshot, sel.filtered, period, compare, current, baseline) \
        if query.compare is None or query.compare.kind in ("previous", "baseline") else None
    seasonal = season is not None and season.pattern
    expected = season.expected if seasonal else NO_CHANGE
    # the change the verdict is about: against the usual seasonal change when there is a real pattern
    moved = season.change_vs_usual_pp if seasonal and season.change_vs_usual_pp is not None else change_pp

    filtered = {d for d, _ in query.filters}
    # a stage that only records the outcome (Closed Won / Closed Lost) explains nothing: left out, with a note
    outcome_stage = "deal_stage" in snapshot.dimensions and snapshot.report.stage_outcome_only
    if outcome_stage:
        notes.append("stage_outcome_only")
    singles = [(d,) for d in WHY_DIMENSIONS if d in snapshot.dimensions and d not in filtered
               and not (outcome_stage and d == "deal_stage")]
    pairs = [pr for pr in itertools.combinations(PAIR_DIMENSIONS, 2)
             if set(pr) <= set(snapshot.dimensions) and not filtered & set(pr)]
    families = [dims for dims in singles if not set(dims) & set(UNTESTED_DIMENSIONS)]

    # From here on only the two periods' deals matter, counted once into cells (insights/cells.py) of
    # every tested dimension: each mask and grouping below costs the number of cells, not of deals.
    tested = tuple(d for d in WHY_DIMENSIONS if (d,) in families or any(d in pr for pr in pairs))
    now, before = sel.current, sel.baseline
    cells = cached_cells(snapshot, ("why", period, compare, query.filters, tested),
                         lambda: cells_of(snapshot, [now, before], tested))

    def both_periods(dims):  # an untested dimension is only drawn: counted on the deals, once per cells
        if set(dims) <= set(tested):
            return cells.split(cells.everything(), dims)
        if dims not in cells.memo:
            cells.memo[dims] = counts_of(snapshot, now, dims), counts_of(snapshot, before, dims)
        return cells.memo[dims]

    effects = _decompose(cells, both_periods, singles + pairs, current, baseline)
    dimensions = _dimension_effects(effects, singles + pairs)

    direction = -1 if (moved or 0) < 0 else 1
    search = _Search(cells, families, pairs, min_n, effects, expected, season.unusual_p_value if seasonal else p_value)
    search.run()
    significant = search.total[1]
    falls = [f.label for f in search.findings if f.change_pp < 0]
    rises = [f.label for f in search.findings if f.change_pp > 0]
    explained = search.explained()
    tangled = [search._contributor(search.effects[t.key], t.adjusted, False) for t in search.tangled]
    shown = {_key(c.segment) for c in search.findings + explained + tangled}
    others = sorted((c for c in search.contributors() if _key(c.segment) not in shown),
                    key=lambda c: -direction * c.contribution_pp)
    # the findings the total's change is about first (falls when the total held), largest first
    lead = direction if significant else -1
    findings = sorted(search.findings, key=lambda f: (np.sign(f.change_pp) != lead, -abs(f.contribution_pp)))
    mix_dimension = _mix_dimension(dimensions, moved, direction) if significant else None
    result = WhyResult(
        **known, **fair, notes=notes, change_pp=change_pp, p_value=p_value, test=str(test[0]), season=season,
        mde_pp=_round(100 * minimum_detectable_change(pooled, current.n, baseline.n), 2),
        total_adjusted_p=_sig(search.total[0]), significant=significant, tested=search.tested,
        families_tested=search.families_tested, falls=falls, rises=rises, explained=explained, tangled=tangled,
        findings=[f.label for f in findings], contributors=findings + others[:10], dimensions=dimensions,
        mix_dimension=mix_dimension,
        story=_story(significant, falls if direction < 0 else rises, falls, rises, [f.label for f in findings],
                     tangled, mix_dimension, search.broad(direction)))
    return replace(result, actions=rank(from_why(snapshot, result)))


def _fair_comparison(sel: Selection, current: Rate, notes: list[str], min_n: int) -> tuple[list[str], dict]:
    """Typed periods get the defaults' guards: the notes to add and the fair comparison's fields. A typed
    baseline that starts before the data holds all its deals (mostly quick wins and losses of deals
    created after the extract began) is said, and the period is tested against the complete quarters
    before it too; a typed period that early is said, with no fair test to offer. A typed period that
    runs past the extract's last created date (right-censored: only long-cycle deals created before it;
    `notes` has "right_censored") is said, and the fair comparison is the one the defaults make: the
    newest created-date cohort whose outcomes are all in, against the cohorts before it."""
    snapshot, query, selected = sel.snapshot, sel.query, sel.filtered
    period, compare = sel.period, sel.compare_period
    early = left_truncated_until(snapshot)
    if early is not None and period.basis == "closed" and query.period is not None and period.start < early:
        return ["early_period"], {}
    if query.compare is not None and early is not None and compare.start < early:
        fair = baseline_before(snapshot, period)
        if fair is None or fair == compare:
            return ["early_comparison"], {}
        fair_mask = selected & period_mask(snapshot, fair)
        return ["early_comparison"], {"fair_compare": compare_rates(
            current, rate_in(snapshot, fair_mask), fair.label, min_n)}
    if "right_censored" in notes and period.basis == "closed" and needs_cohorts(snapshot):
        focus = period_in_question(snapshot)
        if focus.baseline is None:
            return [], {}
        now, before = (selected & period_mask(snapshot, p) for p in (focus.current, focus.baseline))
        fair_current = rate_in(snapshot, now)
        return [], {"fair_current": fair_current, "fair_period": focus.current.label,
                    "fair_window_days": focus.window_days,
                    "fair_compare": compare_rates(fair_current, rate_in(snapshot, before),
                                                  focus.baseline.label, min_n)}
    return [], {}


def _story(significant: bool, along: list[str], falls: list[str], rises: list[str], findings: list[str],
           tangled: list, mix_dimension: str | None, broad: bool) -> str:
    """How the findings add up to the total's change (see the README's list of stories); `along`: the
    findings that moved the way the total did."""
    if significant:
        if along:
            return "rate_and_mix" if mix_dimension else "rate"
        if mix_dimension:
            return "mix"
        if tangled and not findings:
            return "tangled"
        return "diffuse" if broad else "unlocated"
    if falls and rises:
        return "offsetting"
    if findings:
        return "hidden"
    return "tangled" if tangled else "noise"


def _decompose(cells: Cells, both_periods, groupings, current, baseline) -> list[dict]:
    """Rate and mix effect of every segment of every grouping, in percentage points."""
    n1_all, n0_all = current.n, baseline.n
    r1_all, r0_all = current.won / n1_all, baseline.won / n0_all
    mean_rate = (r1_all + r0_all) / 2
    out = []
    for dims in groupings:
        c1, c0 = both_periods(dims)
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
            segment = c1.labels(cells, i)
            out.append({
                "dimension": name, "key": _key(segment), "segment": segment, "label": segment_label(segment),
                "rate": rate[j], "mix": mix[j], "share1": s1[j], "share0": s0[j],
                "w1": int(w1_won[j]), "n1": int(n1[j]), "w0": int(w0_won[j]), "n0": int(n0[j]),
            })
    return out


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


class _Search:
    """The hierarchical, round-by-round search for findings described in the module docstring."""

    def __init__(self, cells: Cells, families, pairs, min_n, effects, expected: Expected, total_p: float | None):
        self.data, self.min_n, self.expected, self.total_p = cells, min_n, expected, total_p
        self.total: tuple[float | None, bool] = (total_p, False)  # the total's (adjusted p-value, significant)
        self.families, self.pairs = families, pairs
        self.effects = {c["key"]: c for c in effects}
        self.findings: list[Contributor] = []
        self.first_round: dict[tuple, CellTest] = {}
        self.last_round: dict[tuple, CellTest] = {}
        self.tested = self.families_tested = 0
        self.masks: dict[tuple, np.ndarray] = {}
        self.tangled: list[CellTest] = []  # called, overlapping, and none stands apart from the others

    def mask_of(self, segment: dict[str, str]) -> np.ndarray:
        key = _key(segment)
        if key not in self.masks:
            self.masks[key] = self.data.mask(segment)
        return self.masks[key]

    def run(self) -> None:
        universe = np.ones(len(self.data), dtype=bool)
        while True:
            tests, families_tested, total = _hierarchical_round(self.data, universe, self.families, self.min_n,
                                                                self.expected, self.total_p)
            if not self.first_round:
                self.first_round, self.total = {t.key: t for t in tests}, total
                self.tested, self.families_tested = len(tests), families_tested
            self.last_round = {t.key: t for t in tests}
            if len(self.findings) >= MAX_FINDINGS:
                break
            # only a segment the first round (on every deal) called can be a finding: later rounds
            # set the findings' deals aside to explain overlaps away, not to spend the error rate again
            candidates = [t for t in tests if t.significant and t.key in self.effects and t.concentrated
                          and self.first_round[t.key].significant and np.sign(t.change) == np.sign(t.excess)]
            if not candidates:
                break
            shortlist = sorted(candidates, key=self._order)[:SHORTLIST]
            best = self._explains_most(shortlist, universe)
            if best is None:
                if not self.findings:
                    self.tangled = shortlist
                break
            best = self._child_or_self(best, universe)
            self.findings.append(self._contributor(self.effects[best.key], best.adjusted, True))
            universe &= ~self.mask_of(best.segment)

    def _explains_most(self, candidates: list[CellTest], universe) -> CellTest | None:
        """The candidate that stands on its own, or None when none does (a tangle).

        Fitted jointly with each other candidate (`_partial_z`), a candidate keeps part of its change;
        it stands when the weakest part is still significant at the level that called it (its
        p-value scaled by the same correction). North America's drop makes every segment it is a
        third of fall a little, and one of those (deals of 30-60 days) that also fell a little by
        chance can show a smaller p-value than North America itself; fitted together, the 30-60 day
        deals outside North America are nearly flat, and North America's deals of other cycles still
        fall. When both keep a real-looking part (each by about 2.3 standard errors), the data
        cannot tell which carries the change: naming either would be a guess."""
        if len(candidates) == 1:
            return candidates[0]
        weakest = {c.key: min(self._partial_z(c, other, universe) for other in candidates if other is not c)
                   for c in candidates}

        def stands(c: CellTest) -> bool:
            p = 2 * sps.norm.sf(max(weakest[c.key], 0.0))
            return p * c.adjusted / max(c.p_value, 1e-300) <= ALPHA
        standing = [c for c in candidates if stands(c)]
        return max(standing, key=lambda c: (weakest[c.key], -c.p_value)) if standing else None

    def _partial_z(self, c: CellTest, other: CellTest, universe) -> float:
        """c's change (log-odds, beyond the expected) in a joint model with `other`'s, in standard
        errors and signed along c's own change. The deals of c alone, `other` alone and both read
        a, b and a + b: weighted least squares on the three, each weighted by its inverse variance."""
        mine, theirs = self.mask_of(c.segment), self.mask_of(other.segment)
        groups = [universe & mine & ~theirs, universe & ~mine & theirs, universe & mine & theirs]
        delta, var = [], []
        for g in groups:
            now, before = self.data.split(g, ())
            ok = now.n[0] > 0 and before.n[0] > 0
            d, v = _log_odds_change(now.won, now.n, before.won, before.n)
            delta.append(float(d[0]) - self.expected.shift if ok else 0.0)
            var.append(float(v[0]) + self.expected.variance if ok else np.inf)
        w = 1 / np.array(var)
        information = np.array([[w[0] + w[2], w[2]], [w[2], w[1] + w[2]]])
        score = np.array([w[0] * delta[0] + w[2] * delta[2], w[1] * delta[1] + w[2] * delta[2]])
        try:
            covariance = np.linalg.inv(information)
        except np.linalg.LinAlgError:
            return 0.0
        a = float((covariance @ score)[0])
        return float(np.sign(c.excess) * a / np.sqrt(covariance[0, 0]))

    def broad(self, direction: int) -> bool:
        """The move is spread out: whichever single segment is set aside, the rest of the deals still
        moved significantly the same way. One region's fall leaves the other regions flat."""
        by_dim: dict[tuple, list[CellTest]] = {}
        for t in self.first_round.values():
            by_dim.setdefault(tuple(t.segment), []).append(t)
        if not by_dim:
            return False
        return all(t.rest_p < ALPHA and np.sign(t.rest_excess) == direction
                   for tests in by_dim.values() for t in tests)

    def _order(self, t: CellTest):
        """The strongest evidence first: taking a weaker segment first could name one that only
        moved because a stronger move overlaps it (Pro falling because Europe did)."""
        c = self.effects[t.key]
        return (t.p_value, -abs(c["rate"] + c["mix"]))

    def _child_or_self(self, parent: CellTest, universe) -> CellTest:
        """Level 3: a two-way cell inside the finding that carries the parent's whole story (tested
        against the other cells of the parent along the same dimension, BH across all of them)."""
        (dim, value), = parent.segment.items()
        inside = universe & self.mask_of(parent.segment)
        children = []
        for pair in (pr for pr in self.pairs if dim in pr):
            (other,) = set(pair) - {dim}
            for t in _family_tests(self.data, inside, (other,), self.min_n, self.expected):
                segment = {d: value if d == dim else t.segment[other] for d in pair}
                children.append(replace(t, segment=segment))
        if not children:
            return parent
        adjusted, significant = benjamini_hochberg([c.vs_rest_p for c in children])
        self.tested += len(children)
        children = [replace(c, adjusted=float(a), significant=bool(z)) for c, a, z in zip(children, adjusted, significant)]
        for child in sorted((c for c in children if c.significant and c.key in self.effects
                             and np.sign(c.change) == np.sign(parent.change) == np.sign(c.vs_rest)),
                            key=lambda c: -abs(self.effects[c.key]["rate"] + self.effects[c.key]["mix"])):
            keep = universe & ~self.mask_of(child.segment)
            left, _, _ = _hierarchical_round(self.data, keep, [(dim,)], self.min_n, self.expected)
            if not any(t.key == parent.key and t.significant for t in left):
                # e.g. Pro fell only because Europe · Pro did; its p-value is the larger of the two
                return replace(child, adjusted=max(child.adjusted, parent.adjusted))
        return parent

    def _contributor(self, c: dict, p_value, significant: bool, explained_by: str | None = None) -> Contributor:
        return Contributor(
            dimension=c["dimension"], segment=c["segment"], label=c["label"],
            contribution_pp=_round(c["rate"] + c["mix"], 4), rate_effect_pp=_round(c["rate"], 4),
            mix_effect_pp=_round(c["mix"], 4), current=Rate.of(c["w1"], c["n1"]), baseline=Rate.of(c["w0"], c["n0"]),
            change_pp=_round(100 * (c["w1"] / c["n1"] - c["w0"] / c["n0"]), 2) if c["n1"] and c["n0"] else None,
            p_value=_sig(p_value), significant=significant, explained_by=explained_by,
        )

    def contributors(self) -> list[Contributor]:
        """Every tested single segment that is not a finding, with its last-round p-value."""
        found = {_key(f.segment) for f in self.findings}
        out = []
        for key, t in self.first_round.items():
            if key in found or key not in self.effects:
                continue
            last = self.last_round.get(key)
            out.append(self._contributor(self.effects[key], last.adjusted if last else None, False))
        return out

    def explained(self) -> list[Contributor]:
        """Segments whose own change was significant in the first round only through a finding they
        share deals with: no longer significant once the findings are set aside. Each is credited to
        the finding it shares the most deals with; segments of a finding's own dimension share none."""
        if not self.findings:
            return []
        found = {_key(f.segment) for f in self.findings}
        out = []
        for key, t in self.first_round.items():
            if key in found or key not in self.effects or not t.significant:
                continue
            if not any(np.sign(t.change) == np.sign(f.change_pp) for f in self.findings):
                continue
            shared = [(self.data.deals(self.mask_of(t.segment) & self.mask_of(f.segment)), f) for f in self.findings
                      if np.sign(t.change) == np.sign(f.change_pp)]
            deals, overlap = max(shared, key=lambda s: s[0])
            if not deals:
                continue
            last = self.last_round.get(key)
            out.append(self._contributor(self.effects[key], last.adjusted if last else None, False, overlap.label))
        return sorted(out, key=lambda c: -abs(c.contribution_pp))


def _family_tests(cells: Cells, universe, dims, min_n, expected: Expected) -> list[CellTest]:
    """Each testable segment of one dimension: its own change against the expected change, and its
    change against the other segments of that dimension.

    The rest's change is the inverse-variance weighted mean of the other segments' own log-odds
    changes, not the change of their pooled deals: a pure shift of deals between the other
    segments (more Outbound, which always wins less) then moves no segment's test."""
    c1, c0 = cells.split(universe, dims)
    delta, var = _log_odds_change(c1.won, c1.n, c0.won, c0.n)
    weight = np.where((c1.n > 0) & (c0.n > 0), 1 / var, 0.0)
    total_w, total_wd = weight.sum(), (weight * delta).sum()
    rest_w = total_w - weight
    ok = ((c1.n >= min_n) & (c0.n >= min_n) & (c1.n.sum() - c1.n >= min_n) & (c0.n.sum() - c0.n >= min_n)
          & (rest_w > 0))
    idx = np.flatnonzero(ok)
    if not len(idx):
        return []
    own = delta[idx] - expected.shift
    p_own = 2 * sps.norm.sf(np.abs(own) / np.sqrt(var[idx] + expected.variance))
    rest = (total_wd - weight[idx] * delta[idx]) / rest_w[idx]
    rest_own = rest - expected.shift
    p_rest_own = 2 * sps.norm.sf(np.abs(rest_own) / np.sqrt(1 / rest_w[idx] + expected.variance))
    vs_rest = delta[idx] - rest
    p_vs_rest = 2 * sps.norm.sf(np.abs(vs_rest) / np.sqrt(var[idx] + 1 / rest_w[idx]))
    return [CellTest(c1.labels(cells, i), int(c1.won[i]), int(c1.n[i]), int(c0.won[i]), int(c0.n[i]),
                     float(own[k]), float(p_own[k]), float(vs_rest[k]), float(p_vs_rest[k]), float(rest_own[k]),
                     float(p_rest_own[k])) for k, i in enumerate(idx)]


def _family_weights(per_family: list[list[CellTest]]) -> np.ndarray:
    """Each dimension's share of the error rate, from its sample sizes only (never its outcomes): the
    mean power of its segments to detect a change of REFERENCE_CHANGE in log-odds (about 5 pp at a
    45% win rate), with a floor. Twenty-five reps of a hundred deals each could not show a 5 pp move
    if it happened; the budget they would burn goes to dimensions whose segments could. Mean 1."""
    power = []
    for tests in per_family:
        won = np.array([t.won_now + t.won_before for t in tests], dtype=float)
        n = np.array([t.n_now + t.n_before for t in tests], dtype=float)
        rate = np.clip(won / n, 0.05, 0.95)
        n_now, n_before = (np.array([getattr(t, k) for t in tests], dtype=float) for k in ("n_now", "n_before"))
        se = np.sqrt((1 / n_now + 1 / n_before) / (rate * (1 - rate)))
        z = sps.norm.isf(ALPHA / (2 * len(tests)))
        power.append(max(WEIGHT_FLOOR, float(sps.norm.cdf(REFERENCE_CHANGE / se - z).mean())))
    power = np.array(power)
    return power * len(power) / power.sum()


def _hierarchical(per_family: list[list[float]], weights: np.ndarray, total_p: float | None = None,
                 alpha: float = ALPHA) -> tuple[list[tuple[np.ndarray, bool]], tuple[float, bool]]:
    """Levels 1 and 2 of the module docstring on one p-value per segment, grouped by dimension:
    per dimension, (adjusted p-values, selected), and the total's (adjusted p-value, selected).
    The total is one more family of one test, weighted TOTAL_SHARE of the m + 1: dimensions and the
    total are selected by weighted BH on their Simes p-values (p / weight); inside a dimension, a
    p-value is its BH value scaled by (m + 1) / (R x weight) (R at least 1), so it is at most `alpha`
    exactly when the procedure calls it. Under pure noise something is called in at most 5% of runs."""
    family_p = np.array([simes(p) for p in per_family])
    if total_p is not None:
        m = len(per_family) + 1
        weights = np.append(np.asarray(weights) * (1 - TOTAL_SHARE) * m / len(weights), TOTAL_SHARE * m)
        family_p = np.append(family_p, total_p)
    m = len(family_p)
    family_p = family_p / weights
    family_adjusted, selected = benjamini_hochberg(np.minimum(family_p, 1.0), alpha)
    r = max(int(selected.sum()), 1)
    total = ((float(max(total_p, family_adjusted[-1])), bool(selected[-1])) if total_p is not None
             else (None, False))
    return ([(np.minimum(1.0, benjamini_hochberg(p)[0] * m / (r * w)), bool(chosen))
             for p, w, chosen in zip(per_family, weights, selected)], total)


def _hierarchical_round(cells: Cells, universe, families, min_n, expected: Expected, total_p: float | None = None,
                        alpha: float = ALPHA):
    """Every cell test of one round on the deals of `universe`, (tests, dimensions tested): its own
    change and its change against the rest, each under the hierarchical procedure."""
    per_family = [t for t in (_family_tests(cells, universe, dims, min_n, expected) for dims in families) if t]
    if not per_family:
        return [], 0, (total_p, total_p is not None and total_p < alpha)
    weights = _family_weights(per_family)
    own, total = _hierarchical([[t.p_value for t in tests] for tests in per_family], weights, total_p, alpha)
    against, _ = _hierarchical([[t.vs_rest_p for t in tests] for tests in per_family], weights, total_p, alpha)
    out = []
    for tests, (adjusted, chosen), (adjusted_rest, chosen_rest) in zip(per_family, own, against):
        out.extend(replace(t, adjusted=float(a), significant=bool(chosen and a <= alpha),
                           differs=bool(chosen_rest and ar <= alpha))
                   for t, a, ar in zip(tests, adjusted, adjusted_rest))
    return out, len(per_family), total


def _log_odds_change(won_now, n_now, won_before, n_before):
    """Change in log-odds and its variance (stats.log_odds). On this scale a change that hits every
    segment alike is the same size everywhere, whatever each segment's starting rate."""
    (now, v_now), (before, v_before) = log_odds(won_now, n_now), log_odds(won_before, n_before)
    return np.atleast_1d(now - before), np.atleast_1d(v_now + v_before)


def _mix_dimension(dimensions: list[DimensionEffect], moved: float | None, direction: int) -> str | None:
    """The single dimension whose shifting shares carry at least half of the change (`moved`), if any."""
    change = moved or 0.0
    best = None
    for d in dimensions:
        if "×" in d.dimension or not d.mix_significant or change == 0:
            continue
        if direction * d.mix_effect_pp > 0 and abs(d.mix_effect_pp) >= MIX_SHARE * abs(change):
            if best is None or abs(d.mix_effect_pp) > abs(best.mix_effect_pp):
                best = d
    return best.dimension if best else None
