"""Reading a deal file: size and header checks, then CSV (fast, or line-exact) or Parquet (columnar)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import CANONICAL_COLUMNS
from .column_mapping import EXTRA_COLUMNS, ColumnMapping
from .errors import DataError
from .text_files import open_text, physical_lines, records, text_encoding

# The largest table read, on disk and decompressed (a 1M-deal CSV is about 100 MB): a bigger file, or a
# .gz that inflates past it (a "gzip bomb"), is refused with a message instead of read for minutes.
MAX_TABLE_BYTES = 1 << 30


@dataclass(frozen=True)
class RawTable:
    """A file read as text: its rows, each row's line in the file, and lines that are not rows."""

    frame: pd.DataFrame
    lines: np.ndarray | None = None  # physical line of each row; None: header on line 1, one line per row
    malformed: tuple[tuple, ...] = ()  # (line, text[, reason]) of rows with the wrong number of fields or a stray quote


def _size_text(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MB"


def check_size(path: Path, limit: int | None = None) -> None:
    """Refuse a file larger than the limit, or a .gz that decompresses past it (read in chunks and
    stopped at the limit, so a bomb costs a bounded amount of time and no memory)."""
    limit = MAX_TABLE_BYTES if limit is None else limit
    size = path.stat().st_size
    if size > limit:
        raise DataError(f"The deal file {path} is {_size_text(size)}; the largest file read is {_size_text(limit)}. "
                        f"Export fewer columns or rows, or compress it.")
    if path.suffix.lower() == ".gz":
        import gzip
        import zlib

        total = 0
        try:
            with gzip.open(path, "rb") as f:
                while chunk := f.read(1 << 22):
                    total += len(chunk)
                    if total > limit:
                        raise DataError(f"The deal file {path} decompresses to more than {_size_text(limit)} "
                                        f"(from {_size_text(size)} on disk), the largest table read; it is "
                                        f"refused unread.")
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"Cannot decompress {path}: {exc or type(exc).__name__}.") from exc


def check_header(path: Path) -> None:
    """A header that names the same column twice is refused by name (a reader would silently keep one)."""
    import csv

    with open_text(path) as f:
        try:
            header = next(csv.reader(f))
        except StopIteration:
            return
    seen, duplicated = {}, []
    for name in header:
        key = name.strip().casefold().replace(" ", "_")
        if key in seen and name.strip() not in duplicated:
            duplicated.append(name.strip())
        seen[key] = name
    if duplicated:
        raise DataError(f"The deal file {path} has more than one column named {', '.join(map(repr, duplicated))}; "
                        f"rename or remove the extra column(s) so it is clear which one to use.")


def read_table(path: str | Path, mapping: ColumnMapping | None = None) -> RawTable:
    """Read every column as text so that bad values survive to be reported, not coerced away.
    Parquet is read columnar instead (see `read_parquet`): typed columns are already validated types."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"No deal file at {path}.")
    suffix = path.suffix.lower()
    try:
        check_size(path)
        if suffix in (".csv", ".txt", ".gz"):
            check_header(path)
        if suffix in (".parquet", ".pq"):
            return RawTable(read_parquet(path, mapping))
        if suffix in (".csv", ".txt", ".gz"):
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
            except Exception:
                # pyarrow refuses ragged rows and odd encodings: read line by line, keeping every row
                return read_csv_exactly(path)
            if physical_lines(path) != len(frame) + 1:
                return read_csv_exactly(path)  # blank lines or multi-line fields: count lines exactly
            return RawTable(frame)
    except DataError:
        raise
    except Exception as exc:
        reason = str(exc).strip() or type(exc).__name__  # some readers fail with an empty message
        raise DataError(f"Cannot read {path} as {suffix.lstrip('.') or 'a table'}: {reason}") from exc
    raise DataError(f"Unsupported file type {suffix or '(none)'} for {path}: use .csv or .parquet.")


SOURCE_COLUMNS = "source_columns"  # DataFrame.attrs key: every column of a source read only in part


def read_parquet(path: Path, mapping: ColumnMapping | None = None) -> pd.DataFrame:
    """Only the columns the mapping can use, text columns as dictionaries (pandas categoricals: one
    small integer per row, not one string), so ten million deals load in seconds and little memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    mapping = mapping or ColumnMapping()
    schema = pq.read_schema(path)
    wanted = {mapping.columns.get(c, c).casefold().replace(" ", "_")
              for c in CANONICAL_COLUMNS + tuple(c for c in EXTRA_COLUMNS if c in mapping.columns)}
    names = [n for n in schema.names if n.strip().casefold().replace(" ", "_") in wanted] or list(schema.names)
    deal_id = mapping.columns.get("deal_id", "deal_id").casefold().replace(" ", "_")
    dictionary = [n for n in names if n.strip().casefold().replace(" ", "_") != deal_id
                  and (pa.types.is_string(schema.field(n).type) or pa.types.is_large_string(schema.field(n).type))]
    if len(set(names)) < len(names):  # a name twice: read as one table, which refuses to pick one
        table = pq.read_table(path, columns=names, read_dictionary=dictionary)
        frame = pd.DataFrame({name: table.column(name).to_pandas(date_as_object=False) for name in names}, copy=False)
        frame.attrs[SOURCE_COLUMNS] = list(schema.names)
        return frame
    # One column read and converted at a time: only one column's Arrow data exists beside the pandas
    # columns (reading the whole table first peaked at 1.4 GB at ten million deals, now under 0.9 GB).
    file = pq.ParquetFile(path, read_dictionary=dictionary)
    # date_as_object=False: a date32 column arrives as datetime64 (one integer per row), not as ten million
    # datetime.date objects that would then be written as text and parsed again
    frame = pd.DataFrame({name: file.read(columns=[name]).column(0).to_pandas(date_as_object=False)
                          for name in names}, copy=False)
    frame.attrs[SOURCE_COLUMNS] = list(schema.names)  # a missing-column message lists the file's columns, not ours
    return frame



def read_csv_exactly(path: Path) -> RawTable:
    """The slow, exact path: every row with the line it starts on; blank lines skipped; rows with
    the wrong number of fields kept aside as malformed, and a line with a stray quote as such, never
    dropped."""
    rows, lines, malformed = [], [], []
    with open_text(path, text_encoding(path), errors="strict") as f:
        rows_of = records(f)
        first = next(rows_of, None)
        if first is None or first[2] is None:
            raise DataError(f"Cannot read {path}: the file is empty." if first is None else
                            f"Cannot read {path}: its header line has an unclosed quote.")
        header = first[2]
        for line, text, record in rows_of:
            if record is None:
                malformed.append((line, text.rstrip("\r\n")[:500], "unterminated_quote"))
                continue
            if not any(field.strip() for field in record):
                continue  # a blank line is not a row
            if len(record) != len(header):
                malformed.append((line, ",".join(record)[:500]))
                continue
            rows.append(record)
            lines.append(line)
    frame = pd.DataFrame(rows, columns=[h.strip() for h in header], dtype=str) if rows else \
        pd.DataFrame({h.strip(): pd.Series(dtype=str) for h in header})
    return RawTable(frame, np.asarray(lines, dtype=np.int64), tuple(malformed))

