"""Charts: valid PNGs of the agreed size, alt text with the key numbers, a bridge that closes."""
from __future__ import annotations

import dataclasses
import io
import math

import matplotlib.image as mpimg
import pytest

from bot.core.charts import (
    EVERYTHING_ELSE, MAX_DRIVER_ROWS, Chart, bridge_steps, chart_for, driver_rows,
)
from bot.core.render import pct, pp
from insights.drivers import drivers
from insights.health import health
from insights.periods import PeriodSpec
from insights.query import Query
from insights.trend import trend
from insights.why import explain_change
from insights.winrate import win_rate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIZE = (450, 800)  # rows, columns


@pytest.fixture(scope="module")
def trend_result(demo):
    return trend(demo, Query())


@pytest.fixture(scope="module")
def why_result(demo):
    return explain_change(demo, Query())


@pytest.fixture(scope="module")
def why_noise(noise):
    return explain_change(noise, Query())


@pytest.fixture(scope="module")
def drivers_result(demo):
    return drivers(demo, Query())


def assert_png(chart: Chart, filename: str) -> None:
    assert isinstance(chart, Chart)
    assert chart.png.startswith(PNG_SIGNATURE)
    image = mpimg.imread(io.BytesIO(chart.png), format="png")
    assert image.shape[:2] == SIZE
    assert image.std() > 0.05  # something was drawn
    assert chart.filename == filename
    assert chart.title
    assert 0 < len(chart.alt_text) <= 2000
    assert "\n" not in chart.alt_text


def test_trend_chart(trend_result):
    r = trend_result
    assert r.tested_period and r.change is not None
    chart = chart_for(r)
    assert_png(chart, "winrate-trend.png")
    tested = next(p for p in r.points if p.label == r.tested_period)
    assert r.tested_period in chart.alt_text
    assert pct(tested.win_rate) in chart.alt_text
    assert pct(r.change.baseline.win_rate) in chart.alt_text
    assert pp(r.change.change_pp) in chart.alt_text
    assert "drop" in chart.alt_text
    assert str(r.as_of) in chart.alt_text
    assert r.grain in chart.title


def test_trend_chart_without_a_test(demo):
    r = trend(demo, Query(period=PeriodSpec("last_days", (2,), "last 2 days")))
    assert r.change is None and r.points
    chart = chart_for(r)
    assert_png(chart, "winrate-trend.png")
    assert pct(r.points[-1].win_rate) in chart.alt_text
    assert "no period was tested" in chart.alt_text


def test_trend_without_points_has_no_chart(trend_result):
    assert chart_for(dataclasses.replace(trend_result, points=[])) is None


def test_bridge_steps_close_with_findings(why_result):
    r = why_result
    assert r.findings == ["APAC"]
    steps = bridge_steps(r)
    assert [label for label, _ in steps] == ["APAC", EVERYTHING_ELSE]
    apac = next(c for c in r.contributors if c.label == "APAC")
    assert steps[0][1] == apac.contribution_pp
    assert math.fsum(v for _, v in steps) == pytest.approx(r.change_pp, abs=1e-9)
    # the bars are the rounded rates: the bridge closes on them to within their rounding
    assert math.fsum(v for _, v in steps) == pytest.approx(100 * (r.current.win_rate - r.baseline.win_rate), abs=0.01)


def test_bridge_steps_without_findings_use_region_rate_and_mix(why_noise):
    r = why_noise
    assert r.change_pp is not None and not r.findings
    region = next(d for d in r.dimensions if d.dimension == "region")
    steps = bridge_steps(r)
    assert len(steps) == 2
    assert steps[0][1] == region.rate_effect_pp
    assert steps[1][1] == pytest.approx(region.mix_effect_pp, abs=1e-3)
    assert math.fsum(v for _, v in steps) == pytest.approx(r.change_pp, abs=1e-9)


def test_bridge_steps_fall_back_to_the_first_dimension(why_noise):
    r = dataclasses.replace(why_noise, dimensions=[d for d in why_noise.dimensions if d.dimension != "region"])
    steps = bridge_steps(r)
    first = r.dimensions[0]
    assert steps[0][1] == first.rate_effect_pp
    assert math.fsum(v for _, v in steps) == pytest.approx(r.change_pp, abs=1e-9)


def test_bridge_chart(why_result):
    r = why_result
    chart = chart_for(r)
    assert_png(chart, "winrate-bridge.png")
    for text in (pct(r.baseline.win_rate), pct(r.current.win_rate), pp(r.change_pp), "APAC",
                 r.period.label, r.compare_period.label):
        assert text in chart.alt_text


def test_bridge_chart_without_findings(why_noise):
    chart = chart_for(why_noise)
    assert_png(chart, "winrate-bridge.png")
    assert "mix" in chart.alt_text and "within noise" in chart.alt_text


def test_why_with_too_few_deals_has_no_chart(demo):
    r = explain_change(demo, Query(period=PeriodSpec("last_days", (1,), "last 1 day")))
    assert r.change_pp is None
    assert bridge_steps(r) == []
    assert chart_for(r) is None


def test_driver_rows_cap_and_order(drivers_result):
    r = drivers_result
    assert len(r.drivers) > MAX_DRIVER_ROWS
    rows = driver_rows(r)
    assert len(rows) == MAX_DRIVER_ROWS == 15
    flags = [d.significant for _, d in rows]
    assert flags == sorted(flags, reverse=True)  # significant first
    for group in (True, False):
        sizes = [abs(d.effect_pp) for _, d in rows if d.significant == group]
        assert sizes == sorted(sizes, reverse=True)
    assert set(d for _, d in rows if d.significant) == set(d for d in r.drivers if d.significant)
    referral = next(label for label, d in rows if d.feature == "lead_source" and d.level == "Referral")
    assert referral == "lead source: Referral vs Inbound"


def test_drivers_chart(drivers_result):
    r = drivers_result
    chart = chart_for(r)
    assert_png(chart, "winrate-drivers.png")
    top = max((d for d in r.drivers if d.significant), key=lambda d: abs(d.effect_pp))
    assert pp(top.effect_pp) in chart.alt_text
    assert "lead source: Referral vs Inbound" in chart.alt_text


def test_drivers_without_drivers_has_no_chart(drivers_result):
    assert chart_for(dataclasses.replace(drivers_result, drivers=[])) is None


def test_other_commands_have_no_chart(demo):
    assert chart_for(win_rate(demo, Query())) is None
    assert chart_for(health(demo, Query())) is None


def test_a_three_thousand_character_label_keeps_the_drivers_chart_laid_out():
    import warnings

    from insights.load import from_table
    from insights.synthetic import demo_spec, generate_deals

    frame = generate_deals(demo_spec())
    frame["industry"] = frame["industry"].replace({"SaaS": "Software as a service " * 140})
    snapshot = from_table(frame, source="a CRM with a long label")
    result = drivers(snapshot, Query())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart = chart_for(result)
    assert not [w for w in caught if "constrained_layout not applied" in str(w.message)]
    assert mpimg.imread(io.BytesIO(chart.png)).shape[:2] == SIZE
