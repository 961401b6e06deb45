"""PNG charts for analysis results: the /trend line, the /why bridge and the /drivers dot plot.

`chart_for(result)` returns a `Chart` (PNG bytes, file name, title, alt text) or None when the
command has no chart or the result has too little to draw. Every number drawn is read from the
Result; nothing here computes a statistic. Rendering uses `matplotlib.figure.Figure` with the Agg
canvas and never touches pyplot, so no global figure state is shared between threads; a lock
serialises drawing because matplotlib's font and text caches are not guaranteed thread-safe.
"""
from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import textwrap
import threading
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from insights.query import dimension_label

from bot.core.render import MINUS, dimlabel, money, num, pct, pp, pval

# 6.4 x 3.6 in at 125 dpi: 800 x 450 px.
WIDTH_IN, HEIGHT_IN, DPI = 6.4, 3.6, 125
MAX_DRIVER_ROWS = 15
MAX_BRIDGE_FINDINGS = 5
ALT_TEXT_MAX = 2000
MAX_TICK_CHARS = 40  # a driver's or a bridge step's label on an axis
MAX_TITLE_CHARS = 140
EVERYTHING_ELSE = "everything else"

INK = "#222222"
MUTED = "#6b6b6b"
FAINT = "#b5b5b5"
GRID = "#e9e9e9"
LINE = "#1f5f99"
BAND = "#a9c6e3"
HIGHLIGHT = "#fff1c9"
DOWN = "#c2413a"
UP = "#2b8a57"
NEUTRAL = "#59687a"

_LOCK = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chart:
    png: bytes
    filename: str  # the kind of chart, e.g. winrate-trend.png
    title: str
    alt_text: str
    key: str = ""  # what this chart is of (filters, period, grain), for its unique file name

    @property
    def unique_filename(self) -> str:
        """A file name of this chart alone: kind, what it shows, and a digest of the picture, so
        `/trend APAC` never overwrites `/trend` (in the console's chart folder or in Slack)."""
        stem = self.filename.rsplit(".", 1)[0]
        digest = hashlib.sha1(self.png).hexdigest()[:8]
        return "-".join(p for p in (stem, self.key, digest) if p) + ".png"


def chart_key(*parts) -> str:
    """A short file-name-safe slug: 'APAC · Enterprise', '2024Q2' -> 'apac-enterprise-2024q2'."""
    text = "-".join(str(p) for p in parts if p)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-")


def _query_key(result, *extra) -> str:
    q = result.query
    filters = "" if not q.filters else q.describe_filters()
    return chart_key(filters, result.period.label if q.period is not None else "", *extra)


CENSORED_CAPTION = ("warning: this period runs past the extract's last created date (right-censored): it holds only "
                    "deals created before then; read with care")
NO_DRIVERS_CAPTION = "no reliable drivers in this data: no effect is significant after Benjamini–Hochberg"


def chart_for(result) -> Chart | None:
    """The chart for a result, or None when its command has none or there is too little to draw."""
    draw = {"trend": trend_chart, "why": bridge_chart, "drivers": drivers_chart,
            "pipeline": pipeline_chart}.get(getattr(result, "command", None))
    return draw(result) if draw else None


def chart_or_none(result) -> Chart | None:
    """The result's chart, or None if it has none or drawing failed (logged): a chart never costs the answer."""
    if result is None:
        return None
    try:
        return chart_for(result)
    except Exception:
        log.exception("drawing the %s chart failed", getattr(result, "command", "?"))
        return None


# ----------------------------------------------------------------------------------------- trend

def trend_chart(result) -> Chart | None:
    """Win rate per period with its 95% band; partial and censored periods hollow; baseline and tested period."""
    points = [p for p in result.points if p.win_rate is not None]
    if not points:
        return None
    grain = result.grain
    filters = result.query.describe_filters()
    title = f"Win rate by {grain} · {filters}"
    tested = next((p for p in result.points if p.label == result.tested_period), None)
    change = result.change if tested is not None else None

    def draw(fig: Figure, ax) -> None:
        x_of = {p.label: k for k, p in enumerate(result.points)}
        xs = [x_of[p.label] for p in points]
        rates = [100 * p.win_rate for p in points]
        lows = [100 * (p.ci_low if p.ci_low is not None else p.win_rate) for p in points]
        highs = [100 * (p.ci_high if p.ci_high is not None else p.win_rate) for p in points]

        if tested is not None:
            k = x_of[tested.label]
            ax.axvspan(k - 0.42, k + 0.42, color=HIGHLIGHT, zorder=0, lw=0)
        ax.fill_between(xs, lows, highs, color=BAND, alpha=0.45, lw=0, zorder=1, label="95% interval")
        ax.plot(xs, rates, color=LINE, lw=1.6, zorder=2)
        if len(points) == 1:  # a band needs two points: show the lone interval as a whisker
            ax.vlines(xs, lows, highs, colors=BAND, lw=6, zorder=1)
        for p, x, y in zip(points, xs, rates):
            if _point_flag(p):
                ax.plot([x], [y], "o", ms=6.5, mfc="white", mec=LINE, mew=1.3, alpha=0.6, zorder=3)
            else:
                ax.plot([x], [y], "o", ms=6, color=LINE, zorder=3)

        if change is not None:
            base = 100 * change.baseline.win_rate
            ks = [x_of[label] for label in result.baseline_periods if label in x_of]
            if ks:
                ax.hlines(base, min(ks) - 0.3, max(ks) + 0.3, colors=MUTED, linestyles=(0, (4, 3)), lw=1.2, zorder=2)
                ax.annotate(f"baseline {pct(change.baseline.win_rate)}", (min(ks) - 0.3, base),
                            xytext=(0, 4), textcoords="offset points", ha="left", va="bottom",
                            fontsize=7, color=MUTED, bbox=dict(fc="white", ec="none", alpha=0.75, pad=0.6))
        if tested is not None:
            k = x_of[tested.label]
            lines = [pct(tested.win_rate)]
            if change is not None:
                lines.append(f"{pp(change.change_pp)}, {pval(change.p_value)}")
            last = len(result.points) - 1
            ha = "right" if k >= last - 1 and last > 2 else "left" if k <= 1 and last > 2 else "center"
            dx = {"right": 0.42, "left": -0.42, "center": 0.0}[ha]
            ax.text(k + dx, 0.97, "\n".join(lines), transform=ax.get_xaxis_transform(), ha=ha, va="top",
                    fontsize=7.5, color=INK, fontweight="bold", linespacing=1.2)

        low = min(lows + ([100 * change.baseline.win_rate] if change else []))
        high = max(highs + ([100 * change.baseline.win_rate] if change else []))
        span = max(high - low, 5.0)
        # the axis starts at zero, so a 3-point move looks like 3 points, not like a cliff
        bottom, top = 0.0, min(100.0, high + 0.32 * span)
        ax.set_ylim(bottom, top)
        for p, x, y in zip(points, xs, rates):
            flag = _point_flag(p)
            if flag:  # under the point, or over it when the point sits near the bottom
                below = y - bottom > 0.2 * (top - bottom)
                ax.annotate(flag, (x, y), xytext=(0, -7 if below else 7), textcoords="offset points", ha="center",
                            va="top" if below else "bottom", fontsize=6.5, color=MUTED, style="italic")
        ax.set_xlim(-0.6, len(result.points) - 0.4)
        many = len(result.points) > 12
        ax.set_xticks(range(len(result.points)))
        ax.set_xticklabels([_plain(p.label if many else p.label.replace(" (to date)", "\n(to date)"))
                            for p in result.points],
                           rotation=45 if many else 0, ha="right" if many else "center",
                           fontsize=6.5 if many else 7.5)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.set_ylabel("Win rate")
        ax.set_xlabel(f"{grain.capitalize()} closed")
        _style(ax, grid="y")

    parts = [f"Closed deals by {grain} of closed date"]
    if result.query.period is not None:
        parts.append(result.period.label)
    parts.append("band: 95% Wilson interval")
    if any(_point_flag(p) for p in points):
        parts.append("hollow: partial or censored, not tested")
    if change is not None:
        parts.append(f"tested {tested.label} against {change.baseline_label}")
    censoring = getattr(result, "censoring", None)
    if censoring:
        parts.append(f"warning: right-censored after {censoring['created_until']} (created dates end there): "
                     f"{', '.join(censoring['periods'])} look thin and lean to long cycles, not tested")
    parts.append("y axis from 0%")
    parts.append(f"data as of {result.as_of}")

    png = _render(title, " · ".join(parts), draw)
    alt = _trend_alt(result, points, tested)
    if censoring:
        alt = _alt(f"{alt} Right-censored after {censoring['created_until']}: {', '.join(censoring['periods'])} not tested.")
    return Chart(png=png, filename="winrate-trend.png", title=title, alt_text=alt,
                 key=_query_key(result, grain))


def _point_flag(p) -> str | None:
    if p.censored == "right":
        return "censored"
    if p.censored == "left":
        return "early"
    if not p.complete:
        return "partial"
    return None


def _trend_alt(result, points, tested) -> str:
    first, last = result.points[0].label, result.points[-1].label
    span = first if first == last else f"{first} to {last}"
    s1 = (f"Line chart of the win rate by {result.grain} for {result.query.describe_filters()}, {span}, "
          f"with 95% intervals; data as of {result.as_of}.")
    c = result.change
    if tested is not None and c is not None:
        verdict = {"drop": "a significant drop", "rise": "a significant rise"}.get(result.verdict, "within noise")
        s2 = (f"{tested.label} win rate {pct(tested.win_rate)} (n={num(tested.n)}) against a baseline of "
              f"{pct(c.baseline.win_rate)} over {c.baseline_label}: {pp(c.change_pp)}, {pval(c.p_value)}, {verdict}.")
    else:
        latest = points[-1]
        s2 = f"Latest: {latest.label} {pct(latest.win_rate)} (n={num(latest.n)}); no period was tested."
    flagged = [f"{p.label} ({_point_flag(p)})" for p in points if _point_flag(p)]
    s3 = f" Not tested, shown hollow: {', '.join(flagged)}." if flagged else ""
    return _alt(f"{s1} {s2}{s3}")


# ------------------------------------------------------------------------------------------- why

def bridge_steps(result) -> list[tuple[str, float]]:
    """The bridge's steps in percentage points, from the baseline rate to the current one.

    With findings: each significant finding's contribution (largest first, at most
    MAX_BRIDGE_FINDINGS), then "everything else", the remainder, so the steps sum to
    `result.change_pp`. Without findings: the rate and mix effects of the region dimension (or the
    first one), the mix taken as the change minus the rate effect so rounding cannot open a gap.
    Empty when the change was not measured.
    """
    change = result.change_pp
    if change is None:
        return []
    findings = set(result.findings)
    found = [c for c in result.contributors if c.significant and c.label in findings][:MAX_BRIDGE_FINDINGS]
    if found:
        steps = [(c.label, float(c.contribution_pp)) for c in found]
        return steps + [(EVERYTHING_ELSE, change - math.fsum(v for _, v in steps))]
    singles = [d for d in result.dimensions if "×" not in d.dimension]
    dim = next((d for d in singles if d.dimension == "region"), singles[0] if singles else None)
    if dim is None:
        return [("change", float(change))]
    name = dimension_label(dim.dimension)
    rate = float(dim.rate_effect_pp)
    return [(f"rates within {name}", rate), (f"{name} mix", change - rate)]


def bridge_chart(result) -> Chart | None:
    """Waterfall from the baseline win rate through the contributions to the current one."""
    steps = bridge_steps(result)
    if not steps or result.baseline.win_rate is None or result.current.win_rate is None:
        return None
    filters = result.query.describe_filters()
    before, now = result.compare_period.label, result.period.label
    title = f"Why the win rate changed · {filters} · {before} to {now}"
    base, cur = 100 * result.baseline.win_rate, 100 * result.current.win_rate
    found = bool(result.findings)

    def draw(fig: Figure, ax) -> None:
        n = len(steps)
        ax.bar(0, base, width=0.6, color=NEUTRAL, zorder=2)
        ax.bar(n + 1, cur, width=0.6, color=NEUTRAL, zorder=2)
        level = base
        tops = [base]
        for k, (_, value) in enumerate(steps, start=1):
            color = DOWN if value < 0 else UP
            ax.bar(k, value, bottom=level, width=0.6, color=color, zorder=2)
            ax.hlines(level, k - 1 + 0.3, k - 0.3, colors=FAINT, lw=0.8, zorder=1)
            end = level + value
            ax.annotate(_pp_short(value), (k, max(level, end) if value >= 0 else min(level, end)),
                        xytext=(0, 3 if value >= 0 else -3), textcoords="offset points", ha="center",
                        va="bottom" if value >= 0 else "top", fontsize=7.5, color=color, fontweight="bold")
            level = end
            tops.append(level)
        ax.hlines(level, n + 0.3, n + 1 - 0.3, colors=FAINT, lw=0.8, zorder=1)
        for x, y, rate in ((0, base, result.baseline), (n + 1, cur, result.current)):
            ax.annotate(f"{pct(rate.win_rate)}\nn={num(rate.n)}", (x, y), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5, color=INK, linespacing=1.1)
        labels = [before] + [_wrap(_cut(label, MAX_TICK_CHARS), 14) for label, _ in steps] + [now]
        ax.set_xticks(range(n + 2))
        ax.set_xticklabels([_plain(t) for t in labels], fontsize=7.5)
        for tick in (ax.get_xticklabels()[0], ax.get_xticklabels()[-1]):
            tick.set_fontweight("bold")
        ax.set_xlim(-0.6, n + 1.6)
        ax.set_ylim(0, min(100.0, max(tops + [cur]) * 1.18 + 2))
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
        ax.set_ylabel("Win rate")
        ax.set_xlabel("Contributions to the change, percentage points" if found
                      else "Change split into rate and mix effects, percentage points")
        _style(ax, grid="y")
        verdict = "significant" if result.significant else "within noise"
        ax.text(0.5, 0.97, f"Change {pp(result.change_pp)}, {pval(result.p_value)} · {verdict}", transform=ax.transAxes,
                ha="center", va="top", fontsize=8, color=INK, fontweight="bold")

    if found:
        how = "steps: significant findings (Benjamini–Hochberg), then the rest of the change"
    else:
        how = f"no segment changed significantly: steps are the {steps[0][0]} and {steps[-1][0]} effects"
    censored = "right_censored" in getattr(result, "notes", [])
    caption = (f"Closed deals by closed date · {how} · contributions are rate + mix effects in pp of the overall "
               f"win rate{' · ' + CENSORED_CAPTION if censored else ''} · data as of {result.as_of}")
    png = _render(title, caption, draw)
    alt = _bridge_alt(result, steps)
    if censored:
        alt = _alt(f"{alt} Warning: the period is right-censored; read with care.")
    return Chart(png=png, filename="winrate-bridge.png", title=title, alt_text=alt,
                 key=chart_key(filters if result.query.filters else "", before, now))


def _bridge_alt(result, steps) -> str:
    verdict = "significant" if result.significant else "within noise"
    s1 = (f"Bridge chart of the win rate for {result.query.describe_filters()} from {pct(result.baseline.win_rate)} in "
          f"{result.compare_period.label} to {pct(result.current.win_rate)} in {result.period.label}: "
          f"{pp(result.change_pp)}, {pval(result.p_value)}, {verdict}.")
    s2 = "Steps: " + "; ".join(f"{label} {_pp_short(value)}" for label, value in steps) + "."
    return _alt(f"{s1} {s2} Data as of {result.as_of}.")


# --------------------------------------------------------------------------------------- drivers

def driver_rows(result) -> list[tuple[str, object]]:
    """(label, Driver) for the rows drawn, top first: significant ones, then by |effect|; at most 15."""
    ordered = sorted(result.drivers, key=lambda d: (not d.significant, -abs(d.effect_pp)))
    return [(_driver_label(d), d) for d in ordered[:MAX_DRIVER_ROWS]]


def _driver_label(d) -> str:
    return f"{dimlabel(d.feature)}: {d.level} vs {d.reference}"


def drivers_chart(result) -> Chart | None:
    """Each driver's average marginal effect with its 95% interval; significant ones coloured."""
    rows = driver_rows(result)
    if not rows:
        return None
    filters = result.query.describe_filters()
    title = f"What goes with winning · {filters}"

    def draw(fig: Figure, ax) -> None:
        ys = list(range(len(rows)))[::-1]
        lows = [d.ci_low_pp for _, d in rows]
        highs = [d.ci_high_pp for _, d in rows]
        lo, hi = min(min(lows), 0.0), max(max(highs), 0.0)
        span = max(hi - lo, 1.0)
        left, right = lo - 0.04 * span, hi + 0.16 * span
        ax.axvline(0, color=INK, lw=0.9, zorder=1)
        for y, (_, d) in zip(ys, rows):
            color = (UP if d.effect_pp > 0 else DOWN) if d.significant else FAINT
            ax.hlines(y, d.ci_low_pp, d.ci_high_pp, colors=color, lw=2.0 if d.significant else 1.4, zorder=2)
            ax.plot([d.effect_pp], [y], "o", ms=5.5 if d.significant else 4.5, color=color, zorder=3)
            ax.annotate(_pp_short(d.effect_pp), (d.ci_high_pp, y), xytext=(4, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=6.5, color=color if d.significant else MUTED)
        ax.set_yticks(ys)
        ax.set_yticklabels([_plain(_cut(label, MAX_TICK_CHARS)) for label, _ in rows], fontsize=7)
        for tick, (_, d) in zip(ax.get_yticklabels(), rows):
            tick.set_color(INK if d.significant else MUTED)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlim(left, right)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else f"{v:+.0f}".replace("-", MINUS)))
        ax.set_xlabel("Effect on win rate, pp (vs the most common level, other factors held fixed)")
        _style(ax, grid="x")

    total = len(result.drivers)
    shown = f" · showing the top {len(rows)} of {total} effects" if len(rows) < total else ""
    none = not any(d.significant for d in result.drivers)
    censored = "right_censored" in getattr(result, "notes", [])
    caption = (f"Logistic regression on {num(result.overall.n)} closed deals, {result.period.label} · average marginal "
               f"effects with 95% intervals · coloured: significant after Benjamini–Hochberg{shown} · associations, "
               f"not causes{' · ' + NO_DRIVERS_CAPTION if none else ''}{' · ' + CENSORED_CAPTION if censored else ''}"
               f" · data as of {result.as_of}")
    if none:
        title = f"{title} · no reliable drivers"
    png = _render(title, caption, draw)
    alt = _drivers_alt(result, rows)
    if none:
        alt = _alt(f"No reliable drivers in this data. {alt}")
    return Chart(png=png, filename="winrate-drivers.png", title=title, alt_text=alt, key=_query_key(result))


def _drivers_alt(result, rows) -> str:
    s1 = (f"Dot-and-whisker chart of {len(rows)} effects on the win rate for {result.query.describe_filters()} "
          f"({result.period.label}), each level against its factor's most common level, with 95% intervals.")
    significant = [(label, d) for label, d in rows if d.significant]
    if significant:
        listed = "; ".join(f"{label} {_pp_short(d.effect_pp)} ({_num(d.ci_low_pp)} to {_num(d.ci_high_pp)})"
                           for label, d in significant[:5])
        more = f" and {len(significant) - 5} more" if len(significant) > 5 else ""
        verb = "is" if len(significant) == 1 else "are"
        s2 = f"{len(significant)} of {len(result.drivers)} {verb} significant: {listed}{more}."
    else:
        label, d = rows[0]
        s2 = (f"None of the {len(result.drivers)} is significant after correction; the largest is {label} "
              f"{_pp_short(d.effect_pp)} ({_num(d.ci_low_pp)} to {_num(d.ci_high_pp)}).")
    return _alt(f"{s1} {s2} Data as of {result.as_of}.")


# -------------------------------------------------------------------------------------- pipeline

def pipeline_chart(result) -> Chart | None:
    """Expected bookings this quarter and next with their 90% intervals and, beside them, the backtest's
    calibration: predicted against won by decile, with the deals in each."""
    f = getattr(result, "forecast", None)
    if f is None or not f.by_quarter or f.expected_won_amount <= 0:
        return None
    rows = f.by_quarter
    bt = result.backtest
    bins = bt.calibration if bt is not None else []
    filters = result.query.describe_filters()
    title = f"Expected bookings this quarter and next · {filters}"

    def bars(ax) -> None:
        xs = list(range(len(rows)))
        values = [q.expected_won_amount for q in rows]
        ax.bar(xs, values, width=0.6, color=BAND, edgecolor=LINE, lw=0.8, zorder=2)
        if rows[0].low is not None:  # intervals withheld when the backtest contradicts them
            below = [max(q.expected_won_amount - q.low, 0.0) for q in rows]
            above = [max(q.high - q.expected_won_amount, 0.0) for q in rows]
            ax.errorbar(xs, values, yerr=[below, above], fmt="none", ecolor=INK, elinewidth=1.1, capsize=4, zorder=3)
        top = [q.high if q.high is not None else q.expected_won_amount for q in rows]
        for x, q, t in zip(xs, rows, top):
            ax.annotate(money(q.expected_won_amount), (x, t), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color=INK)
        ax.set_xticks(xs)
        ax.set_xticklabels([q.quarter for q in rows], fontsize=7.5)
        ax.set_ylim(0, max(top) * 1.15 or 1)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _plain(money(v))))
        ax.set_ylabel("Expected won amount")
        _style(ax, grid="y")

    def calibration(ax) -> None:
        predicted = [c.mean_probability for c in bins]
        observed = [c.observed.win_rate for c in bins]
        ax.plot([0, 1], [0, 1], color=FAINT, lw=0.8, zorder=1)
        ax.plot(predicted, observed, marker="o", ms=3.5, color=LINE, lw=1.0, zorder=2)
        for c in bins:
            ax.annotate(num(c.n), (c.mean_probability, c.observed.win_rate), xytext=(3, -8), textcoords="offset points",
                        fontsize=5.5, color=MUTED)
        top = max(predicted + observed + [0.1]) * 1.1
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("Predicted, by decile", fontsize=7)
        ax.set_ylabel("Won within the quarter", fontsize=7)
        _style(ax, grid="y")

    def draw(fig: Figure, ax) -> None:
        if not bins:
            bars(ax)
            return
        fig.delaxes(ax)
        left, right = fig.subplots(1, 2, width_ratios=(3, 2))
        bars(left)
        calibration(right)

    held = "intervals withheld" if rows[0].low is None else (
        "no backtest" if bt is None else f"90% intervals held in {bt.covered} of {bt.quarters} past quarters"
        + (f", widened x{f.interval_scale:.1f}" if bt.too_many_misses else ""))
    verdict = ("no backtest" if bt is None or bt.auc is None else
               f"backtest over {bt.quarters} past quarters: AUC {bt.auc:.2f} ({bt.auc_ci_low:.2f} to "
               f"{bt.auc_ci_high:.2f}), "
               + ("segments beat age and season alone" if result.skill else "probabilities from age and season alone"))

    def span(low, high):
        return "" if low is None else f" ({money(low)} to {money(high)})"

    caption = (f"{num(result.open_deals)} open deals, {money(result.open_amount)} · expected won amount this "
               f"quarter and next {money(f.expected_won_amount)}{span(f.low, f.high)} · whiskers: 90% intervals "
               f"(deal-level chance and model uncertainty), {held} · right: calibration over the backtests, deals "
               f"per decile · {verdict} · data as of {result.as_of}")
    listed = "; ".join(f"{q.quarter} {money(q.expected_won_amount)}{span(q.low, q.high)}" for q in rows)
    alt = _alt(f"Bar chart of the expected won amount of {num(result.open_deals)} open deals for {filters} this "
               f"quarter and next, with 90% intervals: {listed}; {held}. {verdict[0].upper() + verdict[1:]}. "
               f"Data as of "
               f"{result.as_of}.")
    return Chart(png=_render(title, caption, draw), filename="pipeline-forecast.png", title=title, alt_text=alt,
                 key=_query_key(result))


# --------------------------------------------------------------------------------------- drawing

def _render(title: str, caption: str, draw) -> bytes:
    """Draw on a fresh Agg figure with a title and a small caption strip, and return the PNG bytes."""
    with _LOCK:
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white", layout="constrained")
        FigureCanvasAgg(fig)
        lines = textwrap.wrap(caption, 150) or [""]
        strip = 0.018 + 0.034 * len(lines)
        fig.get_layout_engine().set(rect=(0, strip, 1, 1 - strip), w_pad=0.06, h_pad=0.04)
        fig.text(0.012, 0.012, _plain("\n".join(lines)), fontsize=6, color=MUTED, ha="left", va="bottom",
                 linespacing=1.3)
        fig.suptitle(_plain(_cut(title, MAX_TITLE_CHARS)), x=0.012, ha="left", fontsize=9.5, fontweight="bold", color=INK)
        ax = fig.add_subplot()
        draw(fig, ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
        return buf.getvalue()


def _style(ax, grid: str) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(FAINT)
    ax.tick_params(colors=MUTED, labelsize=7.5, length=3)
    ax.tick_params(axis="x", labelcolor=INK)
    ax.tick_params(axis="y", labelcolor=INK if grid == "x" else MUTED)
    ax.xaxis.label.set_size(8)
    ax.yaxis.label.set_size(8)
    ax.xaxis.label.set_color(MUTED)
    ax.yaxis.label.set_color(MUTED)
    ax.grid(axis=grid, color=GRID, lw=0.8, zorder=0)
    ax.set_axisbelow(True)


def _pp_short(value: float) -> str:
    """Signed pp with one decimal, two when it would otherwise read as zero."""
    return pp(value, 2 if 0 < abs(value) < 0.095 else 1)


def _num(value: float) -> str:
    return f"{value:.1f}".replace("-", MINUS)


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False)) or text


def _cut(text: str, limit: int) -> str:
    """A label from the data at most `limit` characters long (a 3,000-character CRM value would push
    the plot off the picture); the full label stays in the reply's text and the alt text."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain(text: str) -> str:
    """Escape dollar signs so data never switches matplotlib into mathtext."""
    return str(text).replace("$", r"\$")


def _alt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= ALT_TEXT_MAX else text[: ALT_TEXT_MAX - 1].rstrip() + "…"
