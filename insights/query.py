"""The Query: what a user asked for (filters, grouping, periods), independent of any front end."""
from __future__ import annotations

from dataclasses import dataclass

from .periods import PeriodSpec
from .schema import DIMENSION_LABELS


@dataclass(frozen=True)
class Query:
    """Filters are (dimension, values) pairs: values within a dimension are OR-ed, dimensions AND-ed."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    group_by: tuple[str, ...] = ()
    period: PeriodSpec | None = None
    compare: PeriodSpec | None = None
    grain: str | None = None  # month / quarter, for time series
    text: str = ""
    outcome: str | None = None  # won / lost / open, for the deals behind a number
    limit: int | None = None  # rows shown ("top 3"): /reps, /risk and /deals list only the first N of their order

    @property
    def filter_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.filters)

    def describe_filters(self) -> str:
        """'APAC · Enterprise', or 'all deals' when unfiltered."""
        if not self.filters:
            return "all deals"
        return " · ".join(" or ".join(values) for _, values in self.filters)

    def to_dict(self) -> dict:
        return {
            "filters": {d: list(v) for d, v in self.filters},
            "group_by": list(self.group_by),
            "period": self.period.text if self.period else None,
            "compare": self.compare.text if self.compare else None,
            "grain": self.grain,
            "outcome": self.outcome,
            "limit": self.limit,
            "text": self.text,
        }


def dimension_label(dim: str) -> str:
    return DIMENSION_LABELS.get(dim, dim)
