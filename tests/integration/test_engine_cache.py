"""The engine's on-disk cache (insights/engine/cache.py): a new process on unchanged data reuses the last
refresh's validated store and query results; changed data, another day or no cache count afresh."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from insights.engine import DealEngine, Window
from insights.synthetic import demo_spec, generate_deals

QUARTERS = [Window(dt.date(2024, 1, 1), dt.date(2024, 3, 31)), Window(dt.date(2023, 1, 1), dt.date(2023, 12, 31))]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("DEALS_ENGINE_CACHE", str(folder))
    return folder


def deals(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    frame = generate_deals(demo_spec(n_deals=n, seed=seed))
    frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"], errors="coerce")
    for column in ("created_date", "closed_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def same_report(a, b) -> None:
    skip = {"loaded_at", "load_seconds"}
    assert {k: v for k, v in dataclasses.asdict(a).items() if k not in skip} == \
        {k: v for k, v in dataclasses.asdict(b).items() if k not in skip}


def same_cells(a, b) -> None:
    assert a.dimensions == b.dimensions
    for name in ("n", "won", "amount", "group"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    for d in a.dimensions:
        assert np.array_equal(a.codes[d], b.codes[d])


def test_a_new_engine_on_an_unchanged_file_runs_no_query_and_answers_the_same(tmp_path, cache):
    path = tmp_path / "deals.parquet"
    deals().to_parquet(path, index=False)
    first = DealEngine.of_file(path)
    report, cells = first.report, first.cells(QUARTERS)
    assert len(first.query_seconds) >= 4 and cells.n.sum() > 1000
    stores = list(cache.glob("*/store-*.duckdb"))
    assert len(stores) == 1 and not list(cache.glob("*/*.partial"))
    first.close()

    again = DealEngine.of_file(path)  # as a new process would: nothing in memory, the cache on disk
    same_report(again.report, report)
    same_cells(again.cells(QUARTERS), cells)
    assert again.query_seconds == [] and again.place.results.hits >= 4
    with DealEngine.of_file(path) as third:  # the same, counting cells the first never asked for
        by_region = third.cells(QUARTERS, ("region",))
        assert len(third.query_seconds) == 1 and by_region.n.sum() == cells.n.sum()


def test_a_changed_file_is_counted_afresh(tmp_path, cache):
    path = tmp_path / "deals.parquet"
    frame = deals()
    frame.to_parquet(path, index=False)
    before = DealEngine.of_file(path).report
    frame.iloc[:-500].to_parquet(path, index=False)
    os.utime(path, ns=(1, 1))  # even with an old modification time: the size and inode differ
    after = DealEngine.of_file(path)
    assert after.report.rows_read == before.rows_read - 500
    assert len(after.query_seconds) >= 3


def test_a_file_rewritten_in_place_with_the_same_size_and_time_is_counted_afresh(tmp_path, cache):
    from insights.engine.cache import content_digest, file_fingerprint

    path = tmp_path / "deals.csv"
    deals().to_csv(path, index=False)
    before = DealEngine.of_file(str(path)).report
    st = os.stat(path)
    text = path.read_bytes()
    at = text.rindex(b",Won")  # the last won deal's outcome, as a typo of the same length: now set aside
    path.write_bytes(text[:at] + b",Wxn" + text[at + 4:])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same modification time, to the nanosecond
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns
    assert content_digest(str(path), st.st_size) != content_digest_of(text)
    after = DealEngine.of_file(str(path))
    assert after.report.set_aside.get("unknown_outcome", 0) == before.set_aside.get("unknown_outcome", 0) + 1
    assert len(after.query_seconds) >= 3
    assert file_fingerprint(str(path)) == file_fingerprint(str(path))  # and unchanged, it stays the same


def content_digest_of(data: bytes) -> str:
    import tempfile

    from insights.engine.cache import content_digest

    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return content_digest(f.name, len(data))


def test_a_parquet_files_digest_covers_its_whole_footer_and_its_ends(tmp_path, monkeypatch):
    from insights.engine import cache as engine_cache

    monkeypatch.setattr(engine_cache, "EDGE_BYTES", 16)
    path = tmp_path / "deals.parquet"
    deals().to_parquet(path, index=False)
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    assert data[-4:] == b"PAR1" and 64 < footer < len(data) // 2
    first = content_digest_of(bytes(data))
    in_footer, in_pages = len(data) - 8 - footer // 2, len(data) // 3  # the footer's middle; a data page's
    changed = bytearray(data)
    changed[in_footer] ^= 0xFF
    assert content_digest_of(bytes(changed)) != first
    changed = bytearray(data)
    changed[in_pages] ^= 0xFF  # past the ends and outside the footer: not read (the times and ctime see a rewrite)
    assert content_digest_of(bytes(changed)) == first


def test_a_later_day_reuses_the_store_only_when_no_date_was_in_the_future(tmp_path, cache):
    path = tmp_path / "deals.parquet"
    frame = deals()
    last = max(frame["closed_date"].dropna())
    frame.to_parquet(path, index=False)

    def engine(horizon: dt.date) -> DealEngine:
        e = DealEngine.of_file(path)
        e.horizon = horizon  # the day past which a date is in the future ("now" and its slack)
        return e

    early = engine(last - dt.timedelta(days=5))
    future = early.report.set_aside.get("future_closed_date", 0)
    assert future > 0  # deals closed in the last five days lie past that day
    later = engine(last + dt.timedelta(days=1))
    assert "future_closed_date" not in later.report.set_aside  # counted afresh: those deals are kept now
    assert later.report.closed_deals == early.report.closed_deals + future
    stored = len(later.query_seconds)
    # a day later still: every date lies on or before the store's day, so the store and its results stand
    latest = engine(last + dt.timedelta(days=2))
    same_report(latest.report, later.report)
    assert stored > 0 and latest.query_seconds == []


def test_with_the_cache_off_nothing_is_kept(tmp_path, monkeypatch):
    path = tmp_path / "deals.parquet"
    deals(n=500).to_parquet(path, index=False)
    monkeypatch.setenv("DEALS_ENGINE_CACHE", "off")
    engine = DealEngine.of_file(path)
    assert engine.place.results is None and engine.report.rows_read == 500


def test_a_cache_folder_others_may_write_in_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv("DEALS_ENGINE_CACHE", str(folder))
    path = tmp_path / "deals.parquet"
    deals(n=500).to_parquet(path, index=False)
    engine = DealEngine.of_file(path)
    assert engine.place.results is None and engine.report.rows_read == 500


def test_a_postgresql_table_changed_by_an_update_is_counted_afresh(cache):
    from conftest import POSTGRES, copy_rows, postgres_schema

    with postgres_schema("si_cache") as (schema, admin, _):
        types = {"created_date": sa.Date, "closed_date": sa.Date, "deal_amount": sa.Float,
                 "sales_cycle_days": sa.Float}
        deals().to_sql("deals", admin, schema=schema, index=False, dtype=types, method=copy_rows)
        table = f"{schema}.deals"
        first = DealEngine.of_sql(POSTGRES, table=table)
        won = int(first.cells(QUARTERS).won.sum())
        assert DealEngine.of_sql(POSTGRES, table=table).cells(QUARTERS).won.sum() == won  # reused
        with admin.begin() as conn:  # one lost deal of the quarter won after all: same rows, same count
            changed = conn.execute(sa.text(
                f"UPDATE {table} SET outcome = 'Won' WHERE deal_id = (SELECT MIN(deal_id) FROM {table} "
                "WHERE outcome = 'Lost' AND closed_date BETWEEN '2024-01-01' AND '2024-03-31')")).rowcount
        assert changed == 1
        again = DealEngine.of_sql(POSTGRES, table=table)
        assert int(again.cells(QUARTERS).won.sum()) == won + 1
        assert len(again.query_seconds) >= 3


def test_a_damaged_cache_is_counted_afresh(tmp_path, cache):
    path = tmp_path / "deals.parquet"
    deals(n=800).to_parquet(path, index=False)
    report = DealEngine.of_file(path).report
    for kept in cache.glob("*/*"):
        if kept.suffix in (".pickle", ".duckdb"):
            kept.write_bytes(b"not what was written")
    again = DealEngine.of_file(path)
    same_report(again.report, report)
    assert len(again.query_seconds) >= 3  # every query ran again
    rebuilt = DealEngine.of_file(path)  # the damaged store was let go of: built and kept again
    same_report(rebuilt.report, report)
    assert len(rebuilt.query_seconds) >= 1 and len(list(cache.glob("*/store-*.duckdb"))) == 1
    last = DealEngine.of_file(path)
    same_report(last.report, report)
    assert last.query_seconds == []  # and the cache holds again
