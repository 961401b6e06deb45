"""Values from the data as any front end may show them: one rule for a label, a deal id or a rep.

A CRM value is text someone typed, so it is shown as text and never acts: control characters (a
newline, a tab) become one space; bidirectional overrides and zero-width characters, which make a
value read differently from what it is, are removed; and the characters chat markup is made of
become look-alikes that mean nothing there (` ˋ, < ‹, > ›, * ∗, ~ ∼), so `<!channel>`, `<@U0CEO>`, a
code fence or `*bold*` can never ping, link, break a code-formatted table or restyle a reply,
whatever the template or the field. `safe_labels` applies the rule to a whole column at load;
`safe_label` to one value as a template prints it (deal ids, which are not cleaned at load).

A segment label typed several ways ("North America", "NORTH AMERICA", "NorthAmerica") is one segment:
`fold_labels` merges the spellings that share a `fold_key` (case, spaces and punctuation aside) under
the most common one, at load, on both paths (insights/load/coding.py, insights/engine/engine.py's
profile), and says what it merged (`Fold`, shown by /health). Rep ids are not folded.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

MARKUP = str.maketrans({"`": "\u02cb", "<": "\u2039", ">": "\u203a", "*": "\u2217", "~": "\u223c"})
CONTROL = r"[\x00-\x1f\x7f]+"
INVISIBLE = r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"  # zero-width, bidi marks and overrides
ODD = re.compile(rf"{CONTROL}|{INVISIBLE}|[`<>*~]")
_CONTROL, _INVISIBLE = re.compile(CONTROL), re.compile(INVISIBLE)


def safe_label(value) -> str:
    """One value from the data, safe to show anywhere (see the module's rule)."""
    text = str(value)
    if not ODD.search(text):
        return text
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text)).translate(MARKUP).strip()


def safe_labels(values: pd.Series) -> pd.Series:
    """`safe_label` over a column; a Parquet dictionary (categorical) is looked at through its few labels."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = pd.Series(values.cat.categories.astype(str))
        if not labels.str.contains(ODD.pattern, regex=True).any():
            return values
    text = values.astype(str)
    odd = text.str.contains(ODD.pattern, regex=True)
    if not odd.any():
        return values
    fixed = (text[odd].str.replace(INVISIBLE, "", regex=True).str.replace(CONTROL, " ", regex=True)
             .str.translate(MARKUP).str.strip())
    return text.where(~odd, fixed)


# The segment dimensions whose labels are folded; rep ids are identifiers (rep_1 and REP_1 may be two people).
FOLDED_DIMENSIONS = ("region", "industry", "product_type", "lead_source", "deal_stage")


def fold_key(label: str) -> str:
    """What spellings of one label share: the label in Unicode compatibility form, case-folded, without
    whitespace and punctuation (kept between two digits) — "North America", "NORTH AMERICA", "NorthAmerica"
    and "north-america" share "northamerica"; "C++" and "C" do not (a symbol is not punctuation). A label
    of nothing but punctuation ("-", "?") is its own key: placeholders are not merged with each other."""
    text = unicodedata.normalize("NFKC", str(label)).casefold()
    key = "".join(ch for k, ch in enumerate(text) if not _dropped(text, k))
    return key or text


def _dropped(text: str, k: int) -> bool:
    ch = text[k]
    if ch.isspace():
        return True
    if not unicodedata.category(ch).startswith("P"):
        return False
    between_digits = 0 < k < len(text) - 1 and text[k - 1].isdigit() and text[k + 1].isdigit()
    return not between_digits


def match_key(dim: str, value) -> str:
    """How a grant's or a rule's value is matched to a label of `dim`: by `fold_key` where the dimension's
    labels are folded, else by case alone (rep ids)."""
    return fold_key(value) if dim in FOLDED_DIMENSIONS else str(value).casefold()


@dataclass(frozen=True)
class Fold:
    """Spellings of one label merged into one segment at load: the dimension, the label kept (the most
    common spelling), its deals after the merge, and the other spellings with their deals (most first)."""

    dim: str
    label: str
    deals: int
    spellings: tuple[tuple[str, int], ...]

    @property
    def merged(self) -> int:
        """The deals relabelled: those written another way."""
        return sum(n for _, n in self.spellings)


def fold_labels(dim: str, counts: Mapping[str, int]) -> tuple[dict[str, str], tuple[Fold, ...]]:
    """(each label -> the label it is counted under, the merges made) for the labels of `dim` and their deals.
    Labels sharing a `fold_key` go under the most common (a tie: the first in code-point order, the same on
    every load); a dimension that is not folded (rep ids) maps each label to itself."""
    if dim not in FOLDED_DIMENSIONS:
        return {label: label for label in counts}, ()
    groups: dict[str, list[str]] = {}
    for label in counts:
        groups.setdefault(fold_key(label), []).append(label)
    mapping, folds = {}, []
    for labels in groups.values():
        ranked = sorted(labels, key=lambda label: (-counts[label], label))
        kept = ranked[0]
        mapping.update({label: kept for label in labels})
        if len(labels) > 1:
            folds.append(Fold(dim, kept, sum(counts[label] for label in labels),
                              tuple((label, int(counts[label])) for label in ranked[1:])))
    folds.sort(key=lambda f: (-f.merged, f.label))
    return mapping, tuple(folds)
