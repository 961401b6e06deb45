"""The statistics every answer leans on: intervals, tests, detectable effects, FDR control."""
from __future__ import annotations

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054  # two-sided 95%
ALPHA = 0.05


def wilson_interval(won, n, z: float = Z95):
    """Wilson score interval for won/n; vectorised. Returns (low, high); NaN where n == 0.

    Wilson rather than the normal approximation because segment counts are often small and
    rates near 0 or 1, where the naive interval escapes [0, 1] and under-covers.
    """
    won = np.asarray(won, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = won / n
        z2 = z * z
        denom = 1.0 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def two_proportion_test(won1, n1, won2, n2):
    """Two-sided test that rate 1 (current) equals rate 2 (baseline); vectorised.

    Uses the pooled z-test when every expected cell count is at least 5 and Fisher's exact
    test otherwise, so small segments get an exact p-value instead of a wild approximation.
    Returns (p_value array, name of the test used per element).
    """
    won1, n1, won2, n2 = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (won1, n1, won2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (won1 + won2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (won1 / n1 - won2 / n2) / se
        p = 2 * sps.norm.sf(np.abs(z))
    p = np.where(se > 0, p, 1.0)
    expected_min = np.minimum.reduce([n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)])
    small = expected_min < 5
    tests = np.where(small, "fisher_exact", "two_proportion_z")
    for i in np.flatnonzero(small & (n1 > 0) & (n2 > 0)):
        table = [[won1[i], n1[i] - won1[i]], [won2[i], n2[i] - won2[i]]]
        p[i] = sps.fisher_exact(np.asarray(table, dtype=np.int64))[1]
    p = np.where((n1 > 0) & (n2 > 0), p, np.nan)
    return p, tests


def log_odds(won, n):
    """Log-odds of won/n and its variance (Woolf); vectorised. 0.5 is added to the wins and the
    losses, so that a count with no wins or no losses still has a finite variance."""
    a = np.asarray(won, dtype=float) + 0.5
    b = np.asarray(n, dtype=float) - np.asarray(won, dtype=float) + 0.5
    return np.log(a / b), 1 / a + 1 / b


def minimum_detectable_change(rate, n1, n2, alpha: float = ALPHA, power: float = 0.8):
    """Smallest true change in rate (as a fraction) a two-sided test detects with this power."""
    if not n1 or not n2 or rate is None:
        return None
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return float(z * np.sqrt(rate * (1 - rate) * (1 / n1 + 1 / n2)))


def benjamini_hochberg(p_values, alpha: float = ALPHA):
    """Benjamini-Hochberg step-up: (adjusted p-values, significant mask). NaNs are not tested."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    m = int(tested.sum())
    if m == 0:
        return adjusted, np.zeros(p.shape, dtype=bool)
    pt = p[tested]
    order = np.argsort(pt)
    ranked = pt[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(ranked, 1.0)
    adjusted[tested] = adj
    return adjusted, np.where(tested, adjusted <= alpha, False)


def simes(p_values) -> float:
    """Simes' combined p-value for "every one of these nulls is true": min over i of m p_(i) / i.

    Valid for independent or positively dependent tests, and consistent with BH: BH at level q
    rejects something among these p-values exactly when their Simes p-value is at most q."""
    p = np.sort(np.asarray(p_values, dtype=float))
    p = p[~np.isnan(p)]
    if not len(p):
        return float("nan")
    return float(min(1.0, (p * len(p) / np.arange(1, len(p) + 1)).min()))


def mann_whitney_from_counts(a_counts, b_counts):
    """Two-sided Mann-Whitney U test from histograms of integer values (same bins); O(bins).

    Equivalent to the rank test on the raw values (normal approximation with tie correction),
    but its cost does not grow with the number of deals.
    """
    a = np.asarray(a_counts, dtype=float)
    b = np.asarray(b_counts, dtype=float)
    n1, n2 = a.sum(), b.sum()
    if n1 == 0 or n2 == 0:
        return None
    below_b = np.concatenate(([0.0], np.cumsum(b)[:-1]))
    u = float((a * (below_b + 0.5 * b)).sum())
    ties = a + b
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - (ties ** 3 - ties).sum() / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2) / np.sqrt(variance)
    return float(2 * sps.norm.sf(abs(z)))
