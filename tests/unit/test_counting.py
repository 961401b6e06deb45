"""The seam between the analyses and the engine (insights/counting.py): percentiles from counted values equal
numpy's on the values themselves, and Subsets combine as boolean masks do."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from insights.counting import NeedsRows, Subset, Window, percentile_of_counts


@pytest.mark.parametrize("q", [0, 10, 25, 50, 75, 80, 99.5, 100])
def test_a_percentile_of_counted_values_is_numpys_on_the_values(q):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.integers(1, 400, 5_001), rng.normal(90, 30, 777).round(1)])
    distinct, counts = np.unique(values, return_counts=True)
    assert percentile_of_counts(distinct, counts, q) == float(np.percentile(values, q))
    assert percentile_of_counts(np.array([]), np.array([], dtype=int), q) is None


def test_subsets_combine_as_masks_do():
    q1, q2 = Window(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), Window(dt.date(2024, 3, 1), dt.date(2024, 6, 30))
    a = Subset(None, (("region", ("APAC", "EMEA")),), q1)
    b = Subset(None, (("region", ("EMEA",)), ("industry", ("SaaS",))), q2)
    both = a & b
    assert dict(both.filters) == {"region": ("EMEA",), "industry": ("SaaS",)}
    assert both.window == Window(dt.date(2024, 3, 1), dt.date(2024, 3, 31))
    cohort = Subset(None, (), Window(dt.date(2024, 1, 1), dt.date(2024, 3, 31), "created", 90))
    with pytest.raises(NeedsRows):
        a & cohort  # closed and created dates at once: not one window
    with pytest.raises(NeedsRows):
        a & Subset(None, (), None, open=True)  # open and closed deals are never one selection
