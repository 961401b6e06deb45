"""The weekly Sales Health digest's text, composed from the analyses. Pure: no Slack, no state;
`bot.clock.digest` posts it once per channel per week."""
from __future__ import annotations

from insights.actions import from_drivers, from_reps, from_why, rank
from insights.drivers import drivers
from insights.health import health
from insights.counting import NeedsRows
from insights.pipeline import open_pipeline
from insights.query import Query
from insights.reps import rep_performance
from insights.risk import risk
from insights.select import FOCUS, period_mask
from insights.snapshot import Snapshot
from insights.trend import trend
from insights.why import explain_change
from insights.winrate import amount_rate

from bot.core.render import render


def digest_text(snapshot: Snapshot, data_error: str | None = None, reps: bool = True) -> tuple[str, object]:
    """The digest as text (mrkdwn) and the trend result its chart is drawn from. `reps=False` (a
    preview for someone outside REPS_USERS) leaves out the reps section and the actions naming reps."""
    # every section answers about the same period: the period in question (insights/focus.py)
    everything, in_question = Query(), Query(period=FOCUS)
    headline = trend(snapshot, everything)
    why = explain_change(snapshot, everything)
    risks = risk(snapshot, everything)
    drivers_result = drivers(snapshot, in_question)
    reps = rep_performance(snapshot, in_question) if reps and "sales_rep_id" in snapshot.dimensions else None
    actions = rank(from_why(snapshot, why) + risks.actions + (from_reps(snapshot, reps) if reps else [])
                   + from_drivers(snapshot, drivers_result))
    try:
        pipeline = open_pipeline(snapshot, everything)
    except NeedsRows as exc:  # a source whose open deals cannot be read one by one: said in its paragraph
        pipeline, pipeline_missing = None, str(exc)
    else:
        pipeline_missing = None
    text = render("text/digest.j2", t=headline, pipeline=pipeline, pipeline_missing=pipeline_missing, why=why, risk=risks, drivers=drivers_result, reps=reps,
                  actions=actions, h=health(snapshot, everything), data_error=data_error,
                  amount=None if snapshot.report.lost_amounts_zeroed else amount_rate(snapshot, period_mask(snapshot, why.period)),
                  report=snapshot.report)
    return text, headline
