"""Values from the data as any front end may show them: one rule for a label, a deal id or a rep.

A CRM value is text someone typed, so it is shown as text and never acts: control characters (a
newline, a tab) become one space; bidirectional overrides and zero-width characters, which make a
value read differently from what it is, are removed; and the characters chat markup is made of
become look-alikes that mean nothing there (` ˋ, < ‹, > ›, * ∗, ~ ∼), so `<!channel>`, `<@U0CEO>`, a
code fence or `*bold*` can never ping, link, break a code-formatted table or restyle a reply,
whatever the template or the field. `safe_labels` applies the rule to a whole column at load;
`safe_label` to one value as a template prints it (deal ids, which are not cleaned at load).
"""
from __future__ import annotations

import re

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
