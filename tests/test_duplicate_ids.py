"""The duplicate-id check: a numpy fingerprint of each id's bytes, then an exact check of the rows whose
fingerprint repeats. It must agree with pandas' duplicated(keep="first") on every input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import insights.load as load
from insights.load import FINGERPRINT_MAX_BYTES, _duplicated, _fingerprints

TRICKY = [
    "D001", "D002", "D001",             # a repeat
    "D00", "D0010", "D001\x00", "D0",   # a shared prefix, longer and shorter; a trailing NUL byte
    "abcdefgh", "abcdefgi", "abcdefgh",  # the same length, differing only in the last byte
    "é", "e\u0301", "é", "日本", "日本語", "日本",  # unicode: composed vs decomposed are different ids
    "", "", " ", "D002",                # blanks (the loader flags them missing first) and a late repeat
    "x" * FINGERPRINT_MAX_BYTES, "x" * (FINGERPRINT_MAX_BYTES - 1) + "y", "x" * FINGERPRINT_MAX_BYTES,
]


def expected(values) -> np.ndarray:
    return pd.Series(list(values), dtype=object).duplicated(keep="first").to_numpy()


def arrow_series(values, chunk: int, large: bool = True) -> pd.Series:
    kind = pa.large_string() if large else pa.string()
    chunks = [pa.array(values[i:i + chunk], type=kind) for i in range(0, len(values), chunk)]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=kind)))


@pytest.mark.parametrize("dtype", ["str", object])
def test_agrees_with_pandas_on_tricky_ids(dtype):
    values = pd.Series(TRICKY, dtype=dtype)
    assert _fingerprints(values) is not None  # the fingerprint path, not the fallback
    np.testing.assert_array_equal(_duplicated(values), expected(TRICKY))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, len(TRICKY)])
@pytest.mark.parametrize("large", [True, False])
def test_chunked_arrow_arrays_and_slices(chunk, large):
    values = arrow_series(TRICKY, chunk, large)
    np.testing.assert_array_equal(_duplicated(values), expected(TRICKY))
    # a chunk that is a slice of a bigger buffer (a non-zero Arrow offset) reads only its own bytes
    sliced = pa.chunked_array([pa.array(["zz", *TRICKY, "zz"], type=pa.large_string() if large else pa.string())
                               .slice(1, len(TRICKY))])
    np.testing.assert_array_equal(_duplicated(pd.Series(pd.arrays.ArrowStringArray(sliced))), expected(TRICKY))


@pytest.mark.parametrize("tail", [0, 200])  # few ids (pandas decides) and many unique ones (fingerprints)
@pytest.mark.parametrize("long", [False, True])  # long ids: the dictionary-encoding fallback
def test_nulls_are_one_value_as_in_pandas(tail, long):
    values = [v and v * (FINGERPRINT_MAX_BYTES + 1 if long else 1) for v in ["a", None, "b", None, "a", ""]]
    values += [f"u{i}" for i in range(tail)]
    series = pd.Series(values, dtype=object)
    np.testing.assert_array_equal(_duplicated(series), series.duplicated(keep="first").to_numpy())
    np.testing.assert_array_equal(_duplicated(arrow_series(values, 2))[:6], [False, False, False, True, True, False])


def test_equal_ids_have_equal_fingerprints_and_tricky_distinct_ones_differ():
    by_chunks = _fingerprints(arrow_series(TRICKY, 3))
    whole = _fingerprints(pd.Series(TRICKY, dtype=object))
    np.testing.assert_array_equal(by_chunks, whole)
    distinct = dict(zip(TRICKY, whole))
    assert len(set(distinct.values())) == len(distinct)  # no collision among these
    assert _fingerprints(pd.Series(["x" * (FINGERPRINT_MAX_BYTES + 1)])) is None  # long ids: the fallback


def test_collisions_are_resolved_exactly(monkeypatch):
    """Fingerprints made to collide a lot (each kept modulo 5): the exact check still decides."""
    real = load._fingerprints
    monkeypatch.setattr(load, "_fingerprints", lambda v: None if (f := real(v)) is None else f % np.uint64(5))
    rng = np.random.default_rng(3)
    values = [f"D{k}" for k in rng.integers(0, 300, 2000)] + TRICKY
    np.testing.assert_array_equal(_duplicated(pd.Series(values, dtype="str")), expected(values))


def test_random_ids_of_mixed_lengths_and_fallbacks():
    rng = np.random.default_rng(11)
    values = [f"{chr(65 + k % 3)}{k}" for k in rng.integers(0, 50_000, 40_000)]
    np.testing.assert_array_equal(_duplicated(arrow_series(values, 9_999)), expected(values))
    long = [v * 20 for v in values[:500]]  # longer than FINGERPRINT_MAX_BYTES: dictionary encoding
    np.testing.assert_array_equal(_duplicated(pd.Series(long, dtype="str")), expected(long))
    numbers = pd.Series(rng.integers(0, 100, 500))  # not text at all
    np.testing.assert_array_equal(_duplicated(numbers), numbers.duplicated(keep="first").to_numpy())
    assert len(_duplicated(pd.Series([], dtype="str"))) == 0
    np.testing.assert_array_equal(_duplicated(pd.Series(["only"], dtype="str")), [False])


@pytest.mark.parametrize("odd", [" D1", "D1 ", "\tD1", "D1\n", "\u00a0D1", "D1\u3000", "D1\x1c", "\x85D1", "é ", "", None])
@pytest.mark.parametrize("dtype", ["str", object])
def test_text_is_stripped_exactly_when_it_needs_to_be(odd, dtype):
    """Ids are only stripped when some first or last byte could be whitespace; the result is the same."""
    values = pd.Series(["D0", "x", odd] * 3, dtype=dtype)  # "", None: no strip needed, the fast path
    want = values.astype(str).where(values.notna(), "").str.strip()
    got = load._as_text(values)
    assert got.tolist() == want.tolist() and got.dtype == want.dtype
    assert load._is_trimmed(pd.Series(["D0", "x", "a b", "", "~!"], dtype="str"))
    assert not load._is_trimmed(pd.Series(["D0", odd], dtype="str")) or (odd or "").strip() == (odd or "")
