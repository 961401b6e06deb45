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
        check_mapping_types(raw, where)
        columns = raw.get("columns", {}) or {}
        unknown = sorted(set(columns) - set(CANONICAL_COLUMNS))
        if unknown:
            raise DataError(
                f"The {where} maps unknown column(s) {', '.join(unknown)}; "
                f"canonical columns are {', '.join(CANONICAL_COLUMNS)}."
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

        def values(key):
            v = outcome.get(key, ())
            return tuple(str(x).strip().lower() for x in ([v] if isinstance(v, (str, bool, int)) else v))

        return cls(
            columns={k: str(v) for k, v in columns.items()},
            won_values=values("won"),
            lost_values=values("lost"),
            open_values=values("open"),
            others_are_open=others == "open",
            absent=absent,
            date_format=dates.get("format"),
            dayfirst=bool(dates.get("dayfirst", False)),
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
    malformed: tuple[tuple[int, str], ...] = ()  # (line, text) of rows with the wrong number of fields


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


def read_table(path: str | Path) -> RawTable:
    """Read every column as text so that bad values survive to be reported, not coerced away."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"No deal file at {path}.")
    suffix = path.suffix.lower()
    try:
        check_size(path)
        if suffix in (".csv", ".txt", ".gz"):
            check_header(path)
        if suffix in (".parquet", ".pq"):
            return RawTable(pd.read_parquet(path))
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


def _open_text(path: Path):
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt", newline="", encoding="utf-8", errors="replace")
    return open(path, newline="", encoding="utf-8", errors="replace")


def _physical_lines(path: Path) -> int:
    """Lines holding text (a last line without a newline counts; a trailing newline adds none)."""
    opener = (lambda: __import__("gzip").open(path, "rb")) if path.suffix.lower() == ".gz" else (lambda: open(path, "rb"))
    count, last = 0, b"\n"
    with opener() as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _read_csv_exactly(path: Path) -> RawTable:
    """The slow, exact path: every row with the line it starts on; blank lines skipped; rows with
    the wrong number of fields kept aside as malformed, never dropped."""
    import csv

    rows, lines, malformed = [], [], []
    with _open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"Cannot read {path}: the file is empty.")
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
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


def _parse_dates(text: pd.Series, mapping: ColumnMapping) -> pd.Series:
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
            flexible = pd.to_datetime(text[retry], format="mixed", dayfirst=mapping.dayfirst, errors="coerce",
                                      utc=True)
            parsed[retry] = flexible.dt.tz_localize(None).dt.normalize()
        parsed = parsed.dt.normalize()
    # A year outside DATE_YEARS is a placeholder or a typo ("-1" parses as year -1; 9999-12-31): such a
    # date crashed the report (year -1) or became the as-of date, so it is unparseable and set aside.
    return parsed.where(parsed.dt.year.between(*DATE_YEARS))


def _numbers(text: pd.Series) -> pd.Series:
    """Text to float; blanks and non-numbers become NaN. A fast cast first, the slow path on failure."""
    try:
        return text.where(text != "").astype("float64")
    except (ValueError, TypeError):
        return pd.to_numeric(text, errors="coerce")


_LABEL_MARKUP = str.maketrans({"`": "\u02cb", "<": "\u2039", ">": "\u203a"})


def safe_labels(values: pd.Series) -> pd.Series:
    """Segment labels as every front end may show them: control characters (a newline, a tab) become
    one space, and the characters chat markup is made of become look-alikes that mean nothing there
    (` to ˋ, < and > to ‹ and ›), so a CRM value such as `<!channel>` or a backtick fence can never
    ping a channel or break a code-formatted table, whatever the template or the field."""
    text = values.astype(str)
    odd = text.str.contains(r"[\x00-\x1f\x7f`<>]", regex=True)
    if not odd.any():
        return values
    fixed = text[odd].str.replace(r"[\x00-\x1f\x7f]+", " ", regex=True).str.translate(_LABEL_MARKUP).str.strip()
    return text.where(~odd, fixed)


def _natural_key(value: str):
    import re

    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", value)]


def _categories(dim: str, values: pd.Series) -> list[str]:
    present = values.unique().tolist()
    if dim == "deal_stage":
        order = {s.casefold(): i for i, s in enumerate(STAGE_ORDER)}
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
    table = read_table(path)
    return from_table(table.frame, mapping, str(path), as_of, started, table.lines, table.malformed)


def from_table(
    raw: pd.DataFrame,
    mapping: ColumnMapping | None = None,
    source: str = "table",
    as_of: dt.date | None = None,
    started: float | None = None,
    lines: np.ndarray | None = None,
    malformed: tuple[tuple[int, str], ...] = (),
) -> Snapshot:
    """Validate an already-read table (any dtypes) exactly as a file would be validated."""
    started = time.perf_counter() if started is None else started
    mapping = mapping or ColumnMapping()
    raw = raw.copy(deep=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    folded = [c.casefold().replace(" ", "_") for c in raw.columns]
    twice = sorted({c for c, f in zip(raw.columns, folded) if folded.count(f) > 1})
    if twice:
        raise DataError(f"The deal table has more than one column named {', '.join(map(repr, twice))}; rename or "
                        f"remove the extra column(s) so it is clear which one to use.")
    found = list(raw.columns)
    renamed = {}
    for canonical in CANONICAL_COLUMNS:
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
    frame = pd.DataFrame({k: _as_text(v) for k, v in renamed.items()})
    return build_snapshot(frame, dims, mapping, source, as_of, started, lines, malformed)


def _as_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").fillna("")
    return column.astype(str).where(column.notna(), "").str.strip()


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
    n = len(frame)
    row_number = lines if lines is not None else np.arange(n) + 2  # 1-based file lines, header on line 1
    reason = np.full(n, "", dtype=object)

    def flag(mask, why):
        mask = np.asarray(mask, dtype=bool) & (reason == "")
        reason[mask] = why

    outcome_text = frame["outcome"].str.lower()
    is_won = outcome_text.isin(("won",) + mapping.won_values).to_numpy()
    is_lost = outcome_text.isin(("lost",) + mapping.lost_values).to_numpy()
    is_open = outcome_text.isin(("", "open") + mapping.open_values).to_numpy()
    if mapping.others_are_open:
        is_open = is_open | ~(is_won | is_lost)  # not |=: pandas may hand back a read-only array
    is_closed = is_won | is_lost

    deal_id = frame["deal_id"]
    flag(deal_id == "", "missing_deal_id")
    flag(deal_id.duplicated(keep="first") & (deal_id != ""), "duplicate_deal_id")
    flag(~(is_closed | is_open), "unknown_outcome")

    created = _parse_dates(frame["created_date"], mapping)
    closed = _parse_dates(frame["closed_date"], mapping)
    flag(created.isna(), "unparseable_created_date")
    flag(is_closed & closed.isna().to_numpy(), "unparseable_closed_date")
    flag(is_closed & (closed < created).to_numpy(), "closed_before_created")
    horizon = pd.Timestamp(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + FUTURE_SLACK)
    flag((created > horizon).to_numpy(), "future_created_date")
    flag(is_closed & (closed > horizon).to_numpy(), "future_closed_date")

    amount = _numbers(frame["deal_amount"].str.replace(",", "", regex=False))
    flag(amount.isna(), "missing_amount")
    flag(~np.isfinite(amount.to_numpy(dtype=float, na_value=np.nan)), "non_finite_amount")
    flag(amount < 0, "negative_amount")

    derived_cycle = (closed - created).dt.days.astype(float)
    if "sales_cycle_days" in frame:
        given = frame["sales_cycle_days"]
        cycle = _numbers(given)
        flag(((given != "") & cycle.isna()) | (cycle < 0) | np.isinf(cycle.to_numpy(dtype=float, na_value=np.nan)),
             "bad_cycle_days")
        cycle = cycle.where(given != "", derived_cycle)
    else:
        cycle = derived_cycle
    cycle = cycle.where(is_closed, np.nan)

    for d in dims:
        flag(frame[d] == "", "missing_segment")

    keep = reason == ""
    outcome = np.where(is_won, WON, np.where(is_lost, LOST, ""))
    clean = pd.DataFrame(
        {
            "deal_id": deal_id,
            "created_date": created,
            "closed_date": closed.where(is_closed),
            "deal_amount": amount.astype(float),
            "sales_cycle_days": cycle.astype(float),
            "outcome": outcome,
        }
    )
    for d in dims:
        clean[d] = safe_labels(frame[d])
    clean = clean[keep]
    for d in dims:
        # build from the values, then reorder: far faster than passing categories up front
        values = pd.Categorical(clean[d])
        clean[d] = values.reorder_categories(_categories(d, pd.Series(values.categories)))
    clean["size_band"] = _band(clean["deal_amount"].to_numpy(), SIZE_BANDS)
    clean["cycle_band"] = _band(clean["sales_cycle_days"].to_numpy(), CYCLE_BANDS)

    closed_mask = clean["outcome"] != ""
    deals = clean[closed_mask].reset_index(drop=True)
    open_deals = clean[~closed_mask].reset_index(drop=True)

    rejected = frame[~keep].copy()
    rejected.insert(0, "row", row_number[~keep])
    rejected.insert(1, "reason", reason[~keep])
    if malformed:
        broken = pd.DataFrame({"row": [m[0] for m in malformed], "reason": "malformed_row",
                               "raw": [m[1] for m in malformed]})
        rejected = pd.concat([rejected, broken], ignore_index=True).sort_values("row", kind="stable")
    counts = rejected["reason"].value_counts()
    set_aside = {r: int(counts[r]) for r in REASONS if r in counts}
    examples = {r: rejected.loc[rejected["reason"] == r, "row"].head(5).tolist() for r in set_aside}

    created_range = (clean["created_date"].min().date(), clean["created_date"].max().date()) if len(clean) else None
    closed_range = (deals["closed_date"].min().date(), deals["closed_date"].max().date()) if len(deals) else None
    censored_after = None
    if created_range and closed_range and (closed_range[1] - created_range[1]).days > CENSORING_GAP_DAYS:
        censored_after = created_range[1]

    all_dims = dims + ("size_band", "cycle_band")
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
    )
    latest = closed_range[1] if closed_range else dt.date.today()
    snapshot = Snapshot(deals, open_deals, rejected.reset_index(drop=True), report, latest, all_dims)
    if as_of is not None and as_of != latest:
        snapshot = snapshot.at(as_of)
    return snapshot
