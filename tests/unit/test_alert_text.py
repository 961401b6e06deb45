"""The alert text's layout: the *Owner* line starts its own line whichever verdict the drop carries."""
import pytest

from bot.clock.alerting import alert_text
from insights.alerts import Finding
from insights.results import Rate


@pytest.mark.parametrize("details, verdict", [
    ({"baseline_label": "the 4 quarters before", "tested": 12}, "after hierarchical correction across 12 segments)."),
    ({"baseline_label": "the 4 quarters before", "tested": 0}, "n=300 against 1,200; 95% CI"),
    ({"baseline_label": "the 4 quarters before", "tested": 9, "story": "single"},
     "No single segment carries it with enough evidence to name (9 segments tested)."),
])
def test_a_drop_alert_puts_owner_and_do_on_their_own_line(details, verdict):
    finding = Finding(rule_id=1, kind="drop", segment={"region": "Europe"}, label="Europe", period="2025Q2",
                      value=0.2, rate=Rate.of(60, 300), baseline=Rate.of(360, 1200), change_pp=-10.0, p_value=0.0004,
                      open_deals=7, open_amount=125000.0, details=details)
    text = alert_text(finding)
    assert verdict in text
    lines = text.strip().splitlines()
    assert len(lines) == 3, text
    assert lines[0].startswith(":rotating_light: *Europe win rate dropped to 20.0%* in 2025Q2")
    assert lines[1].startswith("*Owner*: Europe sales lead. *Do*: review the Europe deals lost in 2025Q2")
    assert lines[2] == "_Alert drop · 2025Q2 · rule 1 · data as of the latest refresh_"
