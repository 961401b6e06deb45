"""Coding columns: labels as categoricals of the values kept, in display order, and amounts and
cycles in bands."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import Fold, fold_key, fold_labels
from ..schema import STAGE_ORDER


def coded(values: pd.Series, keep: np.ndarray, dim: str,
          stage_order: tuple[str, ...]) -> tuple[pd.Categorical, tuple[Fold, ...]]:
    """A label column as a categorical of the values the kept rows use, in display order, the spellings of
    one label merged under its most common one by the kept rows' counts (labels.fold_labels); and the merges."""
    cat = values.array if isinstance(values.dtype, pd.CategoricalDtype) else pd.Categorical(values)
    codes = np.asarray(cat.codes)
    counts = np.bincount(codes[keep & (codes >= 0)], minlength=len(cat.categories))
    used = counts > 0
    labels = [str(x) for x in np.asarray(cat.categories)[used]]
    folded, folds = fold_labels(dim, dict(zip(labels, counts[used].tolist())))
    order = _categories(dim, pd.Series(sorted(set(folded.values())), dtype=object), stage_order)
    position = {label: k for k, label in enumerate(order)}
    lookup = np.full(len(cat.categories) + 1, -1, dtype=codes.dtype)  # the last slot: code -1 stays -1
    lookup[np.flatnonzero(used)] = [position[folded[label]] for label in labels]
    new_codes = lookup[codes]
    return pd.Categorical.from_codes(new_codes, categories=pd.Index(order)), folds


def _natural_key(value: str):
    import re

    return [int(t) if t.isdigit() else t.casefold() for t in re.split(r"(\d+)", value)]


def _categories(dim: str, values: pd.Series, stage_order: tuple[str, ...] = ()) -> list[str]:
    present = values.unique().tolist()
    if dim == "deal_stage":
        order = {fold_key(s): i for i, s in enumerate(stage_order or STAGE_ORDER)}
        return sorted(present, key=lambda s: (order.get(fold_key(s), len(order)), s))
    return sorted(present, key=_natural_key)


def band(values: np.ndarray, bands) -> pd.Categorical:
    edges = [b for b, _ in bands[:-1]]
    codes = np.searchsorted(edges, values, side="right")
    codes = np.where(np.isnan(values), -1, codes)
    return pd.Categorical.from_codes(codes, categories=[label for _, label in bands])

