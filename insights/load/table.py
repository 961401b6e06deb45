"""The loader's two doors: `load_deals` reads a file, `from_table` takes a table already read (a
database, a CRM); both map the columns onto the canonical names and build a validated Snapshot."""
from __future__ import annotations

import dataclasses

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import CANONICAL_COLUMNS, DERIVABLE_COLUMNS, SOURCE_DIMENSIONS
from ..snapshot import Snapshot
from .arrow_memory import release_arrow_memory
from .build import Origin, build_snapshot
from .column_mapping import EXTRA_COLUMNS, ColumnMapping
from .errors import DataError, MissingColumnsError
from .read import SOURCE_COLUMNS, read_table
from .typed import typed_or_text


def load_deals(path: str | Path, mapping: ColumnMapping | None = None, as_of: dt.date | None = None) -> Snapshot:
    """Load and validate a deal export; `as_of` defaults to the latest closed date."""
    started = time.perf_counter()
    table = read_table(path, mapping)
    frame, lines, malformed = table.frame, table.lines, table.malformed
    del table
    # consume: the frame is this call's own, so each column is let go once coded (no second copy alive)
    snapshot = from_table(frame, mapping, str(path), as_of, started=started, lines=lines, malformed=malformed,
                          consume=True)
    release_arrow_memory()
    return snapshot


def from_table(
    raw: pd.DataFrame,
    mapping: ColumnMapping | None = None,
    source: str = "table",
    as_of: dt.date | None = None,
    *,
    started: float | None = None,
    lines: np.ndarray | None = None,
    malformed: tuple[tuple[int, str], ...] = (),
    consume: bool = False,
) -> Snapshot:
    """Validate an already-read table (any dtypes) exactly as a file would be validated.

    `consume=True` (the loader's own frame, nobody else's): `raw` is emptied as its columns are taken,
    so that at ten million deals the raw columns do not stay alive next to the validated ones. Every
    other caller's frame is left untouched."""
    origin = Origin(source=source, started=time.perf_counter() if started is None else started, lines=lines,
                    malformed=malformed)
    mapping = mapping or ColumnMapping()
    frame = canonical_frame(raw, mapping, consume)
    del raw
    # a segment column the export lacks (and the mapping does not name) is absent, as a mapping's `absent`
    # would say: left out of every breakdown, and said once in every reply (templates/text/data_notes.j2)
    dims = tuple(d for d in SOURCE_DIMENSIONS if d not in mapping.absent and d in frame.columns)
    if len(dims) < len(SOURCE_DIMENSIONS) - len(mapping.absent):
        mapping = dataclasses.replace(mapping, absent=tuple(d for d in SOURCE_DIMENSIONS if d not in dims))
    return build_snapshot(frame, dims=dims, mapping=mapping, origin=origin, as_of=as_of)


def canonical_frame(raw: pd.DataFrame, mapping: ColumnMapping, consume: bool = False) -> pd.DataFrame:
    """The table's columns under their canonical names (the mapping's, or the same name in any case
    and spacing), typed or as text; a missing required column or a name used twice is a DataError."""
    if not consume:
        raw = raw.copy(deep=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    folded = [c.casefold().replace(" ", "_") for c in raw.columns]
    twice = sorted({c for c, f in zip(raw.columns, folded) if folded.count(f) > 1})
    if twice:
        raise DataError(f"The deal table has more than one column named {', '.join(map(repr, twice))}; rename or "
                        f"remove the extra column(s) so it is clear which one to use.")
    found = [str(c).strip() for c in raw.attrs.get(SOURCE_COLUMNS) or raw.columns]  # a Parquet file read in part
    renamed = {}
    for canonical in CANONICAL_COLUMNS + tuple(c for c in EXTRA_COLUMNS if c in mapping.columns):
        column = mapping.columns.get(canonical, canonical)
        if column in raw.columns:
            renamed[canonical] = raw[column]
        else:  # forgive case and spacing differences in header names
            folded = {c.casefold().replace(" ", "_"): c for c in raw.columns}
            alt = folded.get(column.casefold().replace(" ", "_"))
            if alt is not None:
                renamed[canonical] = raw[alt]
    required = [c for c in CANONICAL_COLUMNS if c not in DERIVABLE_COLUMNS and c not in mapping.absent
                and (c not in SOURCE_DIMENSIONS or c in mapping.columns)]  # a segment column may be missing
    missing = [mapping.columns.get(c, c) for c in required if c not in renamed]
    if missing:
        raise MissingColumnsError(missing, found, mapping_hint=bool(mapping.columns),
                                  unmapped=tuple(c for c in required if c not in renamed and c not in mapping.columns))
    if consume:
        for column in list(raw.columns):
            del raw[column]
    columns = {}
    for k in list(renamed):
        columns[k] = typed_or_text(k, renamed.pop(k))  # the raw column goes as soon as it is typed
    return pd.DataFrame(columns, copy=False)
