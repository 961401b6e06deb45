"""The column mapping: how an export's columns and outcome values map onto the canonical schema."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..mapping import FALSE_FLAGS, TRUE_FLAGS, is_flag_value
from ..schema import CANONICAL_COLUMNS, SOURCE_DIMENSIONS
from .errors import DataError


def read_settings_file(path: Path) -> object:
    """A TOML file, or YAML by its suffix (.yml, .yaml): the mapping and access files' one reader.
    OSError when it cannot be read; ValueError (either parser's message) when it is not valid."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return tomllib.loads(text)
    except Exception as exc:  # both parsers raise their own types; the message is what matters
        raise ValueError(str(exc)) from exc

# Columns a mapping may name besides the canonical ones: Salesforce-style IsClosed next to an IsWon outcome.
EXTRA_COLUMNS = ("is_closed",)

@dataclass(frozen=True)
class ColumnMapping:
    """How an export's columns and outcome values map onto the canonical schema."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical -> export column
    won_values: tuple[str, ...] = ()
    lost_values: tuple[str, ...] = ()
    open_values: tuple[str, ...] = ()
    others_are_open: bool = False
    absent: tuple[str, ...] = ()  # dimensions the export does not have
    date_format: str | None = None
    dayfirst: bool = False
    stage_order: tuple[str, ...] = ()  # funnel order of deal_stage; empty: the canonical STAGE_ORDER
    decimal: str | None = None  # the amounts' decimal mark, "." or ","; None: told from each value

    @classmethod
    def from_file(cls, path: str | Path) -> ColumnMapping:
        path = Path(path)
        try:
            raw = read_settings_file(path)
        except OSError as exc:
            raise DataError(f"Cannot read the mapping file {path}: {exc.strerror or exc}.") from exc
        except ValueError as exc:
            raise DataError(f"The mapping file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: "
                            f"{exc}") from exc
        return cls.from_dict(raw or {}, str(path))

    @classmethod
    def from_dict(cls, raw: dict, where: str = "mapping") -> ColumnMapping:
        if not isinstance(raw, dict):
            raise DataError(f"The {where} must be a table of settings.")
        raw = dict(raw)
        if isinstance(raw.get("columns"), dict):
            columns = dict(raw["columns"])
            for key in ("absent", "stages"):  # TOML puts `absent = []` written after [columns] inside it
                if key in columns and not isinstance(columns[key], str) and key not in raw:
                    raw[key] = columns.pop(key)
            raw["columns"] = columns
        check_mapping_types(raw, where)
        columns = raw.get("columns") or {}
        unknown = sorted(set(columns) - set(CANONICAL_COLUMNS) - set(EXTRA_COLUMNS))
        if unknown:
            raise DataError(
                f"The {where} maps unknown column(s) {', '.join(unknown)}; "
                f"canonical columns are {', '.join(CANONICAL_COLUMNS + EXTRA_COLUMNS)}."
            )
        absent = tuple(raw.get("absent", ()) or ())
        bad_absent = sorted(set(absent) - set(SOURCE_DIMENSIONS))
        if bad_absent:
            raise DataError(f"Only segment columns may be absent, not {', '.join(bad_absent)}.")
        outcome = raw.get("outcome", {}) or {}
        others = str(outcome.get("others_are", "invalid")).lower()
        if others not in ("open", "invalid"):
            raise DataError(f"outcome.others_are must be 'open' or 'invalid', not {others!r}.")
        dates = raw.get("dates", {}) or {}
        amounts = raw.get("amounts", {}) or {}
        decimal = amounts.get("decimal")
        if decimal not in (None, ".", ","):
            raise DataError(f"amounts.decimal must be \".\" or \",\", not {decimal!r}.")
        stages = raw.get("stages", {}) or {}
        if isinstance(stages, (list, tuple)):
            stages = {"order": stages}
        if not isinstance(stages, dict):
            raise DataError("stages must be a list of stage names in funnel order, or a table with order, won, lost.")

        def values(table, key):
            v = table.get(key, ())
            if isinstance(v, bool):
                v = "true" if v else "false"
            return tuple(str(x).strip().lower() for x in ([v] if isinstance(v, (str, int, float)) else v))

        won, lost = values(outcome, "won") + values(stages, "won"), values(outcome, "lost") + values(stages, "lost")
        if (values(stages, "won") or values(stages, "lost")) and "outcome" not in columns:
            columns["outcome"] = columns.get("deal_stage", "deal_stage")  # the stage column says the outcome
        if "is_closed" in columns and not won and not lost:
            won, lost = TRUE_FLAGS, FALSE_FLAGS  # IsClosed + IsWon: closed deals are won when IsWon is true
        if lost and all(is_flag_value(v) for v in lost) and "is_closed" not in columns and not values(outcome, "open"):
            raise DataError(
                f"The {where} reads outcome {columns.get('outcome', 'outcome')!r} as a won/lost flag "
                f"(lost = {', '.join(lost)}), which cannot tell an open deal from a lost one: map is_closed to the "
                "export's closed flag too (e.g. is_closed = \"IsClosed\"), or list outcome.open values."
            )
        order = tuple(str(x).strip() for x in stages.get("order", ()) or ())
        return cls(
            columns={k: str(v) for k, v in columns.items()},
            won_values=won,
            lost_values=lost,
            open_values=values(outcome, "open"),
            others_are_open=others == "open",
            absent=absent,
            date_format=dates.get("format"),
            dayfirst=bool(dates.get("dayfirst", False)),
            stage_order=order,
            decimal=decimal,
        )


_SCALAR = (str, int, float, bool)


def check_mapping_types(raw: dict, where: str = "mapping") -> None:
    """Every setting of a mapping file has the type it must have, or one DataError names the setting,
    what it is and what it should be (a wrongly typed file used to crash the CLI, `http` and the clock)."""
    def kind(value) -> str:
        return {dict: "a table", list: "a list", str: "a string", bool: "true/false", int: "a number",
                float: "a number"}.get(type(value), type(value).__name__)

    def fail(key: str, value, wanted: str):
        raise DataError(f"In the {where}, `{key}` must be {wanted}, not {kind(value)} ({str(value)[:60]!r}).")

    for section in ("columns", "outcome", "dates"):
        value = raw.get(section)
        if value is not None and not isinstance(value, dict):
            fail(section, value, "a table")
    for key, value in (raw.get("columns") or {}).items():
        if not isinstance(value, str) or not value.strip():
            fail(f"columns.{key}", value, "a column name (text)")
    absent = raw.get("absent")
    if absent is not None and not (isinstance(absent, list) and all(isinstance(a, str) for a in absent)):
        fail("absent", absent, "a list of segment column names")
    outcome = raw.get("outcome") or {}
    for key in ("won", "lost", "open"):
        value = outcome.get(key)
        if value is None or isinstance(value, _SCALAR):
            continue
        if not (isinstance(value, list) and all(isinstance(x, _SCALAR) for x in value)):
            fail(f"outcome.{key}", value, "a value or a list of values")
    if "others_are" in outcome and not isinstance(outcome["others_are"], str):
        fail("outcome.others_are", outcome["others_are"], "'open' or 'invalid'")
    dates = raw.get("dates") or {}
    if dates.get("format") is not None and not isinstance(dates["format"], str):
        fail("dates.format", dates["format"], "a date format such as \"%d/%m/%Y\"")
    if "dayfirst" in dates and not isinstance(dates["dayfirst"], bool):
        fail("dates.dayfirst", dates["dayfirst"], "true or false")

