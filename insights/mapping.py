"""Values as CRMs write them: currency-formatted amounts, true/false flags, configured stage orders.

The loader calls these so that a mapping never fails quietly: an amount such as `$12,345.00` or
`EUR 1.234,50` parses, a value that is truly not an amount stays unparsed (and the row is set aside
and counted), and an IsClosed/IsWon pair of flags maps open deals to open, never to lost.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# An amount as exports write it: an optional sign, an optional currency (symbol or code) before or
# after the number, thousands separators (`,` `.` space, apostrophe, no-break space), an optional
# decimal part, or accounting brackets for a negative number: "(1,200.00)".
_CURRENCY = r"(?:[A-Z]{3}|[A-Z]{0,2}\$|[€£¥₹₩₽₺₪₫฿¢]|Fr\.?|kr|zł)"
_AMOUNT = (
    r"^\s*(?P<sign1>[-−+])?\s*(?:" + _CURRENCY + r")?\s*(?P<sign2>[-−+])?\s*(?P<open>\()?\s*"
    r"(?P<number>\d[\d.,'’ \u00a0\u202f]*)"
    r"\s*(?P<close>\))?\s*(?:" + _CURRENCY + r")?\s*(?P<sign3>-)?\s*$"
)
_GROUPED_COMMA = r"^\d{1,3}(?:,\d{3})+$"  # 1,234 or 12,345,678: commas that group thousands
_GROUPED_DOT = r"^\d{1,3}(?:\.\d{3}){2,}$"  # 1.234.567: dots that can only group thousands

TRUE_FLAGS = ("true", "t", "1", "1.0", "yes", "y")
FALSE_FLAGS = ("false", "f", "0", "0.0", "no", "n")


def parse_amounts(text: pd.Series, decimal: str | None = None) -> pd.Series:
    """Text to float. Plain numbers take a fast cast; the others are parsed as currency amounts.
    Blanks and text that is not an amount become NaN. `decimal` (`.` or `,`) fixes the decimal mark;
    by default it is the last of `.` and `,` when both appear, and a lone `,` is a decimal mark
    unless it groups thousands (`12,345`)."""
    plain = ~text.str.contains(",", regex=False) if decimal != "," else pd.Series(False, index=text.index)
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    if plain.any():
        out[plain] = pd.to_numeric(text[plain].where(text[plain] != ""), errors="coerce")
    todo = out.isna() & (text != "")
    if todo.any():
        out[todo] = _currency_amounts(text[todo], decimal)
    return out


def _currency_amounts(text: pd.Series, decimal: str | None) -> pd.Series:
    parts = text.str.extract(_AMOUNT)
    number = parts["number"].str.replace(r"[ '’\u00a0\u202f]", "", regex=True).str.rstrip(".,")
    has_comma = number.str.contains(",", regex=False, na=False)
    has_dot = number.str.contains(".", regex=False, na=False)
    if decimal == ",":
        comma_decimal = pd.Series(True, index=text.index)
    elif decimal == ".":
        comma_decimal = pd.Series(False, index=text.index)
    else:
        last_comma, last_dot = number.str.rfind(","), number.str.rfind(".")
        comma_decimal = ((has_comma & has_dot & (last_comma > last_dot))
                         | (has_comma & ~has_dot & ~number.str.match(_GROUPED_COMMA, na=False))
                         | (~has_comma & has_dot & number.str.match(_GROUPED_DOT, na=False)))
        # 1.234.567 has no decimal mark at all: its dots are dropped below as thousands separators
    as_dot = number.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    as_comma = number.str.replace(",", "", regex=False)
    cleaned = as_dot.where(comma_decimal, as_comma)
    value = pd.to_numeric(cleaned, errors="coerce")
    brackets = parts["open"].notna() & parts["close"].notna()
    unbalanced = parts["open"].notna() != parts["close"].notna()
    negative = (parts[["sign1", "sign2", "sign3"]].isin(["-", "−"]).any(axis=1)) | brackets
    value = value.where(~negative, -value)
    return value.where(~unbalanced)


def parse_flags(text: pd.Series) -> pd.Series:
    """true/false, 1/0, yes/no (any case) to a nullable boolean; anything else is <NA>."""
    folded = text.str.strip().str.lower()
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[folded.isin(TRUE_FLAGS)] = True
    out[folded.isin(FALSE_FLAGS)] = False
    return out


def is_flag_value(value: str) -> bool:
    return str(value).strip().lower() in TRUE_FLAGS + FALSE_FLAGS


def stage_records_outcome_only(stage_codes: np.ndarray, won: np.ndarray, levels: int) -> bool:
    """True when the stage column says nothing but the outcome: every won deal at one stage, every
    lost deal at one other stage (Salesforce's Closed Won / Closed Lost). Then where lost deals
    stopped is unknown, and stage is no explanation of anything in /why or /drivers."""
    if len(stage_codes) == 0 or won.all() or not won.any():
        return False
    won_at = np.unique(stage_codes[won])
    lost_at = np.unique(stage_codes[~won])
    return len(won_at) == 1 and len(lost_at) == 1 and won_at[0] != lost_at[0] and levels >= 2
