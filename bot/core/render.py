"""Jinja2 rendering: the templates in templates/ turn Result objects into the words users read."""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import urllib.parse

import jinja2

from insights.labels import safe_label
from insights.query import dimension_label

from bot.config import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
MINUS = "\u2212"


def pct(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * x:.{digits}f}%"


def pct_range(low, high, digits: int = 1) -> str:
    if low is None or high is None:
        return "n/a"
    return f"{100 * low:.{digits}f}\u2013{100 * high:.{digits}f}%"


def pp(x, digits: int = 1) -> str:
    """A signed change in percentage points, with a true minus sign."""
    if x is None:
        return "n/a"
    text = f"{abs(x):.{digits}f} pp"
    return ("+" if x > 0 else MINUS if x < 0 else "\u00b1") + text


def pval(p) -> str:
    if p is None:
        return "not tested"
    if p < 0.001:
        return "p<0.001"
    return f"p={p:.2g}" if p < 0.1 else f"p={p:.2f}"


def num(n) -> str:
    return "n/a" if n is None else f"{int(round(n)):,}"


SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩", "AUD": "A$",
           "CAD": "C$", "NZD": "NZ$", "SGD": "S$", "HKD": "HK$", "BRL": "R$", "MXN": "MX$"}


def currency_symbol(code: str | None) -> str:
    """What goes in front of an amount: a known ISO code's symbol, another code and a space
    (CHF 12k), or the symbol as given."""
    code = (code or "USD").strip()
    if code.upper() in SYMBOLS:
        return SYMBOLS[code.upper()]
    if code.isalpha() and len(code) == 3:
        return code.upper() + "\u00a0"
    return code


@dataclass(frozen=True)
class Presentation:
    """How amounts and deals are shown: the amounts' currency (CURRENCY) and the CRM's deal page
    (CRM_DEAL_URL). Read from the process's settings when a reply is made, so nothing is set
    globally at start-up and a test changes them with the environment."""

    currency: str = "$"
    deal_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Presentation":
        env = os.environ if env is None else env
        template = env.get("CRM_DEAL_URL") or None
        ok = bool(template) and template.startswith(("https://", "http://")) and "{deal_id}" in template
        return cls(currency_symbol(env.get("CURRENCY")), template if ok else None)


def deal_link(deal_id: str) -> str | None:
    """The deal's page in the CRM (the id URL-quoted), or None when CRM_DEAL_URL is not set; only an
    http(s) template with a {deal_id} placeholder is used."""
    template = Presentation.from_env().deal_url
    return template.replace("{deal_id}", urllib.parse.quote(str(deal_id), safe="")) if template else None


def money(x) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    sign = MINUS if x < 0 else ""
    x = abs(x)
    c = Presentation.from_env().currency
    if x >= 999.95e6:  # $29.7B, not $29666.9M (and $1.0B, not $1000.0M)
        return f"{sign}{c}{x / 1e9:.1f}B"
    if x >= 999.5e3:  # $1.0M, not $1000k
        return f"{sign}{c}{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{sign}{c}{x / 1e3:.0f}k"
    return f"{sign}{c}{x:.0f}"


def days(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0f}d" if float(x).is_integer() else f"{x:.1f}d"


def signed_days(x) -> str:
    if x is None:
        return "n/a"
    return ("+" if x > 0 else MINUS if x < 0 else "\u00b1") + days(abs(x))


def plural(n, one: str, many: str | None = None) -> str:
    return one if n == 1 else (many or one + "s")


_SHOWN: contextvars.ContextVar[list | None] = contextvars.ContextVar("values_shown", default=None)


def value(text) -> str:
    """A value from the data not cleaned at load (a deal id) as a template prints it (`{{ d.deal_id|value }}`):
    `safe_label`, and noted for `values_shown`, so a Slack message can show its styling characters as written."""
    shown = safe_label(text)
    noted = _SHOWN.get()
    if noted is not None:
        noted.append(shown)
    return shown


@contextlib.contextmanager
def values_shown():
    """The values printed by `value` while the block runs (in this thread), in order."""
    noted: list[str] = []
    token = _SHOWN.set(noted)
    try:
        yield noted
    finally:
        _SHOWN.reset(token)


def mrkdwn_escape(text) -> str:
    """Escape what a user typed before it is echoed in Slack mrkdwn (&, <, >)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@", re.I)
_SQLITE_FILE = re.compile(r"\bsqlite:///+(?:[^\s`'\"]*/)?([^\s/`'\"]+)", re.I)
_POSIX_PATH = re.compile(r"(?<![\w:/.~-])(?:~|\.{1,2})?/(?:[\w.@+-]+/)+([\w.@+-]+)")
_RELATIVE_FILE = re.compile(r"(?<![\w:/.~-])(?:[\w.@+-]+/)+([\w@+-][\w.@+-]*\.(?:csv|parquet|sqlite|db|toml|ya?ml|json|txt|tsv|xlsx?))\b", re.I)
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\\\s`'\"]+\\)+([^\\\s`'\"]+)")


def redact(text) -> str:
    """What may leave the server: a file path becomes its file name, a URL loses its user and
    password, a SQLite URL shows only the file name. Applied to everything sent to Slack."""
    text = _URL_CREDENTIALS.sub(r"\1***@", str(text))
    text = _SQLITE_FILE.sub(r"sqlite:///…/\1", text)
    text = _WINDOWS_PATH.sub(r"\1", text)
    text = _POSIX_PATH.sub(r"\1", text)
    return _RELATIVE_FILE.sub(r"\1", text)


def dimlabel(dim: str) -> str:
    return " × ".join(dimension_label(d) for d in dim.split("×"))


def capfirst(text) -> str:
    text = str(text)
    return text[:1].upper() + text[1:]


def number(x, digits: int = 1) -> str:
    """A plain number with a true minus sign."""
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}".replace("-", MINUS)


# Slack markup a user may type (<!here>, <@U123>, <#C1|sales>, <https://x.y|click>): echoed back, it could ping,
# mention or link, so its angle brackets become look-alikes (‹ ›) that Slack leaves as plain text
SLACK_MARKUP = re.compile(r"<([!@#]|(?:https?|mailto|tel|slack):)([^<>]*)>", re.I)
STYLING = re.compile(r"[*~`<>@]|(?:^|\s)_|_(?:\s|$)")  # "_x_" italics; "rep_12" is no styling


def unmarked(text) -> str:
    """Typed text with any Slack markup in it made inert: "<!here>" becomes "‹!here›"."""
    return SLACK_MARKUP.sub(lambda m: f"\u2039{m.group(1)}{m.group(2)}\u203a", str(text))


def code(text) -> str:
    """Typed text shown inside `...`: on one line, with no backtick that would end the span early, no Slack
    markup that could ping or link."""
    return " ".join(unmarked(text).replace("`", "\u02cb").split())


def typed(text) -> str:
    """A typed word named back in a sentence: "blorp" in quotes, as typed; one with Slack styling or markup
    characters ("*boom*", "~~~", "<!here>") as inert code, so it neither styles the reply, pings nor links."""
    return f"`{code(text)}`" if STYLING.search(str(text)) else f'"{" ".join(str(text).split())}"'


def ljust(text, width: int) -> str:
    return str(text).ljust(width)


def rjust(text, width: int) -> str:
    return str(text).rjust(width)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters.update(pct=pct, pct_range=pct_range, pp=pp, pval=pval, num=num, money=money, days=days,
                       signed_days=signed_days, plural=plural, dimlabel=dimlabel, capfirst=capfirst, number=number, esc=mrkdwn_escape, code=code, typed=typed, ljust=ljust, rjust=rjust,
                       value=value)  # a value from the data not cleaned at load (a deal id): `{{ d.deal_id|value }}`
    env.tests["pair"] = lambda dim: "×" in str(dim)
    env.globals["deal_link"] = deal_link
    return env


def render(template: str, **context) -> str:
    text = environment().get_template(template).render(**context)
    # collapse the blank-line runs that conditional blocks leave behind
    lines, blank = [], False
    for line in text.rstrip().splitlines():
        if not line.strip():
            if not blank:
                lines.append("")
            blank = True
        else:
            lines.append(line.rstrip())
            blank = False
    return "\n".join(lines).strip("\n")
