"""The statistics primitives agree with statsmodels and behave at their edges."""
import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from insights.stats import (
    benjamini_hochberg,
    mann_whitney_from_counts,
    minimum_detectable_change,
    two_proportion_test,
    wilson_interval,
)


@pytest.mark.parametrize("won,n", [(0, 10), (3, 10), (10, 10), (421, 1177), (1, 2), (5000, 1_000_000)])
def test_wilson_interval_matches_statsmodels(won, n):
    low, high = wilson_interval(won, n)
    ref_low, ref_high = proportion_confint(won, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)


def test_wilson_interval_of_nothing_is_undefined():
    low, high = wilson_interval([0, 5], [0, 10])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.5 < high[1] < 1


def test_two_proportion_test_matches_statsmodels_z_test():
    p, tests = two_proportion_test(66, 315, 486, 1139)
    _, ref = proportions_ztest([66, 486], [315, 1139])
    assert p[0] == pytest.approx(ref, rel=1e-9)
    assert tests[0] == "two_proportion_z"


def test_small_samples_use_fishers_exact_test():
    p, tests = two_proportion_test(1, 6, 5, 6)
    assert tests[0] == "fisher_exact"
    assert p[0] == pytest.approx(0.0800, abs=1e-3)  # scipy.stats.fisher_exact([[1,5],[5,1]])


def test_benjamini_hochberg_matches_statsmodels():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.002, size=5)])
    adjusted, significant = benjamini_hochberg(p)
    ref_sig, ref_adj, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(adjusted, ref_adj, rtol=1e-12)
    assert (significant == ref_sig).all()
    assert significant.sum() >= 5


def test_benjamini_hochberg_skips_untested_entries():
    adjusted, significant = benjamini_hochberg([0.01, np.nan, 0.04])
    assert np.isnan(adjusted[1]) and not significant[1]
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.04])


def test_minimum_detectable_change_has_the_promised_power():
    """A true change equal to the MDE is detected in about 80% of simulated samples."""
    rate, n1, n2 = 0.4, 400, 1600
    mde = minimum_detectable_change(rate, n1, n2)
    rng = np.random.default_rng(5)
    won1 = rng.binomial(n1, rate - mde, size=4000)
    won2 = rng.binomial(n2, rate, size=4000)
    p, _ = two_proportion_test(won1, np.full(4000, n1), won2, np.full(4000, n2))
    assert 0.76 < (p < 0.05).mean() < 0.84


def test_mann_whitney_from_histograms_equals_the_rank_test():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(8)
    a, b = rng.integers(0, 120, 700), rng.integers(10, 140, 500)
    p = mann_whitney_from_counts(np.bincount(a, minlength=140), np.bincount(b, minlength=140))
    ref = mannwhitneyu(a, b, method="asymptotic", use_continuity=False).pvalue
    assert p == pytest.approx(ref, rel=1e-9)
    assert mann_whitney_from_counts(np.zeros(5), np.ones(5)) is None
