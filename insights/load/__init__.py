"""Read a deal export (CSV or Parquet) or take a table already read, map its columns, validate it and
build a Snapshot.

Bad rows are never dropped silently: each is set aside with the first reason it fails, counted
in the DataReport, and kept in `Snapshot.rejected` with its original values and row number.

One module per concern, each importing only those below it (an import-linter contract holds them):
`table` (the two doors: `load_deals`, `from_table`) → `build` (the Snapshot) → `report` (the data
report) → `validate` (every row's reason) → `parse`, `duplicates`, `coding` (columnar kernels) and
`read` → `text_files`, `typed` → `column_mapping` → `errors`.
"""
from .column_mapping import EXTRA_COLUMNS, ColumnMapping, check_mapping_types
from .errors import DataError, MissingColumnsError
from .read import RawTable, read_table
from .table import from_table, load_deals
from .validate import REASONS

__all__ = [
    "EXTRA_COLUMNS",
    "REASONS",
    "ColumnMapping",
    "DataError",
    "MissingColumnsError",
    "RawTable",
    "check_mapping_types",
    "from_table",
    "load_deals",
    "read_table",
]
