"""The duplicate-id check of a glob of Parquet files (issue 23): when the files' footers prove that no id can be in
two files (each file's ids share a prefix no other file's shares: `rows.disjoint_files`), each file's ids are
checked alone — the same rows set aside and the same answers as one check over every file; otherwise (ranges that
may meet, spaces TRIM would strip, a single file) every id is checked against every other, as before."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bot.core.commands import answer
from insights.engine import DealEngine, rows
from insights.engine.rows import disjoint_files, id_prefix
from insights.engine.snapshot import EngineSnapshot
from insights.engine.where import DuckPlace
from insights.synthetic import demo_spec, generate_deals


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("DEALS_ENGINE_CACHE", "off")


def deals(n: int = 3000) -> pd.DataFrame:
    frame = generate_deals(demo_spec(n_deals=n, seed=5))
    frame["sales_cycle_days"] = pd.to_numeric(frame["sales_cycle_days"], errors="coerce")
    for column in ("created_date", "closed_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def write(folder: Path, parts: list[pd.DataFrame]) -> str:
    folder.mkdir()
    for k, part in enumerate(parts):
        part.to_parquet(folder / f"part_{k}.parquet", index=False)
    return str(folder / "part_*.parquet")


def split(frame: pd.DataFrame, prefixes) -> list[pd.DataFrame]:
    size = -(-len(frame) // len(prefixes))
    parts = []
    for k, prefix in enumerate(prefixes):
        part = frame.iloc[k * size:(k + 1) * size].copy()
        part["deal_id"] = prefix + part["deal_id"].astype(str)
        parts.append(part.reset_index(drop=True))
    return parts


def checks(monkeypatch) -> list[str]:
    """The duplicate-id queries the engine runs from here on."""
    seen, run = [], DuckPlace.run
    monkeypatch.setattr(DuckPlace, "run", lambda self, sql: (seen.append(sql) if "HAVING COUNT(*) > 1" in sql
                                                             else None, run(self, sql))[1])
    return seen


def replies(pattern: str) -> tuple[dict, list[str]]:
    snapshot = EngineSnapshot.of(DealEngine.of_file(pattern))
    texts = []
    for line in ("/health", "/why", "/winrate by region"):
        got = answer(snapshot, line)
        assert got.kind == "answer", got.text
        # the load time and the refresh's query count and seconds differ by design
        texts += [x for x in got.text.splitlines() if not x.startswith(("*Data health*", "Counted where"))]
    return snapshot.report.set_aside, texts


def test_a_prefix_is_what_every_id_between_two_ends_begins_with_after_trim():
    assert id_prefix("P00-D0000014", "P00-D9999948") == "P00-D"
    assert id_prefix("A-1", "B-9") is None  # nothing in common
    assert id_prefix(" B-5", "B-9") is None  # a leading space: TRIM would move the id elsewhere
    # a trailing space is left out: 'X-1 ' trims to 'X-1', and a file of 'X-1' has the same prefix, so the
    # two are checked together
    assert id_prefix("X-1 ", "X-1 ") == "X-1" == id_prefix("X-1", "X-1")
    assert id_prefix("X 1", "X 9") == "X"  # a space inside, the prefix ends before it
    assert id_prefix("É-1", "É-9") is None  # not ASCII: not relied on


def test_files_whose_ids_lie_apart_are_checked_one_by_one_with_the_same_answers(tmp_path, monkeypatch):
    parts = split(deals(), ["A-", "B-", "C-"])
    parts[1].loc[40, "deal_id"] = parts[1].loc[7, "deal_id"]  # a repeated id within one file: the later row set aside
    pattern = write(tmp_path / "apart", parts)
    place = DealEngine.of_file(pattern).place
    assert disjoint_files(place, "deal_id") == tuple(sorted(place.parquet)) and len(place.parquet) == 3
    seen = checks(monkeypatch)
    one_by_one = replies(pattern)
    assert one_by_one[0] == {"duplicate_deal_id": 1}
    assert len(seen) == 3 and all("read_parquet('" + str(tmp_path / "apart" / f"part_{k}.parquet") + "')" in sql
                                  for k, sql in enumerate(seen))
    monkeypatch.setattr(rows, "disjoint_files", lambda place, column: None)  # the check over every file at once
    seen.clear()
    together = replies(pattern)
    assert len(seen) == 1 and "part_*.parquet" in seen[0]
    assert one_by_one == together


def test_files_whose_ids_may_meet_are_checked_together_and_a_repeat_across_them_is_found(tmp_path, monkeypatch):
    frame = deals()
    parts = [frame.iloc[:1500].reset_index(drop=True), frame.iloc[1500:].reset_index(drop=True)]
    parts[1].loc[3, "deal_id"] = parts[0].loc[10, "deal_id"]  # the same id in both files
    pattern = write(tmp_path / "meet", parts)
    assert disjoint_files(DealEngine.of_file(pattern).place, "deal_id") is None  # both files' ids begin 'D'
    seen = checks(monkeypatch)
    set_aside, _ = replies(pattern)
    assert set_aside == {"duplicate_deal_id": 1} and len(seen) == 1


def test_a_trailing_space_that_trim_strips_keeps_files_together(tmp_path, monkeypatch):
    parts = split(deals(), ["A-", "B-"])
    parts[1] = pd.concat([parts[1], parts[0].iloc[[4]].assign(deal_id=parts[0].loc[4, "deal_id"] + " ")])
    pattern = write(tmp_path / "space", [parts[0], parts[1].reset_index(drop=True)])
    assert disjoint_files(DealEngine.of_file(pattern).place, "deal_id") is None  # file 2's range reaches 'A-…'
    set_aside, _ = replies(pattern)
    assert set_aside == {"duplicate_deal_id": 1}


def test_one_file_and_prefixes_of_one_another_are_not_split(tmp_path):
    one = write(tmp_path / "one", split(deals(), ["A-"]))
    assert disjoint_files(DealEngine.of_file(one).place, "deal_id") is None
    nested = write(tmp_path / "nested", split(deals(), ["A-", "A-D000"]))
    assert disjoint_files(DealEngine.of_file(nested).place, "deal_id") is None
