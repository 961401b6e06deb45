"""Pre-aggregated cells: the closed deals of a selection counted once per combination of segments.

An analysis that groups the same deals many ways under many masks (/why's round-by-round search,
/risk's every-dimension-and-pair scan) pays for each count in the number of deals. Counted once
into cells — one row per distinct combination of every dimension's value and a group (the period
in question or its baseline), holding how many deals it has and how many were won — every later
count, mask and filter costs the number of cells instead: at ten million deals a few hundred
thousand cells stand for the four million deals of five quarters. A cell holds deals that agree on
every dimension, so any segment or pair of segments is a set of whole cells and each count is
exact: the same integers the deals give.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .select import Counts, grid_index
from .snapshot import Snapshot

# Distinct cell sets kept per snapshot (the default /why and /risk, and a few typed variants).
CACHED = 8
_KEY_LIMIT = 1 << 62  # the mixed-radix key is renumbered densely before it could overflow int64


@dataclass
class Cells:
    """Deals counted per cell; `group[i]` is the index of the mask the cell's deals came from."""

    dimensions: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]  # every dimension's values, counted here or not
    codes: dict[str, np.ndarray]  # per cell: the dimension's category code (-1: no value)
    group: np.ndarray  # per cell: which of the masks it was counted from
    n: np.ndarray  # deals per cell
    won: np.ndarray  # won deals per cell
    amount: np.ndarray  # the deals' amounts summed per cell
    groups: int = 1
    memo: dict = field(default_factory=dict, repr=False)  # what an analysis derived from these cells, kept with them
    _flat: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, snapshot: Snapshot, masks: list[np.ndarray], dims: tuple[str, ...] | None = None,
           open_pipeline: bool = False) -> "Cells":
        """The deals of each (disjoint) mask counted per combination of `dims` (default: every dimension);
        the closed deals, or with `open_pipeline` the open ones (none of them won)."""
        dims = tuple(snapshot.dimensions if dims is None else dims)
        frame = snapshot.open_deals if open_pipeline else snapshot.deals
        which = np.full(len(frame), -1, dtype=np.int8)
        for g, mask in enumerate(masks):
            if g and (mask & (which >= 0)).any():
                raise ValueError("Cells.of counts disjoint masks: a deal would count in two groups")
            which[mask] = g
        # Most deals in (the default /why: five quarters of all the data): work on the full-length columns,
        # the deals left out in a group of their own that is dropped at the end; few: gather them first.
        # Gathering eight million positions from every column cost two to three times the full pass.
        full = int((which >= 0).sum()) * 4 >= len(frame)
        rows = None if full else np.flatnonzero(which >= 0)

        def take(values: np.ndarray) -> np.ndarray:
            return values if rows is None else values[rows]

        groups = len(masks) + (1 if full else 0)
        # each deal's cell as a mixed-radix number: its group, then each dimension's code + 1 (0: no value)
        sizes = [groups] + [len(snapshot.values(d)) + 1 for d in dims]
        total = int(np.prod(sizes, dtype=object))
        deals = len(frame) if full else len(rows)
        dense = total <= max(4 * deals, 1 << 22)  # a histogram of the keys: no hashing, no sort
        key = take(which).astype(np.int32 if total < 2**31 else np.int64)
        if full:
            key[key < 0] = len(masks)  # the left-out group
        radix = groups
        for d, size in zip(dims, sizes[1:]):
            if radix * size >= _KEY_LIMIT:  # renumber densely before the key could overflow
                key = pd.factorize(key)[0].astype(np.int64)
                radix = int(key.max()) + 1 if len(key) else 1
            key *= size
            key += take(snapshot.codes(d, open_pipeline))
            key += 1
            radix *= size
        won = None if open_pipeline else take(snapshot.won)
        amount = take(snapshot.open_amount if open_pipeline else snapshot.amount)  # open: a blank amount is 0
        if dense:
            n = np.bincount(key, minlength=total)
            present = np.flatnonzero(n)
            digits = np.unravel_index(present, sizes)  # the cells' own group and codes, read off their keys
            group = digits[0].astype(np.int8)
            codes = {d: (digits[k + 1] - 1).astype(np.int16 if sizes[k + 1] < 2**15 else np.int32)
                     for k, d in enumerate(dims)}
            won = np.bincount(key[won], minlength=total)[present] if won is not None else None
            amount = np.bincount(key, weights=amount, minlength=total)[present]
            n = n[present]
        else:
            cell, _ = pd.factorize(key, sort=False)
            n = np.bincount(cell)
            first = np.empty(len(n), dtype=np.int64)
            first[cell[::-1]] = np.arange(len(cell) - 1, -1, -1)  # each cell's first deal
            at = first if rows is None else rows[first]
            group = which[at]
            group = np.where(group < 0, len(masks), group).astype(np.int8)
            codes = {d: snapshot.codes(d, open_pipeline)[at] for d in dims}
            won = np.bincount(cell[won], minlength=len(n)) if won is not None else None
            amount = np.bincount(cell, weights=amount, minlength=len(n))
        if full:  # drop the left-out deals' cells
            kept = group < len(masks)
            group, n, amount = group[kept], n[kept], amount[kept]
            codes = {d: c[kept] for d, c in codes.items()}
            won = won[kept] if won is not None else None
        return cls(
            dimensions=dims,
            categories={d: snapshot.values(d) for d in snapshot.dimensions},  # labels of every dimension
            codes=codes,
            group=group,
            n=n.astype(np.int64),
            won=np.zeros(len(n), dtype=np.int64) if won is None else won.astype(np.int64),
            amount=amount,
            groups=len(masks),
        )

    def __len__(self) -> int:
        return len(self.n)

    def values(self, dim: str) -> tuple[str, ...]:
        """Known values of a dimension, in display order (as Snapshot.values)."""
        return self.categories[dim]

    def in_group(self, g: int) -> np.ndarray:
        return self.group == g

    def mask(self, segment: dict[str, str]) -> np.ndarray:
        """Cells inside a segment ({dimension: value}); a value the data does not have matches none."""
        out = np.ones(len(self), dtype=bool)
        for d, v in segment.items():
            values = self.categories[d]
            out &= self.codes[d] == (values.index(v) if v in values else -2)
        return out

    def deals(self, mask: np.ndarray) -> int:
        """How many deals the masked cells hold."""
        return int(self.n[mask].sum())

    def count(self, mask: np.ndarray, dims: tuple[str, ...]) -> Counts:
        """Won and total deals per combination of `dims` over the masked cells (as select.count_by)."""
        return self.split(mask, dims, by_group=False)[0]

    def split(self, mask: np.ndarray, dims: tuple[str, ...], by_group: bool = True) -> list[Counts]:
        """`count` once per group (the period in question, its baseline) in one pass over the cells."""
        dims = tuple(dims)
        flat, sizes = self._grid(dims)
        grid = int(np.prod(sizes)) if dims else 1
        groups = self.groups if by_group else 1
        keep = mask & (flat >= 0)
        at = flat[keep] * groups + self.group[keep] if by_group else flat[keep]
        n = np.bincount(at, weights=self.n[keep], minlength=grid * groups).astype(np.int64).reshape(grid, groups)
        won = np.bincount(at, weights=self.won[keep], minlength=grid * groups).astype(np.int64).reshape(grid, groups)
        keys = np.array(np.unravel_index(np.arange(grid), sizes)).T if dims else np.zeros((1, 0), dtype=int)
        return [Counts(dims, keys, won[:, g], n[:, g]) for g in range(groups)]

    def amounts(self, mask: np.ndarray, dims: tuple[str, ...]) -> np.ndarray:
        """The masked cells' amounts summed per combination of `dims`, in the order of `count`."""
        flat, sizes = self._grid(tuple(dims))
        keep = mask & (flat >= 0)
        return np.bincount(flat[keep], weights=self.amount[keep], minlength=int(np.prod(sizes)) if dims else 1)

    def everything(self) -> np.ndarray:
        return np.ones(len(self), dtype=bool)

    def _grid(self, dims: tuple[str, ...]):
        """Each cell's position in the grid of `dims` (C order; -1 with a missing value), cached."""
        hit = self._flat.get(dims)
        if hit is None:
            sizes = [len(self.categories[d]) for d in dims]
            hit = self._flat[dims] = (grid_index([self.codes[d] for d in dims], sizes, len(self)), sizes)
        return hit


def cached_cells(snapshot: Snapshot, key: tuple, build) -> Cells:
    """The snapshot's cells for `key` (the analysis, its periods and filters), built once by `build()`.
    A Snapshot never changes, so its cells stay right for its lifetime; a few are kept per snapshot."""
    return snapshot.memo.get("cells", key, build, keep=CACHED)
