"""The columnar loader's shortcuts give exactly what the plain pandas expressions gave.

The duplicate-id check (a numpy fingerprint of each id's bytes, then an exact check of the rows whose
fingerprint repeats) agrees with pandas' duplicated(keep="first") on every input; text is stripped
when it has to be; cycles are whole days rounded down; a caller's frame is never changed; a Parquet
file with bad rows loads like the same table handed to from_table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from insights.load import duplicates, from_table, load_deals, typed
from insights.load.duplicates import FINGERPRINT_MAX_BYTES, duplicated, fingerprints
from insights.load.parse import days_between
from insights.synthetic import DealSpec, generate_deals

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
    assert fingerprints(values) is not None  # the fingerprint path, not the fallback
    np.testing.assert_array_equal(duplicated(values), expected(TRICKY))


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, len(TRICKY)])
@pytest.mark.parametrize("large", [True, False])
def test_chunked_arrow_arrays_and_slices(chunk, large):
    values = arrow_series(TRICKY, chunk, large)
    np.testing.assert_array_equal(duplicated(values), expected(TRICKY))
    # a chunk that is a slice of a bigger buffer (a non-zero Arrow offset) reads only its own bytes
    sliced = pa.chunked_array([pa.array(["zz", *TRICKY, "zz"], type=pa.large_string() if large else pa.string())
                               .slice(1, len(TRICKY))])
    np.testing.assert_array_equal(duplicated(pd.Series(pd.arrays.ArrowStringArray(sliced))), expected(TRICKY))


@pytest.mark.parametrize("tail", [0, 200])  # few ids (pandas decides) and many unique ones (fingerprints)
@pytest.mark.parametrize("long", [False, True])  # long ids: the dictionary-encoding fallback
def test_nulls_are_one_value_as_in_pandas(tail, long):
    values = [v and v * (FINGERPRINT_MAX_BYTES + 1 if long else 1) for v in ["a", None, "b", None, "a", ""]]
    values += [f"u{i}" for i in range(tail)]
    series = pd.Series(values, dtype=object)
    np.testing.assert_array_equal(duplicated(series), series.duplicated(keep="first").to_numpy())
    np.testing.assert_array_equal(duplicated(arrow_series(values, 2))[:6], [False, False, False, True, True, False])


def test_equal_ids_have_equal_fingerprints_and_tricky_distinct_ones_differ():
    by_chunks = fingerprints(arrow_series(TRICKY, 3))
    whole = fingerprints(pd.Series(TRICKY, dtype=object))
    np.testing.assert_array_equal(by_chunks, whole)
    distinct = dict(zip(TRICKY, whole))
    assert len(set(distinct.values())) == len(distinct)  # no collision among these
    assert fingerprints(pd.Series(["x" * (FINGERPRINT_MAX_BYTES + 1)])) is None  # long ids: the fallback


def test_collisions_are_resolved_exactly(monkeypatch):
    """Fingerprints made to collide a lot (each kept modulo 5): the exact check still decides."""
    real = duplicates.fingerprints
    monkeypatch.setattr(duplicates, "fingerprints", lambda v: None if (f := real(v)) is None else f % np.uint64(5))
    rng = np.random.default_rng(3)
    values = [f"D{k}" for k in rng.integers(0, 300, 2000)] + TRICKY
    np.testing.assert_array_equal(duplicated(pd.Series(values, dtype="str")), expected(values))


def test_random_ids_of_mixed_lengths_and_fallbacks():
    rng = np.random.default_rng(11)
    values = [f"{chr(65 + k % 3)}{k}" for k in rng.integers(0, 50_000, 40_000)]
    np.testing.assert_array_equal(duplicated(arrow_series(values, 9_999)), expected(values))
    long = [v * 20 for v in values[:500]]  # longer than FINGERPRINT_MAX_BYTES: dictionary encoding
    np.testing.assert_array_equal(duplicated(pd.Series(long, dtype="str")), expected(long))
    numbers = pd.Series(rng.integers(0, 100, 500))  # not text at all
    np.testing.assert_array_equal(duplicated(numbers), numbers.duplicated(keep="first").to_numpy())
    assert len(duplicated(pd.Series([], dtype="str"))) == 0
    np.testing.assert_array_equal(duplicated(pd.Series(["only"], dtype="str")), [False])


@pytest.mark.parametrize("odd", [" D1", "D1 ", "\tD1", "D1\n", "\u00a0D1", "D1\u3000", "D1\x1c", "\x85D1", "é ", "", None])
@pytest.mark.parametrize("dtype", ["str", object])
def test_text_is_stripped_exactly_when_it_needs_to_be(odd, dtype):
    """Ids are only stripped when some first or last byte could be whitespace; the result is the same."""
    values = pd.Series(["D0", "x", odd] * 3, dtype=dtype)  # "", None: no strip needed, the fast path
    want = values.astype(str).where(values.notna(), "").str.strip()
    got = typed.as_text(values)
    assert got.tolist() == want.tolist() and got.dtype == want.dtype
    assert typed.is_trimmed(pd.Series(["D0", "x", "a b", "", "~!"], dtype="str"))
    assert not typed.is_trimmed(pd.Series(["D0", odd], dtype="str")) or (odd or "").strip() == (odd or "")


@pytest.mark.parametrize("units", [("us", "us"), ("s", "ms"), ("ns", "us")])
@pytest.mark.parametrize("zone", [None, "UTC"])
def test_cycle_days_round_down_like_pandas(units, zone):
    rng = np.random.default_rng(5)
    base = np.datetime64("2000-01-01T00:00:00", "s")
    created = pd.Series(base + rng.integers(-10**9, 10**9, 500).astype("timedelta64[s]")).astype(f"datetime64[{units[0]}]")
    closed = pd.Series(created.to_numpy() + rng.integers(-3 * 86400, 40 * 86400, 500).astype("timedelta64[s]"))
    closed = closed.astype(f"datetime64[{units[1]}]")
    created[::7], closed[::5] = pd.NaT, pd.NaT
    if zone:  # a dates.format with %z gives zoned dates: the pandas path
        created, closed = created.dt.tz_localize(zone), closed.dt.tz_localize(zone)
    want = (closed - created).dt.days.astype(float).to_numpy()
    np.testing.assert_array_equal(days_between(created, closed), want)
    assert np.isnan(want).any() and (want < 0).any()  # missing dates and closes before creation are in it


def test_from_table_leaves_the_callers_frame_alone():
    frame = generate_deals(DealSpec(n_deals=500, seed=4))
    frame.loc[3, "deal_id"] = frame.loc[2, "deal_id"]
    frame.columns = [f" {c} " if c == "region" else c for c in frame.columns]
    before = frame.copy(deep=True)
    snapshot = from_table(frame)
    assert snapshot.report.set_aside == {"duplicate_deal_id": 1}
    pd.testing.assert_frame_equal(frame, before)


def test_a_parquet_file_with_bad_rows_loads_like_its_table(tmp_path):
    """Typed columns (dates, numbers, dictionaries) with every kind of bad value, read column by column
    and consumed: the same deals, open deals and set-aside rows (original values) as from_table gives."""
    frame = generate_deals(DealSpec(n_deals=3000, seed=8))
    frame["created_date"] = pd.to_datetime(frame["created_date"])
    frame["closed_date"] = pd.to_datetime(frame["closed_date"].replace("", None))
    frame["deal_amount"] = frame["deal_amount"].astype(float)
    frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"].replace("", None)).astype(float)
    frame.loc[5, "deal_id"] = frame.loc[4, "deal_id"]
    frame.loc[6, "deal_id"] = ""
    frame.loc[7, "created_date"] = pd.NaT
    frame.loc[8, "created_date"] = pd.Timestamp("1850-01-01")
    frame.loc[9, "closed_date"] = pd.Timestamp("2098-02-03 14:00")
    frame.loc[10, "deal_amount"] = np.nan
    frame.loc[11, "deal_amount"] = -1.0
    frame.loc[12, "sales_cycle_days"] = -3.0
    frame.loc[13, "region"] = ""
    frame.loc[14, "outcome"] = "maybe"
    frame.loc[15, "deal_id"] = " D-padded "
    frame.loc[16, "created_date"] = frame.loc[16, "created_date"] + pd.Timedelta(hours=30)
    path = tmp_path / "deals.parquet"
    frame.to_parquet(path, index=False, row_group_size=700)
    loaded, direct = load_deals(path), from_table(pd.read_parquet(path))
    assert loaded.report.set_aside == direct.report.set_aside and len(loaded.report.set_aside) == 9  # nine reasons
    for part in ("deals", "open_deals"):
        pd.testing.assert_frame_equal(getattr(loaded, part), getattr(direct, part))
    # set-aside rows keep the file's values: Parquet dictionaries stay categoricals, so compare the values
    pd.testing.assert_frame_equal(loaded.rejected.astype(object), direct.rejected.astype(object))
    assert loaded.rejected[["row", "reason"]].values.tolist() == [  # file lines: index + 2
        [7, "duplicate_deal_id"], [8, "missing_deal_id"], [9, "unparseable_created_date"],
        [10, "unparseable_created_date"], [11, "future_closed_date"], [12, "missing_amount"],
        [13, "negative_amount"], [14, "bad_cycle_days"], [15, "missing_segment"], [16, "unknown_outcome"]]
    assert loaded.rejected["deal_id"].iloc[0] == frame.loc[4, "deal_id"]  # the original values
    assert (loaded.deals["deal_id"] == "D-padded").sum() + (loaded.open_deals["deal_id"] == "D-padded").sum() == 1


def test_months_looked_up_from_day_numbers_match_numpys_calendar():
    from insights.snapshot import _months_of

    days = np.random.default_rng(0).integers(-40_000, 60_000, 200_000).astype(np.int32)  # 1860 to 2134
    days[:3] = (-1, 0, 59)  # 1969-12-31, 1970-01-01, 1970-03-01
    want = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    assert _months_of(days).tolist() == want.tolist()
    assert _months_of(np.zeros(0, dtype=np.int32)).tolist() == []
