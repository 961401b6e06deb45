"""The loader's errors: a deal table that cannot be used at all, with a message saying why."""
from __future__ import annotations


class DataError(Exception):
    """The file cannot be used at all (missing, unreadable, wrong columns). The message says why."""


class MissingColumnsError(DataError):
    def __init__(self, missing: list[str], found: list[str], mapping_hint: bool, unmapped: tuple[str, ...] = ()):
        """`mapping_hint`: a mapping with columns was given; `unmapped`: the missing canonical columns it does not
        name (a mapping that forgot `deal_amount` is told the line to add, not only that the column is missing)."""
        self.missing, self.found = missing, found
        hint = "" if mapping_hint else " Use a column-mapping file (--mapping) if your export names them differently."
        if mapping_hint and unmapped:
            lines = ", ".join(f'{name} = "your column"' for name in unmapped)
            hint = f" The mapping names no column for {', '.join(unmapped)}: add {lines} under [columns]."
        super().__init__(
            f"The deal data is missing {len(missing)} required column(s): {', '.join(missing)}. "
            f"Columns found: {', '.join(found) or '(none)'}.{hint}"
        )

