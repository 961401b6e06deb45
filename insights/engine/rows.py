"""The loader's validation written as SQL: each row's first set-aside reason, outcome, days, amount and bands.

What a raw value means is decided by the loader's own code, never by a second copy of its rules: the
distinct values of the columns that need reading (outcomes, flags, segment labels, dates and amounts
stored as text) are fetched once — a few thousand at most, even over a hundred million rows — read in
Python by the loader's functions, and handed back to the database as small lookup lists. Only what SQL
reads exactly the same way stays in SQL: typed dates and numbers, plain decimal numbers, comparisons.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..labels import safe_label
from ..load import EXTRA_COLUMNS, REASONS, ColumnMapping, MissingColumnsError
from ..load.parse import DATE_YEARS, parse_dates
from ..load.parse import numbers as parse_numbers
from ..mapping import FALSE_FLAGS, TRUE_FLAGS, parse_amounts
from ..schema import CANONICAL_COLUMNS, CYCLE_BANDS, DERIVABLE_COLUMNS, SIZE_BANDS, SOURCE_DIMENSIONS
from .where import EngineUnsupported, Place, literal, quoted

# Distinct values of one column read in Python; a column with more (amounts as text, say) is refused
# with a sentence, and the in-memory loader reads it.
MAX_DISTINCT = 100_000
# A number SQL and pandas read to the same double: digits, an optional fraction, no exponent.
PLAIN_NUMBER = r"-?[0-9]{1,15}(\.[0-9]{1,15})?"
WON_STATE, LOST_STATE, OPEN_STATE, UNKNOWN_STATE = 2, 1, 0, -1


def resolve_columns(place: Place, mapping: ColumnMapping) -> tuple[dict[str, str], tuple[str, ...]]:
    """canonical -> source column (as `from_table` matches them: exactly, else ignoring case and spaces),
    and the segment dimensions the data has; missing required columns raise the loader's error."""
    stripped = {name.strip(): name for name in place.columns}
    folded = {name.casefold().replace(" ", "_"): real for name, real in stripped.items()}
    found = {}
    for canonical in CANONICAL_COLUMNS + tuple(c for c in EXTRA_COLUMNS if c in mapping.columns):
        name = mapping.columns.get(canonical, canonical)
        real = stripped.get(name) or folded.get(name.casefold().replace(" ", "_"))
        if real is not None:
            found[canonical] = real
    # as the in-memory loader: a segment column the source lacks (and the mapping does not name) is absent
    dims = tuple(d for d in SOURCE_DIMENSIONS if d not in mapping.absent and d in found)
    required = [c for c in CANONICAL_COLUMNS if c not in DERIVABLE_COLUMNS and c not in mapping.absent
                and (c not in SOURCE_DIMENSIONS or c in mapping.columns)]
    missing = [mapping.columns.get(c, c) for c in required if c not in found]
    if missing:
        raise MissingColumnsError(missing, list(stripped), mapping_hint=bool(mapping.columns),
                                  unmapped=tuple(c for c in required if c not in found and c not in mapping.columns))
    return found, dims


def text(column: str) -> str:
    """A source column as the text the loader reads (NULL as blank)."""
    return f"COALESCE(CAST(s.{quoted(column)} AS VARCHAR), '')"


@dataclass(frozen=True)
class Readings:
    """What the loader makes of each distinct raw value of the columns read in Python."""

    won: tuple[str, ...]
    lost: tuple[str, ...]
    open: tuple[str, ...]
    closed_true: tuple[str, ...]  # is_closed values read as true
    closed_false: tuple[str, ...]
    labels: dict[str, dict[str, str]]  # dim -> raw -> label (blank raws left out)
    blank_labels: dict[str, tuple[str, ...]]  # dim -> raws that are blank (a missing segment)
    dates: dict[str, pd.DataFrame]  # text date column -> raw, day (or NaT), blank
    numbers: dict[str, pd.DataFrame]  # text amount/cycle column -> raw, value, blank, bad


class Validation:
    """The SQL of the validated rows of one source under one mapping, and the readings it was built from."""

    def __init__(self, place: Place, mapping: ColumnMapping, since: dt.date | None, horizon: dt.date):
        self.place, self.mapping, self.since, self.horizon = place, mapping, since, horizon
        self.columns, self.dims = resolve_columns(place, mapping)
        self.kinds = {c: place.columns[col] for c, col in self.columns.items()}
        for c in ("created_date", "closed_date"):
            if self.kinds[c] not in ("date", "timestamp", "text"):
                raise EngineUnsupported(f"The {self.columns[c]} column is a {self.kinds[c]} column: the engine reads "
                                        "dates as DATE, TIMESTAMP or text; the in-memory loader reads the rest.")
        for c in self.dims + ("outcome",):
            if self.kinds[c] != "text":
                raise EngineUnsupported(f"The {self.columns[c]} column holds numbers, which pandas and SQL write "
                                        "as text differently: the in-memory loader reads it.")
        if since is not None and not all(self.kinds[c] in ("date", "timestamp") for c in ("created_date", "closed_date")):
            raise EngineUnsupported("A time window on dates stored as text is applied after reading, in memory.")
        self.readings = self._read_values()

    # -- the raw values, read by the loader's own functions -----------------------------------------------
    def source(self) -> str:
        where = ""
        if self.since is not None:  # as sources.sql pushes DEALS_SINCE into its WHERE clause
            created, closed = (quoted(self.columns[c]) for c in ("created_date", "closed_date"))
            day = f"DATE {literal(self.since.isoformat())}"
            where = (f" WHERE s.{created} >= {day} OR s.{closed} >= {day} "
                     f"OR (s.{created} IS NULL AND s.{closed} IS NULL)")
        return f"SELECT * FROM {self.place.relation} AS s{where}"

    def _text_columns(self) -> dict[str, str]:
        """column key -> the SQL predicate of the values read in Python (None: all)."""
        wanted = {c: None for c in ("outcome",) + self.dims + tuple(c for c in EXTRA_COLUMNS if c in self.columns)}
        for c in ("created_date", "closed_date"):
            if self.kinds[c] == "text":
                wanted[c] = None
        for c in ("deal_amount", "sales_cycle_days"):
            if c in self.columns and self.kinds[c] == "text":
                plain = self.mapping.decimal != "," or c == "sales_cycle_days"
                wanted[c] = f"NOT {self._plain(c)}" if plain else None
        return wanted

    def _plain(self, canonical: str) -> str:
        return self.place.dialect.matches(text(self.columns[canonical]), PLAIN_NUMBER)

    def _read_values(self) -> Readings:
        parts = []
        for c, where in self._text_columns().items():
            cond = f" WHERE {where}" if where else ""
            parts.append(f"SELECT {literal(c)} AS col, raw FROM (SELECT DISTINCT {text(self.columns[c])} AS raw "
                         f"FROM ({self.source()}) AS s{cond} LIMIT {MAX_DISTINCT + 1}) AS d")
        found = self.place.timed(" UNION ALL ".join(parts))
        values = {c: found.loc[found["col"] == c, "raw"].astype(str).tolist() for c in self._text_columns()}
        for c, raws in values.items():
            if len(raws) > MAX_DISTINCT:
                raise EngineUnsupported(f"The {self.columns[c]} column has more than {MAX_DISTINCT:,} distinct values "
                                        "to read as text: the in-memory loader reads it.")
        m = self.mapping
        folded = {raw: raw.strip().lower() for raw in values["outcome"]}
        won = tuple(r for r, f in folded.items() if f in ("won",) + m.won_values)
        lost = tuple(r for r, f in folded.items() if f in ("lost",) + m.lost_values)
        opened = tuple(r for r, f in folded.items() if f in ("", "open") + m.open_values
                       or (m.others_are_open and r not in won and r not in lost))
        flags = {raw: raw.strip().lower() for raw in values.get("is_closed", ())}
        labels, blank = {}, {}
        for d in self.dims:
            stripped = {raw: raw.strip() for raw in values[d]}
            blank[d] = tuple(r for r, s in stripped.items() if s == "")
            labels[d] = {r: safe_label(s) for r, s in stripped.items() if s != ""}
        dates = {}
        for c in ("created_date", "closed_date"):
            if c in values:
                stripped = pd.Series([raw.strip() for raw in values[c]], dtype=object)
                dates[c] = pd.DataFrame({"raw": values[c], "day": parse_dates(stripped, m).to_numpy(),
                                         "blank": (stripped == "").to_numpy()})
        numbers = {}
        for c in ("deal_amount", "sales_cycle_days"):
            if c in values:
                stripped = pd.Series([raw.strip() for raw in values[c]], dtype=object)
                parsed = (parse_amounts(stripped, m.decimal) if c == "deal_amount" else parse_numbers(stripped))
                value = parsed.to_numpy(dtype=float, na_value=np.nan)
                given = (stripped != "").to_numpy()
                numbers[c] = pd.DataFrame({"raw": values[c], "value": value, "blank": ~given,
                                           "bad": (given & np.isnan(value)) | (value < 0) | np.isinf(value)})
        return Readings(won, lost, opened, tuple(r for r, f in flags.items() if f in TRUE_FLAGS),
                        tuple(r for r, f in flags.items() if f in FALSE_FLAGS), labels, blank, dates, numbers)

    # -- the rows ------------------------------------------------------------------------------------
    def rows(self, numbered: bool = False) -> str:
        """`WITH ...` up to `v`: one row per source row with reason (0: kept), state, created, closed,
        amount, cycle, size_band, cycle_band and each dimension's raw value as d_<dim>. `numbered`: `_row`
        is the row number the in-memory path gives (a window over the whole table, for examples only)."""
        place, dialect, r = self.place, self.place.dialect, self.readings
        maps, joins = [], []
        for c, table in r.dates.items():
            name = f"m_{c}"
            rows = [f"(CAST({literal(raw)} AS VARCHAR), {_day(day)}, {_bool(b)})"
                    for raw, day, b in table.itertuples(index=False)]
            maps.append(f"{name}(raw, value, blank) AS (VALUES {', '.join(rows) or _NONE_DATE})")
            joins.append(f"LEFT JOIN {name} ON {name}.raw = {text(self.columns[c])}")
        for c, table in r.numbers.items():
            name = f"m_{c}"
            rows = [f"(CAST({literal(raw)} AS VARCHAR), {_number(dialect, value)}, {_bool(b)}, {_bool(bad)})"
                    for raw, value, b, bad in table.itertuples(index=False)]
            maps.append(f"{name}(raw, value, blank, bad) AS "
                        f"(VALUES {', '.join(rows) or _none_number(dialect)})")
            joins.append(f"LEFT JOIN {name} ON {name}.raw = {text(self.columns[c])}")

        created, created_blank = self._date("created_date")
        closed, _ = self._date("closed_date")
        amount, amount_blank, _ = self._number("deal_amount")
        cycle, _, cycle_bad = self._number("sales_cycle_days")
        closed_state = f"state IN ({LOST_STATE}, {WON_STATE})"
        ident = self.columns["deal_id"]
        dims = "".join(f", {text(self.columns[d])} AS d_{d}" for d in self.dims)
        row = f"ROW_NUMBER() OVER (ORDER BY s.{quoted(ident)}) + 1" if numbered and place.row_window else "s._row"
        order = "order_id" if place.row_window else "_row"
        missing_segment = " OR ".join(_in(f"d_{d}", r.blank_labels[d]) for d in self.dims) or "FALSE"
        day = f"DATE {literal(self.horizon.isoformat())}"
        checks = {
            "missing_deal_id": "id = ''",
            "duplicate_deal_id": "copy > 1",
            "unknown_outcome": f"state = {UNKNOWN_STATE}",
            "unparseable_created_date": f"created IS NULL AND ({closed_state} OR NOT created_blank)",
            "unparseable_closed_date": f"{closed_state} AND closed IS NULL",
            "closed_before_created": f"{closed_state} AND closed < created",
            "future_created_date": f"created > {day}",
            "future_closed_date": f"{closed_state} AND closed > {day}",
            "missing_amount": f"amount IS NULL AND ({closed_state} OR NOT amount_blank)",
            "non_finite_amount": dialect.is_inf("amount"),
            "negative_amount": "amount < 0",
            "bad_cycle_days": "cycle_bad",
            "missing_segment": missing_segment,
        }
        reason = "CASE " + " ".join(f"WHEN {cond} THEN {REASONS.index(why) + 1}" for why, cond in checks.items()) + \
            " ELSE 0 END"
        with_maps = "".join(f"{m}, " for m in maps)
        # src and base are read again by each use rather than kept: a column store reads only the columns
        # each use needs (the duplicate check reads the ids alone), and no copy of the table is held
        return f"""WITH {with_maps}src AS NOT MATERIALIZED ({self.source()}),
base AS NOT MATERIALIZED (
  SELECT {row} AS _row, s.{quoted(ident)} AS order_id, TRIM({text(ident)}) AS id, {self._state()} AS state,
         {created} AS created, {created_blank} AS created_blank, {closed} AS closed,
         {amount} AS amount, {amount_blank} AS amount_blank, {cycle} AS cycle_given, {cycle_bad} AS cycle_bad{dims}
  FROM src AS s {' '.join(joins)}
),
{self._copies(order)}
reasoned AS (
  SELECT *, {reason} AS reason,
         CASE WHEN {closed_state} THEN COALESCE(cycle_given, CAST(closed - created AS {dialect.double})) END AS cycle
  FROM checked
),
v AS (SELECT *, {_band('amount', SIZE_BANDS)} AS size_band, {_band('cycle', CYCLE_BANDS)} AS cycle_band FROM reasoned)
"""

    @cached_property
    def repeated(self) -> tuple[int, ...] | None:
        """The hashes of the ids that occur more than once, found once per refresh from the ids alone
        (usually none); None when there are too many to list, and each query finds them itself. Parquet files
        whose ids provably lie apart (`disjoint_files`) are checked one file at a time: the same hashes, each
        query's hash table a file's ids rather than every file's (no spill past DuckDB's memory bound)."""
        ident = f"TRIM({text(self.columns['deal_id'])})"
        parts = [f"({self.source()})"]
        files = disjoint_files(self.place, self.columns["deal_id"]) if self.since is None else None
        if files:
            parts = [f"(SELECT * FROM read_parquet({literal(f)}))" for f in files]
        hashes: set[int] = set()
        for part in parts:
            found = self.place.timed(f"SELECT {self.place.dialect.hash(ident)} AS h FROM {part} AS s "
                                     f"GROUP BY 1 HAVING COUNT(*) > 1 LIMIT {MAX_DISTINCT + 1}")
            hashes.update(int(h) for h in found["h"])
            if len(hashes) > MAX_DISTINCT:
                return None
        return tuple(sorted(hashes)) if files else tuple(int(h) for h in found["h"])

    def _copies(self, order: str) -> str:
        """`checked`: base with `copy`, the row's place among the rows of its id (the first copy is kept).
        Only the rows whose id's hash repeats (every real repeat and the odd collision) are sorted for it."""
        h = self.place.dialect.hash("id")
        if self.repeated == ():
            return "checked AS (SELECT *, 1 AS copy FROM base),"
        listed = f"({', '.join(map(str, self.repeated))})" if self.repeated is not None else "(SELECT h FROM repeated)"
        head = "" if self.repeated is not None else \
            f"repeated AS (SELECT {h} AS h FROM base GROUP BY 1 HAVING COUNT(*) > 1),\n"
        return f"""{head}checked AS (
  SELECT *, 1 AS copy FROM base WHERE {h} NOT IN {listed}
  UNION ALL
  SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY {order}) AS copy FROM base WHERE {h} IN {listed}
),"""

    def _state(self) -> str:
        r = self.readings
        outcome = text(self.columns["outcome"])
        if "is_closed" in self.columns:  # IsClosed decides open or closed; the outcome column only won or lost
            flag = text(self.columns["is_closed"])
            return (f"CASE WHEN {_in(flag, r.closed_true)} AND {_in(outcome, r.won)} THEN {WON_STATE} "
                    f"WHEN {_in(flag, r.closed_true)} AND {_in(outcome, r.lost)} THEN {LOST_STATE} "
                    f"WHEN {_in(flag, r.closed_false)} THEN {OPEN_STATE} ELSE {UNKNOWN_STATE} END")
        return (f"CASE WHEN {_in(outcome, r.won)} THEN {WON_STATE} WHEN {_in(outcome, r.lost)} THEN {LOST_STATE} "
                f"WHEN {_in(outcome, r.open)} THEN {OPEN_STATE} ELSE {UNKNOWN_STATE} END")

    def _date(self, canonical: str) -> tuple[str, str]:
        """(the day or NULL, whether the raw value is blank)."""
        column = quoted(self.columns[canonical])
        if self.kinds[canonical] == "text":
            name = f"m_{canonical}"
            return f"{name}.value", f"COALESCE({name}.blank, FALSE)"
        first, last = (f"DATE '{year:04d}-{md}'" for year, md in zip(DATE_YEARS, ("01-01", "12-31")))
        day = f"CAST(s.{column} AS DATE)"
        return f"CASE WHEN {day} BETWEEN {first} AND {last} THEN {day} END", f"(s.{column} IS NULL)"

    def _number(self, canonical: str) -> tuple[str, str, str]:
        """(the value or NULL, whether the raw value is blank, whether it is a bad cycle)."""
        dialect = self.place.dialect
        if canonical not in self.columns:
            return f"CAST(NULL AS {dialect.double})", "TRUE", "FALSE"
        column = quoted(self.columns[canonical])
        if self.kinds[canonical] == "number":
            value = f"CAST(s.{column} AS {dialect.double})"
            value = f"CASE WHEN {dialect.is_nan(value)} THEN NULL ELSE {value} END"  # NaN: blank, as the loader's
            return value, f"({value} IS NULL)", f"COALESCE({value} < 0, FALSE)"
        if self.kinds[canonical] != "text":
            raise EngineUnsupported(f"The {self.columns[canonical]} column is neither a number nor text.")
        name = f"m_{canonical}"
        looked_up = (f"{name}.value", f"COALESCE({name}.blank, FALSE)", f"COALESCE({name}.bad, FALSE)")
        if canonical == "deal_amount" and self.mapping.decimal == ",":
            return looked_up
        plain = self._plain(canonical)
        value = f"CAST({text(self.columns[canonical])} AS {dialect.double})"
        negative = f"({value} < 0)" if canonical == "sales_cycle_days" else "FALSE"
        return (f"CASE WHEN {plain} THEN {value} ELSE {looked_up[0]} END",
                f"CASE WHEN {plain} THEN FALSE ELSE {looked_up[1]} END",
                f"CASE WHEN {plain} THEN {negative} ELSE {looked_up[2]} END")


_NONE_DATE = "(CAST(NULL AS VARCHAR), CAST(NULL AS DATE), FALSE)"


def _none_number(dialect) -> str:
    return f"(CAST(NULL AS VARCHAR), CAST(NULL AS {dialect.double}), FALSE, FALSE)"


def _day(day) -> str:
    return "CAST(NULL AS DATE)" if pd.isna(day) else f"DATE '{pd.Timestamp(day).date().isoformat()}'"


def _bool(value) -> str:
    return "TRUE" if bool(value) else "FALSE"


def _number(dialect, value: float) -> str:
    return f"CAST(NULL AS {dialect.double})" if np.isnan(value) else dialect.number(float(value))


def id_prefix(low: str, high: str) -> str | None:
    """The prefix every string from `low` to `high` (in byte order) begins with, when it still begins it after
    TRIM (which strips spaces): their common prefix less any spaces it ends with, if it is ASCII and starts and
    ends with a printable character other than a space; else None."""
    a, b = low.encode(), high.encode()
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    prefix = a[:k].rstrip(b" ")  # a shorter prefix of them all, ending before any space TRIM could reach
    if not prefix or not (0x20 < prefix[0] < 0x7F and 0x20 < prefix[-1] < 0x7F):
        return None
    return prefix.decode() if prefix.isascii() else None


def disjoint_files(place: Place, column: str) -> tuple[str, ...] | None:
    """A Parquet source's files when no deal id can be in two of them, read from their footers alone (no row):
    every row group's smallest and largest id (its statistics) give each file's range, and every string within
    a range begins with the common prefix of its ends; when each file's prefix (see `id_prefix`) is no other
    file's prefix nor begins with one, a repeated id lies within one file. None otherwise (one file, missing
    statistics, ids not text, prefixes that overlap): then every id is checked against every other."""
    files = getattr(place, "parquet", ())
    if len(files) < 2 or place.columns.get(column) != "text":
        return None
    found = place.connection.execute(
        f"SELECT file_name, COUNT(*), COUNT(stats_min_value), COUNT(stats_max_value), MIN(stats_min_value), "
        f"MAX(stats_max_value) FROM parquet_metadata([{', '.join(map(literal, files))}]) "
        f"WHERE path_in_schema = {literal(column)} GROUP BY file_name").fetchall()
    if len(found) != len(files):
        return None
    prefixes = []
    for _, groups, lows, highs, low, high in found:
        prefix = id_prefix(low, high) if groups == lows == highs and low is not None else None
        if prefix is None:
            return None
        prefixes.append(prefix)
    prefixes.sort()  # a prefix of another sorts just before it, or before strings that sort between them
    if any(b.startswith(a) for a, b in zip(prefixes, prefixes[1:])):
        return None
    return files


def _in(expr: str, values) -> str:
    values = tuple(values)
    return f"({expr} IN ({', '.join(literal(v) for v in values)}))" if values else "FALSE"


def _band(value: str, bands) -> str:
    """The band's code as the loader's `_band` gives it: bound by bound, the last open-ended; NULL -> -1."""
    steps = " ".join(f"WHEN {value} < {edge!r} THEN {k}" for k, (edge, _) in enumerate(bands[:-1]))
    return f"CASE WHEN {value} IS NULL THEN -1 {steps} ELSE {len(bands) - 1} END"
