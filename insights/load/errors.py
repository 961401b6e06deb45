"""The loader's errors: a deal table that cannot be used at all, with a message saying why."""
from __future__ import annotations


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

