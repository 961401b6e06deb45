"""Reading values: dates (one day-first or month-first reading per column), numbers, outcome labels,
and the days between two dates, on whole columns at once."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .column_mapping import ColumnMapping
from .errors import DataError

# Years a deal date may have; the command grammar accepts periods in the same years.
DATE_YEARS = (1900, 2099)

_FIRST_DAY = np.datetime64(f"{DATE_YEARS[0]:04d}-01-01", "D")
_LAST_DAY = np.datetime64(f"{DATE_YEARS[1]:04d}-12-31", "D")


def parse_dates(text: pd.Series, mapping: ColumnMapping) -> pd.Series:
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


def folded_isin(values: pd.Series, wanted: tuple[str, ...]) -> np.ndarray:
    """values.str.lower().isin(wanted), on a categorical's few labels rather than on every row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = pd.Index(values.cat.categories.astype(str)).str.lower()
        table = np.append(labels.isin(wanted), "" in wanted)  # code -1 (missing) is blank
        return table[values.cat.codes.to_numpy()]
    return values.str.lower().isin(wanted).to_numpy()


def numbers(text: pd.Series) -> pd.Series:
    """Text to float; blanks and non-numbers become NaN. A fast cast first, the slow path on failure."""
    try:
        return text.where(text != "").astype("float64")
    except (ValueError, TypeError):
        return pd.to_numeric(text, errors="coerce")

def days_between(created: pd.Series, closed: pd.Series) -> np.ndarray:
    """(closed - created).dt.days as floats, NaN where a date is missing: whole days, rounded down.
    Naive dates (all but a dates.format with a zone) in integer numpy, with no Series temporaries."""
    if not all(isinstance(s.dtype, np.dtype) and s.dtype.kind == "M" for s in (created, closed)):
        return (closed - created).dt.days.astype(float).to_numpy()
    between = closed.to_numpy() - created.to_numpy()
    unit_per_day = np.timedelta64(1, "D") // np.timedelta64(1, np.datetime_data(between.dtype)[0])
    days = (between.view(np.int64) // unit_per_day).astype(float)
    days[np.isnat(between)] = np.nan
    return days

