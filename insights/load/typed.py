"""Typed columns (Parquet, a database) kept typed where the type is the wanted one; the rest as text."""
from __future__ import annotations

import numpy as np
import pandas as pd

DATE_COLUMNS, NUMBER_COLUMNS = ("created_date", "closed_date"), ("deal_amount", "sales_cycle_days")


def typed_or_text(canonical: str, column: pd.Series) -> pd.Series:
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
    return as_text(column)


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


def as_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.strftime("%Y-%m-%d").fillna("")
    text = column.astype(str)
    if column.hasnans:
        text = text.where(column.notna(), "")
    # Stripping ten million ids that have no spaces wrote a second copy of them all (0.5 s, 160 MB)
    return text if is_trimmed(text) else text.str.strip()


def is_trimmed(text: pd.Series) -> bool:
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

