"""Read a deal export (CSV or Parquet), map its columns, validate it and build a Snapshot.

Bad rows are never dropped silently: each is set aside with the first reason it fails, counted
in the DataReport, and kept in `Snapshot.rejected` with its original values and row number.
"""
from __future__ import annotations

import datetime as dt
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import (
    CANONICAL_COLUMNS,
    CYCLE_BANDS,
    DERIVABLE_COLUMNS,
    LOST,
    SIZE_BANDS,
    SOURCE_DIMENSIONS,
    STAGE_ORDER,
    WON,
)
from .labels import safe_labels
from .mapping import FALSE_FLAGS, TRUE_FLAGS, is_flag_value, parse_amounts, parse_flags, stage_records_outcome_only
from .snapshot import DataReport, Snapshot

# A gap this long between the last created date and the last closed date means the extract
# stopped taking new deals before it stopped taking closes: recent closed periods are censored.
CENSORING_GAP_DAYS = 30
# Years a deal date may have; the command grammar accepts periods in the same years.
DATE_YEARS = (1900, 2099)
# A deal cannot have been created or closed after the data was loaded: a date more than this beyond the
# load time is a placeholder (2099-12-31) or a typo, and would otherwise become the as-of date.
FUTURE_SLACK = dt.timedelta(days=1)
# The largest table read, on disk and decompressed (a 1M-deal CSV is about 100 MB): a bigger file, or a
# .gz that inflates past it (a "gzip bomb"), is refused with a message instead of read for minutes.
MAX_TABLE_BYTES = 1 << 30

# Why a row is set aside, in the order rows are checked (a row gets the first that applies).
# The sentences users read for these codes live in templates/.
REASONS = (
    "unterminated_quote",
    "malformed_row",
    "missing_deal_id",
    "duplicate_deal_id",
    "unknown_outcome",
    "unparseable_created_date",
    "unparseable_closed_date",
    "closed_before_created",
    "future_created_date",
    "future_closed_date",
    "missing_amount",
    "non_finite_amount",
    "negative_amount",
    "bad_cycle_days",
    "missing_segment",
)


# Columns a mapping may name besides the canonical ones: Salesforce-style IsClosed next to an IsWon outcome.
EXTRA_COLUMNS = ("is_closed",)


class DataError(Exception):
    """The file cannot be used at all (missing, unreadable, wrong columns). The message says why."""


class MissingColumnsError(DataError):
    def __init__(self, missing: list[str], found: list[str], mapping_hint: bool):
        self.missing, self.found = missing, found
        hint = "" if mapping_hint else " Use a column-mapping file (--mapping) if your export names them differently."
        super().__init__(
            f"The deal file is missing {len(missing)} required column(s): {', '.join(missing)}. "
            f"Columns found: {', '.join(found) or '(none)'}.{hint}"
        )


@dataclass(frozen=True)
class ColumnMapping:
    """How an export's columns and outcome values map onto the canonical schema."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical -> export column
    won_values: tuple[str, ...] = ()
    lost_values: tuple[str, ...] = ()
    open_values: tuple[str, ...] = ()
    others_are_open: bool = False
    absent: tuple[str, ...] = ()  # dimensions the export does not have
    date_format: str | None = None
    dayfirst: bool = False
    stage_order: tuple[str, ...] = ()  # funnel order of deal_stage; empty: the canonical STAGE_ORDER
    decimal: str | None = None  # the amounts' decimal mark, "." or ","; None: told from each value

    @classmethod
    def from_file(cls, path: str | Path) -> "ColumnMapping":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"Cannot read the mapping file {path}: {exc.strerror or exc}.") from exc
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                raw = yaml.safe_load(text) or {}
            else:
                raw = tomllib.loads(text)
        except Exception as exc:  # both parsers raise their own types; the message is what matters
            raise DataError(f"The mapping file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}") from exc
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: dict, where: str = "mapping") -> "ColumnMapping":
        if not isinstance(raw, dict):
            raise DataError(f"The {where} must be a table of settings.")
        raw = dict(raw)
        if isinstance(raw.get("columns"), dict):
            columns = dict(raw["columns"])
            for key in ("absent", "stages"):  # TOML puts `absent = []` written after [columns] inside it
                if key in columns and not isinstance(columns[key], str) and key not in raw:
                    raw[key] = columns.pop(key)
            raw["columns"] = columns
        check_mapping_types(raw, where)
        columns = raw.get("columns") or {}
        unknown = sorted(set(columns) - set(CANONICAL_COLUMNS) - set(EXTRA_COLUMNS))
        if unknown:
            raise DataError(
                f"The {where} maps unknown column(s) {', '.join(unknown)}; "
                f"canonical columns are {', '.join(CANONICAL_COLUMNS + EXTRA_COLUMNS)}."
            )
        absent = tuple(raw.get("absent", ()) or ())
        bad_absent = sorted(set(absent) - set(SOURCE_DIMENSIONS))
        if bad_absent:
            raise DataError(f"Only segment columns may be absent, not {', '.join(bad_absent)}.")
        outcome = raw.get("outcome", {}) or {}
        others = str(outcome.get("others_are", "invalid")).lower()
        if others not in ("open", "invalid"):
            raise DataError(f"outcome.others_are must be 'open' or 'invalid', not {others!r}.")
        dates = raw.get("dates", {}) or {}
        amounts = raw.get("amounts", {}) or {}
        decimal = amounts.get("decimal")
        if decimal not in (None, ".", ","):
            raise DataError(f"amounts.decimal must be \".\" or \",\", not {decimal!r}.")
        stages = raw.get("stages", {}) or {}
        if isinstance(stages, (list, tuple)):
            stages = {"order": stages}
        if not isinstance(stages, dict):
            raise DataError("stages must be a list of stage names in funnel order, or a table with order, won, lost.")

        def values(table, key):
            v = table.get(key, ())
            if isinstance(v, bool):
                v = "true" if v else "false"
            return tuple(str(x).strip().lower() for x in ([v] if isinstance(v, (str, int, float)) else v))

        won, lost = values(outcome, "won") + values(stages, "won"), values(outcome, "lost") + values(stages, "lost")
        if (values(stages, "won") or values(stages, "lost")) and "outcome" not in columns:
            columns["outcome"] = columns.get("deal_stage", "deal_stage")  # the stage column says the outcome
        if "is_closed" in columns and not won and not lost:
            won, lost = TRUE_FLAGS, FALSE_FLAGS  # IsClosed + IsWon: closed deals are won when IsWon is true
        if lost and all(is_flag_value(v) for v in lost) and "is_closed" not in columns and not values(outcome, "open"):
            raise DataError(
                f"The {where} reads outcome {columns.get('outcome', 'outcome')!r} as a won/lost flag "
                f"(lost = {', '.join(lost)}), which cannot tell an open deal from a lost one: map is_closed to the "
                "export's closed flag too (e.g. is_closed = \"IsClosed\"), or list outcome.open values."
            )
        order = tuple(str(x).strip() for x in stages.get("order", ()) or ())
        return cls(
            columns={k: str(v) for k, v in columns.items()},
            won_values=won,
            lost_values=lost,
            open_values=values(outcome, "open"),
            others_are_open=others == "open",
            absent=absent,
            date_format=dates.get("format"),
            dayfirst=bool(dates.get("dayfirst", False)),
            stage_order=order,
            decimal=decimal,
        )


_SCALAR = (str, int, float, bool)


def check_mapping_types(raw: dict, where: str = "mapping") -> None:
    """Every setting of a mapping file has the type it must have, or one DataError names the setting,
    what it is and what it should be (a wrongly typed file used to crash the CLI, `http` and the clock)."""
    def kind(value) -> str:
        return {dict: "a table", list: "a list", str: "a string", bool: "true/false", int: "a number",
                float: "a number"}.get(type(value), type(value).__name__)

    def fail(key: str, value, wanted: str):
        raise DataError(f"In the {where}, `{key}` must be {wanted}, not {kind(value)} ({str(value)[:60]!r}).")

    for section in ("columns", "outcome", "dates"):
        value = raw.get(section)
        if value is not None and not isinstance(value, dict):
            fail(section, value, "a table")
    for key, value in (raw.get("columns") or {}).items():
        if not isinstance(value, str) or not value.strip():
            fail(f"columns.{key}", value, "a column name (text)")
    absent = raw.get("absent")
    if absent is not None and not (isinstance(absent, list) and all(isinstance(a, str) for a in absent)):
        fail("absent", absent, "a list of segment column names")
    outcome = raw.get("outcome") or {}
    for key in ("won", "lost", "open"):
        value = outcome.get(key)
        if value is None or isinstance(value, _SCALAR):
            continue
        if not (isinstance(value, list) and all(isinstance(x, _SCALAR) for x in value)):
            fail(f"outcome.{key}", value, "a value or a list of values")
    if "others_are" in outcome and not isinstance(outcome["others_are"], str):
        fail("outcome.others_are", outcome["others_are"], "'open' or 'invalid'")
    dates = raw.get("dates") or {}
    if dates.get("format") is not None and not isinstance(dates["format"], str):
        fail("dates.format", dates["format"], "a date format such as \"%d/%m/%Y\"")
    if "dayfirst" in dates and not isinstance(dates["dayfirst"], bool):
        fail("dates.dayfirst", dates["dayfirst"], "true or false")


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

    with _open_text(path) as f:
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


def read_table(path: str | Path, mapping: "ColumnMapping | None" = None) -> RawTable:
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
                return _read_csv_exactly(path)
            if _physical_lines(path) != len(frame) + 1:
                return _read_csv_exactly(path)  # blank lines or multi-line fields: count lines exactly
            return RawTable(frame)
    except DataError:
        raise
    except Exception as exc:
        reason = str(exc).strip() or type(exc).__name__  # some readers fail with an empty message
        raise DataError(f"Cannot read {path} as {suffix.lstrip('.') or 'a table'}: {reason}") from exc
    raise DataError(f"Unsupported file type {suffix or '(none)'} for {path}: use .csv or .parquet.")


def read_parquet(path: Path, mapping: "ColumnMapping | None" = None) -> pd.DataFrame:
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
        return pd.DataFrame({name: table.column(name).to_pandas(date_as_object=False) for name in names}, copy=False)
    # One column read and converted at a time: only one column's Arrow data exists beside the pandas
    # columns (reading the whole table first peaked at 1.4 GB at ten million deals, now under 0.9 GB).
    file = pq.ParquetFile(path, read_dictionary=dictionary)
    # date_as_object=False: a date32 column arrives as datetime64 (one integer per row), not as ten million
    # datetime.date objects that would then be written as text and parsed again
    return pd.DataFrame({name: file.read(columns=[name]).column(0).to_pandas(date_as_object=False)
                         for name in names}, copy=False)


def _open_text(path: Path, encoding: str = "utf-8", errors: str = "replace"):
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt", newline="", encoding=encoding, errors=errors)
    return open(path, newline="", encoding=encoding, errors=errors)


# What a CSV that is not UTF-8 most likely is: Excel's "CSV" on a Western Windows machine (a superset
# of Latin-1 in the printable range), so "Café" saved there reads back as "Café", not "Caf\ufffd".
FALLBACK_ENCODING = "cp1252"


def _text_encoding(path: Path) -> str:
    """UTF-8 (a BOM is skipped) when the whole file decodes as UTF-8; else FALLBACK_ENCODING when it
    decodes as that (logged); else a DataError naming the first bad byte's line. Never a silent U+FFFD."""
    import codecs
    import logging

    opener = (lambda: __import__("gzip").open(path, "rb")) if path.suffix.lower() == ".gz" else (lambda: open(path, "rb"))
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with opener() as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = chunk[exc.start:exc.start + 1]
                line += chunk[:exc.start].count(b"\n")
                break
            line += chunk.count(b"\n")
        else:
            return "utf-8-sig"
    with opener() as f:
        try:
            while chunk := f.read(1 << 20):
                chunk.decode(FALLBACK_ENCODING)
        except UnicodeDecodeError:
            raise DataError(f"Cannot read {path.name}: it is not UTF-8 text (byte 0x{bad.hex()} on line {line}) "
                            f"nor Windows-1252. Save it as CSV UTF-8 and load it again.") from None
    logging.getLogger(__name__).warning("%s is not UTF-8 (byte 0x%s on line %s): read as Windows-1252",
                                        path.name, bad.hex(), line)
    return FALLBACK_ENCODING


def _physical_lines(path: Path) -> int:
    """Lines holding text (a last line without a newline counts; a trailing newline adds none)."""
    opener = (lambda: __import__("gzip").open(path, "rb")) if path.suffix.lower() == ".gz" else (lambda: open(path, "rb"))
    count, last = 0, b"\n"
    with opener() as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


MAX_RECORD_LINES = 50  # a quoted field (a note with line breaks) may span this many lines, no more


def _records(f):
    """(first line number, text, fields) of each CSV record, quotes honoured (a quoted field may hold line
    breaks). A quote that is still open after MAX_RECORD_LINES lines is a stray one: its line comes out
    alone with fields None, and reading starts again on the line after it, so one stray quote costs one
    row, not every row up to the next quote in the file."""
    import csv
    import itertools

    pending: list[str] = []
    start = 1
    lines = iter(f)
    number = 0
    while True:
        if not pending or sum(p.count('"') for p in pending) % 2 == 0:  # no quote left open: a whole record
            if pending:
                text = "".join(pending)
                yield start, text, next(csv.reader([text]), [])
                pending = []
            line = next(lines, None)
            if line is None:
                return
            number += 1
            start, pending = number, [line]
            continue
        if len(pending) > MAX_RECORD_LINES:
            yield start, pending[0], None
            rest, pending = pending[1:], []
            number -= len(rest)  # read them again, one by one
            lines = itertools.chain(rest, lines)  # the lines after the stray quote, read again
            continue
        line = next(lines, None)
        if line is None:  # the file ends inside a quote
            yield start, pending[0], None
            rest, pending = pending[1:], []
            number -= len(rest)
            lines = iter(rest)
            continue
        number += 1
        pending.append(line)


def _read_csv_exactly(path: Path) -> RawTable:
    """The slow, exact path: every row with the line it starts on; blank lines skipped; rows with
    the wrong number of fields kept aside as malformed, and a line with a stray quote as such, never
    dropped."""
    rows, lines, malformed = [], [], []
    with _open_text(path, _text_encoding(path), errors="strict") as f:
        records = _records(f)
        first = next(records, None)
        if first is None or first[2] is None:
            raise DataError(f"Cannot read {path}: the file is empty." if first is None else
                            f"Cannot read {path}: its header line has an unclosed quote.")
        header = first[2]
        for line, text, record in records:
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


_FIRST_DAY = np.datetime64(f"{DATE_YEARS[0]:04d}-01-01", "D")
_LAST_DAY = np.datetime64(f"{DATE_YEARS[1]:04d}-12-31", "D")


def _parse_dates(text: pd.Series, mapping: ColumnMapping) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(text.dtype):  # a typed column: to naive UTC days, as text would be
        parsed = text.dt.tz_convert("UTC").dt.tz_localize(None) if getattr(text.dt, "tz", None) else text
        # numpy floors to the day (as normalize does, before 1970 too); the years are checked on days,
        # and only then are days turned into microseconds: one copy per step, not four
        days = parsed.to_numpy().astype("datetime64[D]")
        days[(days < _FIRST_DAY) | (days > _LAST_DAY)] = np.datetime64("NaT")
        return pd.Series(days.astype("datetime64[us]"), index=text.index, name=text.name, copy=False)
    if mapping.date_format:
        try:
            parsed = pd.to_datetime(text, format=mapping.date_format, errors="coerce")
        except (ValueError, TypeError) as exc:
            raise DataError(f"The mapping's dates.format {mapping.date_format!r} cannot read dates: {exc}") from exc
    else:
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        retry = parsed.isna() & (text != "")
        if retry.any():  # only the odd rows pay for flexible parsing
            # utc=True: a zoned timestamp ("2024-01-31T09:00:00Z", as CRM API exports write them) must not
            # crash the load; zoned values are converted to UTC, naive ones are unchanged.
            flexible = pd.to_datetime(text[retry], format="mixed", dayfirst=_day_first(text[retry], mapping),
                                      errors="coerce", utc=True)
            parsed[retry] = flexible.dt.tz_localize(None).dt.normalize()
        parsed = parsed.dt.normalize()
    # A year outside DATE_YEARS is a placeholder or a typo ("-1" parses as year -1; 9999-12-31): such a
    # date crashed the report (year -1) or became the as-of date, so it is unparseable and set aside.
    return parsed.where(parsed.dt.year.between(*DATE_YEARS))


_NUMERIC_DATE = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b"


def _day_first(text: pd.Series, mapping: ColumnMapping) -> bool:
    """Whether 04/05/2024 in this column is the 4th of May: decided once per file from the dates that
    say so (a first number over 12 is a day: 13/04/2024; a second one is: 04/13/2024), so no row is
    read one way and its neighbour the other. A column with both kinds is refused: which of its
    04/05/2024s mean April cannot be known. With none, the mapping's dates.dayfirst (month first)."""
    parts = text.str.extract(_NUMERIC_DATE).dropna().astype(int)
    if parts.empty:
        return mapping.dayfirst
    day_first, month_first = parts[0] > 12, parts[1] > 12
    if day_first.any() and month_first.any():
        one, other = text[day_first[day_first].index[0]], text[month_first[month_first].index[0]]
        raise DataError(f"The {text.name or 'date'} column mixes day-first dates ({one.strip()!r}) and month-first "
                        f"dates ({other.strip()!r}), so dates such as 04/05/2024 cannot be read either way. Export "
                        f"the dates as YYYY-MM-DD, or set dates.format in the column mapping.")
    if day_first.any() or month_first.any():
        return bool(day_first.any())
    return mapping.dayfirst


# FNV-1a, 64 bits: a fingerprint of each id's bytes, computed for all ids at once with numpy.
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
# Ids longer than this take the dictionary-encoding path: the fingerprint loops once per byte position.
FINGERPRINT_MAX_BYTES = 64
# Rows fingerprinted at a time: the byte matrix of one block stays a few MB.
_FINGERPRINT_BLOCK = 1 << 17


def _duplicated(values: pd.Series) -> np.ndarray:
    """values.duplicated(keep="first"), exactly, in about a second for ten million ids.

    Equal ids have equal fingerprints, so a row can repeat an earlier one only if its fingerprint
    repeats: those few candidate rows (every repeated id, plus any fingerprint collision) are then
    checked exactly by pandas on their real values, in their original order. Hashing millions of
    distinct strings in a hash table (pandas, or Arrow's dictionary encoding) took five seconds and
    1.5 GB at ten million deals; the fingerprints are one uint64 per row and a sort."""
    fingerprints = _fingerprints(values)
    if fingerprints is None:  # not text, or very long ids
        return _duplicated_by_codes(values)
    out = np.zeros(len(values), dtype=bool)
    if len(values) < 2:
        return out
    ordered = np.sort(fingerprints)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if len(repeated) == 0:
        return out
    if len(repeated) * 16 > len(values):  # ids repeated by the million (an export appended twice): the
        return values.duplicated(keep="first").to_numpy()  # candidates would be most rows: hash them all
    # Rows whose fingerprint is one of the repeated ones: a bitmap of the fingerprints' top bits rules out
    # almost every row in one pass, a binary search settles the few it lets through (searching all ten
    # million rows, in no order, took two seconds).
    bits = int(min(26, max(16, 2 + np.ceil(np.log2(len(repeated))))))
    seen = np.zeros(1 << bits, dtype=bool)
    seen[repeated >> np.uint64(64 - bits)] = True
    maybe = np.flatnonzero(seen[fingerprints >> np.uint64(64 - bits)])
    del seen
    at = np.minimum(np.searchsorted(repeated, fingerprints[maybe]), len(repeated) - 1)
    candidates = maybe[repeated[at] == fingerprints[maybe]]
    del at, maybe, fingerprints
    out[candidates] = values.iloc[candidates].duplicated(keep="first").to_numpy()
    return out


def _fingerprints(values: pd.Series) -> np.ndarray | None:
    """A 64-bit FNV-1a fingerprint of each value's UTF-8 bytes and length (nulls: 0), read straight
    from the Arrow string buffers; None when the values are not text or an id is too long."""
    import pyarrow as pa

    try:
        array = pa.array(values, from_pandas=True)  # zero-copy for pandas' Arrow-backed strings
    except (pa.ArrowException, TypeError, ValueError):
        return None
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    out = np.empty(len(values), dtype=np.uint64)
    done = 0
    for chunk in chunks:
        for start in range(0, len(chunk), _FINGERPRINT_BLOCK):
            block = chunk.slice(start, _FINGERPRINT_BLOCK)
            fingerprint = _block_fingerprints(block)
            if fingerprint is None:
                return None
            out[done:done + len(block)] = fingerprint
            done += len(block)
    return out


def _block_fingerprints(block) -> np.ndarray | None:
    import pyarrow as pa

    n = len(block)
    offset_type = np.dtype(np.int64 if pa.types.is_large_string(block.type) else np.int32)
    _, offset_buffer, data_buffer = block.buffers()[:3]
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(offset_buffer, dtype=offset_type, count=n + 1,
                            offset=block.offset * offset_type.itemsize).astype(np.int64)
    lengths = np.diff(offsets)
    width = int(lengths.max())
    if width > FINGERPRINT_MAX_BYTES:
        return None
    fingerprint = (np.full(n, _FNV_OFFSET) ^ lengths.astype(np.uint64)) * _FNV_PRIME
    if width:
        data = np.frombuffer(data_buffer, dtype=np.uint8)
        if int(lengths.min()) == width:  # ids of one length: the bytes already are an n x width matrix
            matrix = data[offsets[0]:offsets[0] + n * width].reshape(n, width)
            for j in range(width):
                fingerprint ^= matrix[:, j]
                fingerprint *= _FNV_PRIME
        else:
            # Past a value's end the byte is 0 and the multiplier 1 (xor 0, times 1: no step), so a value's
            # fingerprint is the same whatever the longest value next to it
            at = offsets[:-1, None] + np.arange(width)
            matrix = np.where(at < offsets[1:, None], data[np.minimum(at, len(data) - 1)], 0).astype(np.uint8)
            del at
            for j in range(width):
                fingerprint ^= matrix[:, j]
                fingerprint *= np.where(lengths > j, _FNV_PRIME, np.uint64(1))
    if block.null_count:
        fingerprint[block.is_null().to_numpy(zero_copy_only=False)] = 0
    return fingerprint


def _duplicated_by_codes(values: pd.Series) -> np.ndarray:
    """values.duplicated(keep="first") through Arrow's dictionary encoding: codes are handed out in order
    of first appearance, so a row repeats an earlier value exactly when its code is not a new maximum."""
    import pyarrow as pa

    try:
        array = pa.array(values, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.null_count:  # a null has no code; pandas counts nulls as one value
            return values.duplicated(keep="first").to_numpy()
        codes = array.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    except (pa.ArrowException, TypeError, ValueError, AttributeError):
        return values.duplicated(keep="first").to_numpy()
    if len(codes) == 0:
        return np.zeros(0, dtype=bool)
    codes = codes.astype(np.int64)
    seen = np.maximum.accumulate(codes)
    first = np.empty(len(codes), dtype=bool)
    first[0] = True
    first[1:] = codes[1:] > seen[:-1]
    return ~first


def _coded(values: pd.Series, keep: np.ndarray, dim: str, stage_order: tuple[str, ...]) -> pd.Categorical:
    """A label column as a categorical of the values the kept rows use, in display order."""
    cat = values.array if isinstance(values.dtype, pd.CategoricalDtype) else pd.Categorical(values)
    codes = np.asarray(cat.codes)
    used = np.bincount(codes[keep & (codes >= 0)], minlength=len(cat.categories)) > 0
    labels = [str(x) for x in np.asarray(cat.categories)[used]]
    order = _categories(dim, pd.Series(labels, dtype=object), stage_order)
    position = {label: k for k, label in enumerate(order)}
    lookup = np.full(len(cat.categories) + 1, -1, dtype=codes.dtype)  # the last slot: code -1 stays -1
    lookup[np.flatnonzero(used)] = [position[label] for label in labels]
    new_codes = lookup[codes]
    return pd.Categorical.from_codes(new_codes, categories=pd.Index(order))


def _folded_isin(values: pd.Series, wanted: tuple[str, ...]) -> np.ndarray:
    """values.str.lower().isin(wanted), on a categorical's few labels rather than on every row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = pd.Index(values.cat.categories.astype(str)).str.lower()
        table = np.append(labels.isin(wanted), "" in wanted)  # code -1 (missing) is blank
        return table[values.cat.codes.to_numpy()]
    return values.str.lower().isin(wanted).to_numpy()


def _numbers(text: pd.Series) -> pd.Series:
    """Text to float; blanks and non-numbers become NaN. A fast cast first, the slow path on failure."""
    try:
        return text.where(text != "").astype("float64")
    except (ValueError, TypeError):
        return pd.to_numeric(text, errors="coerce")


def _natural_key(value: str):
    import re

    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", value)]


def _categories(dim: str, values: pd.Series, stage_order: tuple[str, ...] = ()) -> list[str]:
    present = values.unique().tolist()
    if dim == "deal_stage":
        order = {s.casefold(): i for i, s in enumerate(stage_order or STAGE_ORDER)}
        return sorted(present, key=lambda s: (order.get(s.casefold(), len(order)), s))
    return sorted(present, key=_natural_key)


def _band(values: np.ndarray, bands) -> pd.Categorical:
    edges = [b for b, _ in bands[:-1]]
    codes = np.searchsorted(edges, values, side="right")
    codes = np.where(np.isnan(values), -1, codes)
    return pd.Categorical.from_codes(codes, categories=[label for _, label in bands])


def load_deals(
    path: str | Path,
    mapping: ColumnMapping | None = None,
    as_of: dt.date | None = None,
) -> Snapshot:
    """Load and validate a deal export; `as_of` defaults to the latest closed date."""
    started = time.perf_counter()
    table = read_table(path, mapping)
    frame, lines, malformed = table.frame, table.lines, table.malformed
    del table
    # consume: the frame is this call's own, so each column is let go once coded (no second copy alive)
    snapshot = from_table(frame, mapping, str(path), as_of, started, lines, malformed, consume=True)
    _release_arrow_memory()
    return snapshot


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator kept from the load's freed columns back to the system.

    Arrow's default pool (mimalloc in the wheels) keeps freed blocks for reuse; after a ten-million-deal
    load that was 400 MB the process held but nothing used (1.2 GB resident for a 0.55 GB snapshot), and
    the analyses' own memory came on top of it, and the peak inside the load was 100 MB higher.
    MemoryPool.release_unused() is pyarrow's documented way to return it; called a few times per load,
    where hundreds of MB of Arrow data have just been freed (the raw read, the full-length ids), its
    cost (well under 0.1 s) does not matter."""
    import pyarrow as pa

    try:
        pa.default_memory_pool().release_unused()
    except (AttributeError, NotImplementedError, pa.ArrowException):  # an older pyarrow, or a pool without it
        pass


def from_table(
    raw: pd.DataFrame,
    mapping: ColumnMapping | None = None,
    source: str = "table",
    as_of: dt.date | None = None,
    started: float | None = None,
    lines: np.ndarray | None = None,
    malformed: tuple[tuple[int, str], ...] = (),
    consume: bool = False,
) -> Snapshot:
    """Validate an already-read table (any dtypes) exactly as a file would be validated.

    `consume=True` (the loader's own frame, nobody else's): `raw` is emptied as its columns are taken,
    so that at ten million deals the raw columns do not stay alive next to the validated ones. Every
    other caller's frame is left untouched."""
    started = time.perf_counter() if started is None else started
    mapping = mapping or ColumnMapping()
    if not consume:
        raw = raw.copy(deep=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    folded = [c.casefold().replace(" ", "_") for c in raw.columns]
    twice = sorted({c for c, f in zip(raw.columns, folded) if folded.count(f) > 1})
    if twice:
        raise DataError(f"The deal table has more than one column named {', '.join(map(repr, twice))}; rename or "
                        f"remove the extra column(s) so it is clear which one to use.")
    found = list(raw.columns)
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
    dims = tuple(d for d in SOURCE_DIMENSIONS if d not in mapping.absent)
    required = [c for c in CANONICAL_COLUMNS if c not in DERIVABLE_COLUMNS and c not in mapping.absent]
    missing = [mapping.columns.get(c, c) for c in required if c not in renamed]
    if missing:
        raise MissingColumnsError(missing, found, mapping_hint=bool(mapping.columns))
    if consume:
        for column in list(raw.columns):
            del raw[column]
    columns = {}
    for k in list(renamed):
        columns[k] = _typed_or_text(k, renamed.pop(k))  # the raw column goes as soon as it is typed
    frame = pd.DataFrame(columns, copy=False)
    del columns, raw
    return build_snapshot(frame, dims, mapping, source, as_of, started, lines, malformed)


DATE_COLUMNS, NUMBER_COLUMNS = ("created_date", "closed_date"), ("deal_amount", "sales_cycle_days")


def _typed_or_text(canonical: str, column: pd.Series) -> pd.Series:
    """Typed columns (Parquet, a database) stay typed where the type is the one wanted: dates as dates,
    numbers as numbers, labels as categoricals. Everything else becomes text and is parsed as a file's."""
    dtype = column.dtype
    if dtype == object and canonical in DATE_COLUMNS + NUMBER_COLUMNS:
        column = _from_python_objects(column)  # a database driver's dates and decimals, as numpy types
        dtype = column.dtype
    if canonical in DATE_COLUMNS and pd.api.types.is_datetime64_any_dtype(dtype):
        return column
    if canonical in NUMBER_COLUMNS and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return column.astype("float64")
    if canonical != "deal_id" and isinstance(dtype, pd.CategoricalDtype) and canonical not in DATE_COLUMNS + NUMBER_COLUMNS:
        labels = pd.Index(dtype.categories.astype(str)).str.strip()
        if labels.is_unique:
            column = column.cat.rename_categories(labels)
            return column.cat.add_categories([""]).fillna("") if column.hasnans and "" not in labels else \
                column.fillna("") if column.hasnans else column
    return _as_text(column)


def _from_python_objects(column: pd.Series) -> pd.Series:
    """A column of Python dates, datetimes or decimals (what DB-API drivers return for DATE, TIMESTAMP and
    NUMERIC) as datetime64 or float64; anything else (text, a mix) unchanged, to be parsed as text is."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    try:
        if kind in ("date", "datetime"):
            return pd.to_datetime(column, utc=True)  # naive values as UTC: the same days once the zone is dropped
        if kind in ("decimal", "integer", "floating", "mixed-integer-float"):
            return column.astype("float64")
    except (ValueError, TypeError, OverflowError):  # out-of-range years, mixed zones: the text path says why
        pass
    return column


def _as_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").fillna("")
    text = column.astype(str)
    if column.hasnans:
        text = text.where(column.notna(), "")
    # Stripping ten million ids that have no spaces wrote a second copy of them all (0.5 s, 160 MB)
    return text if _is_trimmed(text) else text.str.strip()


def _is_trimmed(text: pd.Series) -> bool:
    """True when no value can have whitespace to strip: each non-empty value starts and ends with a
    printable ASCII character that is not a space (read from the Arrow buffers: two bytes per value).
    Any other first or last byte (a space, a control character, any non-ASCII character, which may be
    Unicode whitespace) answers False, and the values are stripped as before."""
    import pyarrow as pa

    try:
        array = pa.array(text, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return False
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return False
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        if len(chunk) == 0:
            continue
        offset_type = np.dtype(np.int64 if pa.types.is_large_string(chunk.type) else np.int32)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=offset_type, count=len(chunk) + 1,
                                offset=chunk.offset * offset_type.itemsize)
        filled = offsets[1:] > offsets[:-1]
        if not filled.any():
            continue
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
        first, last = data[offsets[:-1][filled]], data[offsets[1:][filled] - 1]
        if ((first < 0x21) | (first > 0x7E) | (last < 0x21) | (last > 0x7E)).any():
            return False
    return True


def _unusable(missing: np.ndarray, is_closed: np.ndarray, raw: pd.Series) -> np.ndarray:
    """Rows whose value did not parse, less the open deals that left it blank (kept, counted as gaps).
    Only the open rows that failed are looked at in the raw column: usually none of ten million."""
    gaps = np.flatnonzero(missing & ~is_closed)
    if not len(gaps):
        return missing
    at = raw.iloc[gaps]
    blank = (at.isna() | (at.astype(str) == "")).to_numpy()  # text, a typed null or a categorical's either
    out = missing.copy()
    out[gaps[blank]] = False
    return out


# Lost deals whose amounts are 0 at least this often (and won deals that have amounts) mean the CRM zeroes
# a lost deal's amount; a few $0 losses among real ones are ordinary data.
LOST_ZERO_SHARE = 0.95
LOST_ZERO_MIN_DEALS = 10


def lost_amounts_zeroed(amount: np.ndarray, won: np.ndarray) -> bool:
    """True when (nearly) every lost deal is at 0 while most won deals have an amount."""
    lost = amount[~won]
    if len(lost) < LOST_ZERO_MIN_DEALS or not won.any():
        return False
    return bool((lost == 0).mean() >= LOST_ZERO_SHARE and (amount[won] > 0).mean() >= 0.5)


def _days_between(created: pd.Series, closed: pd.Series) -> np.ndarray:
    """(closed - created).dt.days as floats, NaN where a date is missing: whole days, rounded down.
    Naive dates (all but a dates.format with a zone) in integer numpy, with no Series temporaries."""
    if not all(isinstance(s.dtype, np.dtype) and s.dtype.kind == "M" for s in (created, closed)):
        return (closed - created).dt.days.astype(float).to_numpy()
    between = closed.to_numpy() - created.to_numpy()
    unit_per_day = np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(between.dtype)[0])
    days = (between.view(np.int64) // unit_per_day).astype(float)
    days[np.isnat(between)] = np.nan
    return days


def build_snapshot(
    frame: pd.DataFrame,
    dims: tuple[str, ...],
    mapping: ColumnMapping,
    source: str,
    as_of: dt.date | None,
    started: float,
    lines: np.ndarray | None = None,
    malformed: tuple[tuple[int, str], ...] = (),
) -> Snapshot:
    """`frame` is the caller's own (from_table builds it): its columns are let go one by one below."""
    n = len(frame)
    reason = np.zeros(n, dtype=np.int8)  # 0: kept; k: REASONS[k - 1] (small integers, not strings, per row)

    def flag(mask, why):
        mask = np.asarray(mask, dtype=bool) & (reason == 0)
        reason[mask] = REASONS.index(why) + 1

    is_won = _folded_isin(frame["outcome"], ("won",) + mapping.won_values)
    is_lost = _folded_isin(frame["outcome"], ("lost",) + mapping.lost_values)
    is_open = _folded_isin(frame["outcome"], ("", "open") + mapping.open_values)
    if mapping.others_are_open:
        is_open = is_open | ~(is_won | is_lost)  # not |=: pandas may hand back a read-only array
    if "is_closed" in frame:  # IsClosed decides open or closed; the outcome column only won or lost
        flag_closed = parse_flags(frame["is_closed"])
        known = flag_closed.notna().to_numpy()
        closed_now = flag_closed.fillna(False).to_numpy(dtype=bool)
        is_won, is_lost = is_won & closed_now, is_lost & closed_now
        is_open = known & ~closed_now
        del flag_closed, known, closed_now
    is_closed = is_won | is_lost

    # -- every row's reason first, from the full-length columns ---------------------------------------
    _release_arrow_memory()  # what the read left behind
    blank_id = (frame["deal_id"] == "").to_numpy()
    flag(blank_id, "missing_deal_id")
    flag(_duplicated(frame["deal_id"]) & ~blank_id, "duplicate_deal_id")
    del blank_id
    flag(~(is_closed | is_open), "unknown_outcome")
    del is_open

    created = _parse_dates(frame["created_date"], mapping)
    closed = _parse_dates(frame["closed_date"], mapping)
    # an open deal with a blank created date is kept (early deals often have none): only a closed deal
    # needs one, and a created date written but not readable still points at a wrong format
    flag(_unusable(created.isna().to_numpy(), is_closed, frame["created_date"]), "unparseable_created_date")
    flag(is_closed & closed.isna().to_numpy(), "unparseable_closed_date")
    flag(is_closed & (closed < created).to_numpy(), "closed_before_created")
    horizon = pd.Timestamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + FUTURE_SLACK)
    flag((created > horizon).to_numpy(), "future_created_date")
    flag(is_closed & (closed > horizon).to_numpy(), "future_closed_date")

    amount = frame["deal_amount"] if pd.api.types.is_float_dtype(frame["deal_amount"].dtype) else \
        parse_amounts(frame["deal_amount"], mapping.decimal)
    amount = amount.to_numpy(dtype=float, na_value=np.nan)
    # likewise an open deal with a blank amount is kept and counted; a closed one needs its amount
    flag(_unusable(np.isnan(amount), is_closed, frame["deal_amount"]), "missing_amount")
    flag(np.isinf(amount), "non_finite_amount")
    flag(amount < 0, "negative_amount")

    derived_cycle = _days_between(created, closed)
    if "sales_cycle_days" in frame and pd.api.types.is_float_dtype(frame["sales_cycle_days"].dtype):
        cycle = frame["sales_cycle_days"].to_numpy(dtype=float, na_value=np.nan)  # typed: a missing value
        flag(cycle < 0, "bad_cycle_days")                                           # is derived from the dates
        cycle = np.where(np.isnan(cycle), derived_cycle, cycle)
    elif "sales_cycle_days" in frame:
        given = frame["sales_cycle_days"]
        parsed = _numbers(given)
        flag(((given != "") & parsed.isna()) | (parsed < 0) | np.isinf(parsed.to_numpy(dtype=float, na_value=np.nan)),
             "bad_cycle_days")
        cycle = parsed.where(given != "", derived_cycle).to_numpy(dtype=float, na_value=np.nan)
        del given, parsed
    else:
        cycle = derived_cycle
    del derived_cycle
    if not cycle.flags.writeable:  # a view of the column's own data
        cycle = cycle.copy()
    cycle[~is_closed] = np.nan

    for d in dims:
        flag((frame[d] == "").to_numpy(), "missing_segment")

    # -- the rows set aside, with their original values, before any column is let go ------------------
    keep = reason == 0
    rejected = frame[~keep].copy()
    rejected.insert(0, "row", lines[~keep] if lines is not None else np.flatnonzero(~keep) + 2)  # file lines
    rejected.insert(1, "reason", np.array(("",) + REASONS, dtype=object)[reason[~keep]])
    reason = None  # let go (rebound, not del: the closure above still names it)
    index_type = np.int32 if n < 2**31 else np.int64
    closed_rows = np.flatnonzero(keep & is_closed).astype(index_type)
    open_rows = np.flatnonzero(keep & ~is_closed).astype(index_type)
    open_without_amount = int(np.isnan(amount[open_rows]).sum())
    open_without_created = int(created.iloc[open_rows].isna().sum())
    lost_zeroed = lost_amounts_zeroed(amount[closed_rows], is_won[closed_rows])

    # -- then column by column: the closed and the open rows taken, the full-length column dropped ----
    deal_columns, open_columns = {}, {}

    def split(name: str, values) -> None:
        if isinstance(values, pd.Series):
            deal_columns[name] = values.iloc[closed_rows].reset_index(drop=True)
            open_columns[name] = values.iloc[open_rows].reset_index(drop=True)
        elif isinstance(values, pd.Categorical):
            deal_columns[name], open_columns[name] = values.take(closed_rows), values.take(open_rows)
        else:
            deal_columns[name], open_columns[name] = pd.Series(values[closed_rows]), pd.Series(values[open_rows])

    _release_arrow_memory()
    split("deal_id", frame.pop("deal_id"))
    _release_arrow_memory()  # the full-length ids
    del frame["created_date"], frame["closed_date"]
    split("created_date", created)
    del created
    split("closed_date", closed)
    open_columns["closed_date"] = pd.Series(pd.NaT, index=open_columns["closed_date"].index, dtype=closed.dtype)
    del closed  # open deals have no closed date
    del frame["deal_amount"]
    split("deal_amount", amount)
    del amount
    if "sales_cycle_days" in frame:
        del frame["sales_cycle_days"]
    split("sales_cycle_days", cycle)
    del cycle
    # a categorical of three labels: one byte per deal rather than a string
    outcome = np.where(is_won, 2, np.where(is_lost, 1, 0)).astype(np.int8)
    split("outcome", pd.Categorical.from_codes(outcome, categories=pd.Index(["", LOST, WON])))
    del outcome, is_won, is_lost
    for d in dims:
        split(d, _coded(safe_labels(frame.pop(d)), keep, d, mapping.stage_order))
    del frame
    for part in deal_columns, open_columns:  # bands of the rows' own values: no full-length column needed
        part["size_band"] = _band(part["deal_amount"].to_numpy(), SIZE_BANDS)
        part["cycle_band"] = _band(part["sales_cycle_days"].to_numpy(), CYCLE_BANDS)
    deals = pd.DataFrame(deal_columns, copy=False)
    open_deals = pd.DataFrame(open_columns, copy=False)
    deal_columns = open_columns = None  # let go (rebound, not del: split() names them)

    if malformed:
        broken = pd.DataFrame({"row": [m[0] for m in malformed],
                               "reason": [m[2] if len(m) > 2 else "malformed_row" for m in malformed],
                               "raw": [m[1] for m in malformed]})
        rejected = pd.concat([rejected, broken], ignore_index=True).sort_values("row", kind="stable")
    counts = rejected["reason"].value_counts()
    set_aside = {r: int(counts[r]) for r in REASONS if r in counts}
    examples = {r: rejected.loc[rejected["reason"] == r, "row"].head(5).tolist() for r in set_aside}

    kept_created = [part["created_date"] for part in (deals, open_deals) if len(part)]
    created_range = (min(days.min() for days in kept_created).date(),
                     max(days.max() for days in kept_created).date()) if kept_created else None
    closed_range = (deals["closed_date"].min().date(), deals["closed_date"].max().date()) if len(deals) else None
    censored_after = None
    if created_range and closed_range and (closed_range[1] - created_range[1]).days > CENSORING_GAP_DAYS:
        censored_after = created_range[1]

    # zeroed losses put every lost deal in the smallest size band: the band would "explain" the outcome
    all_dims = dims + (("cycle_band",) if lost_zeroed else ("size_band", "cycle_band"))
    report = DataReport(
        source=source,
        rows_read=n + len(malformed),
        closed_deals=len(deals),
        open_deals=len(open_deals),
        set_aside=set_aside,
        examples=examples,
        created_range=created_range,
        closed_range=closed_range,
        censored_after=censored_after,
        load_seconds=time.perf_counter() - started,
        loaded_at=dt.datetime.now(dt.timezone.utc),
        dimensions=all_dims,
        stage_order=mapping.stage_order or STAGE_ORDER,
        stage_outcome_only="deal_stage" in dims and bool(stage_records_outcome_only(
            deals["deal_stage"].cat.codes.to_numpy(), (deals["outcome"] == WON).to_numpy(),
            len(deals["deal_stage"].cat.categories))),
        open_without_amount=open_without_amount,
        open_without_created=open_without_created,
        lost_amounts_zeroed=lost_zeroed,
    )
    latest = closed_range[1] if closed_range else dt.date.today()
    snapshot = Snapshot(deals, open_deals, rejected.reset_index(drop=True), report, latest, all_dims)
    if as_of is not None and as_of != latest:
        snapshot = snapshot.at(as_of)
    return snapshot
