"""The funnel's overall median from counted cycle lengths (the engine path) equals np.nanmedian of the deals."""
from __future__ import annotations

import numpy as np

from insights.funnel import _median


def test_the_median_of_counted_values_is_the_median_of_the_values_repeated():
    rng = np.random.default_rng(7)
    for _ in range(500):
        days = np.round(rng.random(rng.integers(1, 9)) * 200, int(rng.integers(0, 3)))
        days[rng.random(len(days)) < 0.15] = np.nan
        weights = rng.integers(1, 6, size=len(days))
        repeated = np.repeat(days, weights)
        expected = np.nanmedian(repeated) if (~np.isnan(repeated)).any() else np.nan
        got = _median(days, weights)
        assert (np.isnan(expected) and np.isnan(got)) or got == expected


def test_an_even_count_averages_the_two_middle_values():
    assert _median(np.array([30.0, 10.0, 20.0]), np.array([1, 2, 1])) == 15.0  # 10 10 | 20 30
    assert _median(np.array([30.0, 10.0]), np.array([3, 2])) == 30.0  # 10 10 30 30 30
    assert np.isnan(_median(np.array([np.nan]), np.array([4])))
