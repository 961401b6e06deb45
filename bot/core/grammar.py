"""The one command grammar shared by Slack, the console and the digest. It never raises.

Text after a slash command becomes a Query: free words matched forgivingly to known segment
values ("apac", "north america", "ent"), `dim=value[,value]`, `by DIM [and DIM]`, periods
(`2024Q1`, `2024-03`, `last quarter`, `last 90d`, `ytd`, `2024-01-01..2024-03-31`) and
`vs PERIOD`. Whatever it cannot place is returned as a Problem with the closest known words.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field

from insights.periods import PeriodSpec, grain_months
from insights.query import Query
from insights.schema import DIMENSION_ALIASES
from insights.snapshot import Snapshot

HELP_WORDS = {"help", "?", "-h", "--help", "usage"}
OUTCOME_WORDS = {"won": "won", "lost": "lost", "open": "open"}  # which deals /deals lists
BY_WORDS = {"by", "per"}
VS_WORDS = {"vs", "vs.", "versus", "against", "compared", "compare"}
JOIN_WORDS = {"and", "x", "×", "&", ",", "+"}
FILLER_WORDS = {
    "in", "for", "the", "of", "deals", "deal", "win", "wins", "rate", "rates", "winrate", "show", "me", "what",
    "whats", "what's", "is", "was", "were", "our", "my", "please", "how", "did", "do", "does", "at", "on", "with",
    "during", "to", "a", "an", "only", "give", "tell", "about", "s", "are",
}
GRAIN_WORDS = {"month": "month", "months": "month", "monthly": "month", "quarter": "quarter",
               "quarters": "quarter", "quarterly": "quarter"}
# Grains a user may ask for that no analysis answers in (a week's deals are too few to test): named
# and refused, never dropped in silence
OTHER_GRAINS = {"weekly": "week", "week": "week", "weeks": "week", "daily": "day", "day": "day", "days": "day",
                "yearly": "year", "annually": "year", "annual": "year", "year": "year", "years": "year"}
UNIT_GRAIN = {"m": "month", "mo": "month", "mos": "month", "month": "month", "months": "month",
              "q": "quarter", "qtr": "quarter", "qtrs": "quarter", "quarter": "quarter", "quarters": "quarter",
              "y": "year", "yr": "year", "yrs": "year", "year": "year", "years": "year"}
UNIT_DAYS = {"d": 1, "day": 1, "days": 1, "w": 7, "wk": 7, "wks": 7, "week": 7, "weeks": 7}
# Everyday names a CRO may type for a value. Keys and targets are normalised (see `norm`).
VALUE_ALIASES = {"na": "northamerica", "nam": "northamerica", "amer": "northamerica", "us": "northamerica",
                 "americas": "northamerica", "usa": "northamerica", "eu": "europe", "emea": "europe",
                 "ecom": "ecommerce", "apj": "apac", "asiapacific": "apac", "asia": "apac", "healthcare": "healthtech"}
# Everyday names with no value of their own: the closest values, offered as suggestions.
NEAREST_VALUES = {"smb": ("Core", "<10k"), "smallbusiness": ("Core", "<10k"), "midmarket": ("Pro", "10k-25k"),
                  "mm": ("Pro", "10k-25k"), "largeenterprise": ("Enterprise", "100k+"), "latam": ("North America",),
                  "inboundleads": ("Inbound",), "outboundleads": ("Outbound",)}
MAX_NGRAM = 4
# Common values of a dimension an export may lack: on data without that column, a word naming one ("Europe"
# with no region column) is said to be such a value, not an unknown word.
COLUMN_VALUES = {
    "region": ("europe", "asia", "apac", "emea", "latam", "amer", "apj", "anz", "dach", "nordics", "benelux", "india",
               "north america", "latin america", "south america", "asia pacific", "middle east", "americas", "oceania",
               "japan", "china", "uk", "canada", "germany", "france", "australia", "singapore", "africa", "mena"),
    "industry": ("ecommerce", "edtech", "fintech", "healthtech", "saas", "retail", "manufacturing", "healthcare",
                 "banking", "insurance", "education", "government", "telecom", "energy", "logistics", "pharma",
                 "biotech", "hospitality", "automotive"),
    "lead_source": ("inbound", "outbound", "referral", "referrals", "partner", "partner-sourced"),
}

ACRONYMS = frozenset({"apac", "emea", "latam", "amer", "apj", "anz", "dach", "uk", "mena", "saas"})
ABSENT_VALUE_KEYS = {norm_: dim for dim, words in COLUMN_VALUES.items() for norm_ in
                     (re.sub(r"[^0-9a-z]", "", w) for w in words)}
SHORT_DIMENSION_NAMES = ("region", "industry", "product", "source", "stage", "rep", "size", "cycle")
# Years a period may name, and how far back `last N` may reach: beyond these, resolving a period
# (its end, `vs previous`, `vs last year`) leaves the calendar (year 0 or 10000) and raises.
YEARS = range(1900, 2100)
MAX_LAST_MONTHS = 1200
MAX_LIMIT = 50  # `top N`: rows a reply may list


def norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


@dataclass(frozen=True)
class Problem:
    """Something in the text the grammar could not use. kind: unknown_word, unknown_dimension,
    absent_dimension (a column the data lacks), absent_value (a common value of such a column: "Europe" with
    no region column), zeroed_dimension (deal size, withheld when lost deals are
    recorded at $0), other_grain (a grain no analysis answers in: weekly), unknown_value, ambiguous, bad_period,
    missing_year, empty_vs, bad_limit (`top 0`), two_periods (a second period outside `vs`: "2024Q2 … last year"). The first four name something the grammar recognised and cannot answer: the
    text is not read again as a sentence without them."""

    kind: str
    word: str
    suggestions: tuple[str, ...] = ()
    dimension: str = ""  # the dimension an absent_dimension, absent_value or zeroed_dimension word names


REFUSED_KINDS = frozenset({"absent_dimension", "absent_value", "zeroed_dimension", "other_grain"})


@dataclass(frozen=True)
class Parsed:
    query: Query
    problems: tuple[Problem, ...] = ()
    help: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Vocabulary:
    """Known segment values per dimension, indexed by normalised spelling."""

    values: dict[str, tuple[str, ...]]
    latest_year: int = dt.date.today().year  # for examples such as "2024Q1"
    first_day: dt.date | None = None  # the first closed deal's date: a period before it holds no deals
    index: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # dimensions this data cannot have, and why: "absent" (the export lacks the column) or "zeroed"
    # (deal-size bands, withheld when lost deals are recorded at $0), so a word naming one says so
    missing: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for dim, values in self.values.items():
            for value in values:
                self.index.setdefault(norm(value), []).append((dim, value))
        for alias, target in VALUE_ALIASES.items():
            if alias not in self.index and target in self.index:
                self.index[alias] = self.index[target]

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> "Vocabulary":
        report = snapshot.report
        closed = report.closed_range
        missing = dict.fromkeys(report.absent, "absent") | ({"size_band": "zeroed"} if report.lost_amounts_zeroed else {})
        return cls({d: snapshot.values(d) for d in snapshot.dimensions}, snapshot.as_of.year,
                   closed[0] if closed else None, missing=missing)

    def match(self, key: str, dim: str | None = None, allow_prefix: bool = True) -> list[tuple[str, str]]:
        """Exact normalised match, else a unique prefix of 3+ characters; restricted to `dim` if given."""
        def keep(hits):
            return [h for h in hits if dim is None or h[0] == dim]

        hits = keep(self.index.get(key, []))
        if not hits and len(key) > 3 and key.endswith("s"):  # "referrals", "enterprises"
            hits = keep(self.index.get(key[:-1], []))
        if hits or not allow_prefix or len(key) < 3:
            return hits
        prefixed = {h for k, hs in self.index.items() if k.startswith(key) for h in keep(hs)}
        return sorted(prefixed) if len({h[1] for h in prefixed}) == 1 else []

    def prefix_candidates(self, key: str, dim: str | None = None) -> list[str]:
        return sorted({v for k, hs in self.index.items() if k.startswith(key) for d, v in hs
                       if dim is None or d == dim})

    def suggest(self, word: str, dim: str | None = None, n: int = 3) -> tuple[str, ...]:
        key = norm(word)
        nearest = [v for v in NEAREST_VALUES.get(key, ()) if any(v in vs for vs in self.values.values())]
        if nearest:
            return tuple(nearest)
        choices = {}
        for k, hits in self.index.items():
            for d, v in hits:
                if dim is None or d == dim:
                    choices.setdefault(k, v)
        if dim is None:
            for alias in DIMENSION_ALIASES:
                choices.setdefault(norm(alias), f"by {alias}")
            for word_ in ("last quarter", "this quarter", "last month", "ytd", "last 90d", "vs"):
                choices.setdefault(norm(word_), word_)
        close = difflib.get_close_matches(key, list(choices), n=n, cutoff=0.6)
        if not close and key and dim is not None:  # a value of a named field: the ones it starts like
            close = sorted(k for k in choices if k.startswith(key[:2]))[:n]
        if not close and dim is not None:
            return self.values.get(dim, ())[:6]
        return tuple(dict.fromkeys(choices[c] for c in close))


MAX_SUGGESTED = 10  # unknown words that get "did you mean" suggestions (difflib is slow on long junk)


def split_command(line: str) -> tuple[str, str]:
    """'/winrate APAC' -> ('winrate', 'APAC'); text without a slash command -> ('', text)."""
    line = (line or "").strip()
    match = re.match(r"^/?([A-Za-z_-]+)(?:\s+(.*))?$", line, flags=re.S)
    if not line.startswith("/") or not match:
        return "", line
    return match.group(1).lower(), (match.group(2) or "").strip()


def _tokens(text: str) -> list[str]:
    text = text.replace("\u00a0", " ").replace("“", '"').replace("”", '"')
    text = re.sub(r"\s*=\s*", "=", text)  # "region = APAC" -> "region=APAC"
    text = re.sub(r"\s*!=", "!=", text)  # "region != APAC" -> "region!=APAC"
    text = re.sub(r"\s*\.\.\s*", "..", text)
    tokens = []
    for token in text.split():
        token = token.strip("\"'")
        # commas separate words ("APAC,Europe") except inside "dim=a,b", which keeps its list
        tokens.extend([token] if "=" in token else [p for p in token.split(",") if p])
    return tokens


def _date(text: str) -> dt.date | None:
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return d if d.year in YEARS else None


class _Parser:
    def __init__(self, text: str, vocab: Vocabulary):
        self.text = text
        self.vocab = vocab
        self.tokens = _tokens(text)
        self.low = [t.casefold() for t in self.tokens]
        self.filters: dict[str, list[str]] = {}
        self.group_by: list[str] = []
        self.period: PeriodSpec | None = None
        self.compare: PeriodSpec | None = None
        self.grain: str | None = None
        self.outcome: str | None = None
        self.limit: int | None = None
        self.problems: list[Problem] = []
        self.help = False

    # -- periods -------------------------------------------------------------------------------
    def period_at(self, i: int) -> tuple[PeriodSpec | None, int]:
        """A period starting at token i and how many tokens it used; (None, 0) if none starts here."""
        low, n = self.low, len(self.low)
        t = low[i]
        nxt = low[i + 1] if i + 1 < n else ""
        m = re.fullmatch(r"(\d{4})-?q(\d)", t) or re.fullmatch(r"q(\d)-?(\d{4})", t)
        if m:
            year, q = (m.group(1), m.group(2)) if t[0].isdigit() else (m.group(2), m.group(1))
            return self._quarter(int(year), int(q), self.tokens[i]), 1
        m = re.fullmatch(r"q(\d)", t)
        if m:
            if re.fullmatch(r"\d{4}", nxt):
                return self._quarter(int(nxt), int(m.group(1)), f"{self.tokens[i]} {self.tokens[i + 1]}"), 2
            self.problems.append(Problem("missing_year", self.tokens[i], (f"{self.vocab.latest_year}{t.upper()}",)))
            return None, 1
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", t)
        if m:
            year, month = int(m.group(1)), int(m.group(2))
            if 1 <= month <= 12 and year in YEARS:
                return PeriodSpec("calendar", ("month", year, month), self.tokens[i]), 1
            year = year if year in YEARS else self.vocab.latest_year
            self.problems.append(Problem("bad_period", self.tokens[i], (f"{year}-01", f"{year}-12")))
            return None, 1
        if re.fullmatch(r"(19|20)\d{2}", t):
            return PeriodSpec("calendar", ("year", int(t), 1), t), 1
        if ".." in t:
            return self._range(t.split("..", 1), self.tokens[i]), 1
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            if nxt in ("to", "-", "until", "through") and i + 2 < n:
                return self._range([t, low[i + 2]], " ".join(self.tokens[i:i + 3])), 3
            d = _date(t)
            if d is None:
                self.problems.append(Problem("bad_period", self.tokens[i]))
                return None, 1
            return PeriodSpec("range", (d, d), t), 1
        if t == "from" and i + 3 < n and low[i + 2] in ("to", "until", "through"):
            return self._range([low[i + 1], low[i + 3]], " ".join(self.tokens[i:i + 4])), 4
        if t in ("ytd", "qtd", "mtd"):
            return PeriodSpec("to_date", ({"y": "year", "q": "quarter", "m": "month"}[t[0]],), t), 1
        if t in ("all", "alltime", "ever", "all-time"):
            used = 2 if nxt == "time" else 1
            return PeriodSpec("all", (), " ".join(self.tokens[i:i + used])), used
        if t in ("this", "current") and nxt in UNIT_GRAIN and UNIT_GRAIN[nxt] and len(nxt) > 1:
            return PeriodSpec("relative", (UNIT_GRAIN[nxt], 0), f"this {UNIT_GRAIN[nxt]}"), 2
        if t in ("last", "past", "previous", "prior", "trailing"):
            return self._last(i)
        if t in ("year", "quarter", "month") and nxt == "to" and i + 2 < n and low[i + 2] == "date":
            return PeriodSpec("to_date", (t,), f"{t} to date"), 3
        return None, 0

    def _last(self, i: int) -> tuple[PeriodSpec | None, int]:
        low, n = self.low, len(self.low)
        nxt = low[i + 1] if i + 1 < n else ""
        if nxt in ("quarter", "month", "year"):
            return PeriodSpec("relative", (nxt, -1), f"last {nxt}"), 2
        m = re.fullmatch(r"(\d+)([a-z]*)", nxt)
        if not m:
            return None, 0
        count, unit, used = int(m.group(1)), m.group(2), 2
        if not unit and i + 2 < n:
            unit, used = low[i + 2], 3
        if count <= 0 or count > 3660:
            self.problems.append(Problem("bad_period", " ".join(self.tokens[i:i + used]), ("last 90d",)))
            return None, used
        if unit in UNIT_DAYS:
            days = count * UNIT_DAYS[unit]
            return PeriodSpec("last_days", (days,), f"last {days} days"), used
        if unit in UNIT_GRAIN and count * grain_months(UNIT_GRAIN[unit]) <= MAX_LAST_MONTHS:
            return PeriodSpec("last_n", (UNIT_GRAIN[unit], count), f"last {count} {UNIT_GRAIN[unit]}s"), used
        self.problems.append(Problem("bad_period", " ".join(self.tokens[i:i + used]), ("last 90d", "last 2 quarters")))
        return None, used

    def _quarter(self, year: int, q: int, text: str) -> PeriodSpec | None:
        if 1 <= q <= 4 and year in YEARS:
            return PeriodSpec("calendar", ("quarter", year, q), text)
        year = year if year in YEARS else self.vocab.latest_year
        self.problems.append(Problem("bad_period", text, (f"{year}Q1", f"{year}Q4")))
        return None

    def _range(self, ends: list[str], text: str) -> PeriodSpec | None:
        start, end = _date(ends[0]), _date(ends[1])
        if start is None or end is None:
            self.problems.append(Problem("bad_period", text, ("2024-01-01..2024-03-31",)))
            return None
        if end < start:
            self.problems.append(Problem("bad_period", text, (f"{end}..{start}",)))
            return None
        return PeriodSpec("range", (start, end), text)

    # -- segments ------------------------------------------------------------------------------
    def add_filter(self, dim: str, value: str) -> None:
        values = self.filters.setdefault(dim, [])
        if value not in values:
            values.append(value)

    def dimension(self, word: str) -> str | None:
        dim = DIMENSION_ALIASES.get(word.casefold()) or DIMENSION_ALIASES.get(norm(word))
        return dim if dim in self.vocab.values else None

    def assignment(self, token: str) -> None:
        name, _, raw_values = token.partition("=")
        excluded = name.endswith("!")  # "source!=Partner": every other value, never Partner itself
        name = name[:-1] if excluded else name
        dim = self.dimension(name)
        if dim is None:
            self.problems.append(self.unknown_dimension(name))
            return
        named = []
        for raw in filter(None, (v.strip() for v in raw_values.split(","))):
            hits = self.vocab.match(norm(raw), dim)
            if hits:
                named.append(hits[0][1])
            else:
                candidates = self.vocab.prefix_candidates(norm(raw), dim)
                self.problems.append(Problem("unknown_value", f"{name}={raw}",
                                             tuple(candidates[:3]) or self.vocab.suggest(raw, dim)))
        kept = [v for v in self.vocab.values.get(dim, ()) if v not in named] if excluded and named else named
        if not kept and named:  # "region!=APAC,Europe,India,North America": no deal is left
            self.problems.append(Problem("unknown_value", token, ()))
        for value in kept:
            self.add_filter(dim, value)

    def unknown_dimension(self, word: str) -> Problem:
        """A word after `by` or before `=` that names no dimension of this data: one the data lacks is
        named as such (with the reason), anything else gets the closest dimensions it has."""
        dim = DIMENSION_ALIASES.get(word.casefold()) or DIMENSION_ALIASES.get(norm(word))
        if dim in self.vocab.missing:
            return Problem(f"{self.vocab.missing[dim]}_dimension", word, self._dimension_suggestions(""), dim)
        return Problem("unknown_dimension", word, self._dimension_suggestions(word))

    def _dimension_suggestions(self, word: str) -> tuple[str, ...]:
        names = [a for a in SHORT_DIMENSION_NAMES if DIMENSION_ALIASES[a] in self.vocab.values]
        return tuple(difflib.get_close_matches(word.casefold(), names, n=3, cutoff=0.5)) or tuple(names)

    def grouping(self, i: int) -> int:
        """Parse the dimensions after `by`; return the index after them."""
        n, took = len(self.low), 0
        while i < n:
            pieces = [p for p in self.low[i].split(",") if p]
            if not pieces or (took and self.low[i] in JOIN_WORDS):
                i += 1
                continue
            if took and not all(self.dimension(p) or p in GRAIN_WORDS for p in pieces):
                break
            for piece in pieces:
                if piece in GRAIN_WORDS:
                    self.grain = GRAIN_WORDS[piece]
                elif self.dimension(piece):
                    if self.dimension(piece) not in self.group_by:
                        self.group_by.append(self.dimension(piece))
                elif piece in OTHER_GRAINS:  # "by week"
                    self.problems.append(Problem("other_grain", piece, ("by month", "by quarter")))
                else:
                    self.problems.append(self.unknown_dimension(piece))
            took += 1
            i += 1
        if not took:
            self.problems.append(Problem("unknown_dimension", "by", ("by region", "by product", "by month")))
        return i

    def value_at(self, i: int) -> int:
        """Match the longest run of words starting at i to a known value; return tokens used (0 if none)."""
        for size in range(min(MAX_NGRAM, len(self.low) - i), 0, -1):
            key = norm("".join(self.low[i:i + size]))
            if not key:
                continue
            hits = self.vocab.match(key, allow_prefix=size == 1)
            if not hits:
                continue
            if len({d for d, _ in hits}) > 1:
                self.problems.append(Problem("ambiguous", " ".join(self.tokens[i:i + size]),
                                             tuple(f"{d}={v}" for d, v in hits)))
            else:
                self.add_filter(*hits[0])
            return size
        return 0

    def absent_value_at(self, i: int) -> int:
        """A common value of a column this data lacks ("Europe", "north america" with no region column), named
        as such; return tokens used (0 if none). Only called once no value of the data matched here."""
        for size in range(min(MAX_NGRAM, len(self.low) - i), 0, -1):
            dim = ABSENT_VALUE_KEYS.get(norm("".join(self.low[i:i + size])))
            if dim is not None and self.vocab.missing.get(dim) == "absent":
                self.problems.append(Problem("absent_value", " ".join(self.tokens[i:i + size]),
                                             self._dimension_suggestions(""), dim))
                return size
        return 0

    # -- the loop ------------------------------------------------------------------------------
    def parse(self) -> Parsed:
        i, n = 0, len(self.low)
        named = -1  # where the last matched value ended
        while i < n:
            t = self.low[i]
            if t in HELP_WORDS:
                self.help, i = True, i + 1
            elif t in BY_WORDS:
                i = self.grouping(i + 1)
            elif t in GRAIN_WORDS and t.endswith("ly"):
                self.grain, i = GRAIN_WORDS[t], i + 1
            elif t in OTHER_GRAINS and t.endswith("ly"):
                self.problems.append(Problem("other_grain", self.tokens[i], ("monthly", "quarterly")))
                i += 1
            elif t in VS_WORDS:
                i = self.comparison(i + 1)
            elif t in OUTCOME_WORDS:
                self.outcome, i = OUTCOME_WORDS[t], i + 1
            elif t == "top" and i + 1 < n and re.fullmatch(r"\d{1,4}", self.low[i + 1]):
                count = int(self.low[i + 1])  # "top 3": the first 3 rows of the command's list
                if 1 <= count <= MAX_LIMIT:
                    self.limit = count
                else:
                    self.problems.append(Problem("bad_limit", f"top {self.low[i + 1]}", ("top 5", f"top {MAX_LIMIT}")))
                i += 2
            elif "=" in t:
                self.assignment(self.tokens[i])
                i += 1
            else:
                spec, used = self.period_at(i)
                if used:
                    if spec is not None and self.period is not None and self.period.text.casefold() == "all":
                        self.period = spec  # "all closed deals last quarter": a bare "all" counts the deals
                    elif spec is not None and spec.text.casefold() == "all" and self.period is not None:
                        pass  # "2024Q2, all of them"
                    elif spec is not None and self.period is not None and spec != self.period:
                        # "2024Q2 … last year": a second period is never read over the first in silence
                        against = (f"{self.period.text} vs {spec.text}",) if spec.kind == "calendar" else ()
                        self.problems.append(Problem("two_periods", spec.text,
                                                     (self.period.text, *against, spec.text)))
                    elif spec is not None:
                        self.period = spec
                    i += used
                    continue
                used = self.value_at(i)
                if used:
                    i += used
                    named = i
                elif self.dimension(t) and named == i and self.dimension(t) in self.filters:
                    i += 1  # "the Core product", "APAC region": the value's own dimension named, not a split
                elif self.dimension(t) and t not in FILLER_WORDS:
                    i = self.grouping(i)  # a bare dimension word means "by" it
                elif t in FILLER_WORDS or t in JOIN_WORDS:
                    i += 1
                elif used := self.absent_value_at(i):
                    i += used
                else:
                    # fuzzy suggestions cost: only the first few unknown words get them
                    suggest = self.vocab.suggest(self.tokens[i]) if len(self.problems) < MAX_SUGGESTED else ()
                    self.problems.append(Problem("unknown_word", self.tokens[i], suggest))
                    i += 1
        query = Query(
            filters=tuple((d, tuple(v)) for d, v in self.filters.items()),
            group_by=tuple(self.group_by),
            period=self.period,
            compare=self.compare,
            grain=self.grain,
            text=self.text.strip(),
            outcome=self.outcome,
            limit=self.limit,
        )
        return Parsed(query, tuple(self.problems), self.help)

    def comparison(self, i: int) -> int:
        low, n = self.low, len(self.low)
        # "vs to …", and the words of a sentence before the period: "vs in the last year", "vs the 2023Q1"
        while i < n and low[i] in ("to", "the", "in", "during", "with") and (low[i] == "to" or i < n - 1):
            i += 1
        if i >= n:
            self.compare = PeriodSpec("previous", (), "previous period")
            return i
        if low[i] in ("previous", "prior", "before") and (i + 1 >= n or low[i + 1] in ("period", "one")):
            self.compare = PeriodSpec("previous", (), "previous period")
            return i + (2 if i + 1 < n else 1)
        if low[i] in ("last", "a") and i + 1 < n and low[i + 1] == "year":
            self.compare = PeriodSpec("year_ago", (), "same period last year")
            return i + 2
        if low[i] in ("yoy", "yearago") or (low[i] == "year" and i + 1 < n and low[i + 1] == "ago"):
            self.compare = PeriodSpec("year_ago", (), "same period last year")
            return i + (2 if low[i] == "year" else 1)
        spec, used = self.period_at(i)
        if used:
            if spec is not None:
                self.compare = spec
            return i + used
        if low[i] in ("previous", "prior", "before"):  # "vs previous in APAC"
            self.compare = PeriodSpec("previous", (), "previous period")
            return i + 1
        self.problems.append(Problem("empty_vs", self.tokens[i - 1], ("vs 2024Q1", "vs previous", "vs last year")))
        return i


def parse(text: str, vocab: Vocabulary) -> Parsed:
    """Parse the arguments of a command. Never raises: anything unusable comes back as a Problem."""
    try:
        return _Parser(text or "", vocab).parse()
    except Exception:  # a grammar bug must not become a traceback in Slack; say we could not read it
        return Parsed(Query(text=(text or "").strip()), (Problem("unreadable", (text or "").strip()),))
