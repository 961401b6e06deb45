"""Text files read line by line: the encoding a CSV is in, its physical lines, and its records with
quotes honoured (the exact path for files the fast reader cannot take)."""
from __future__ import annotations

from pathlib import Path

from .errors import DataError


def open_text(path: Path, encoding: str = "utf-8", errors: str = "replace"):
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt", newline="", encoding=encoding, errors=errors)
    return open(path, newline="", encoding=encoding, errors=errors)


# What a CSV that is not UTF-8 most likely is: Excel's "CSV" on a Western Windows machine (a superset
# of Latin-1 in the printable range), so "Café" saved there reads back as "Café", not "Caf\ufffd".
FALLBACK_ENCODING = "cp1252"


def text_encoding(path: Path) -> str:
    """UTF-8 (a BOM is skipped) when the whole file decodes as UTF-8; else FALLBACK_ENCODING when it
    decodes as that (logged); else a DataError naming the first bad byte's line. Never a silent U+FFFD."""
    import codecs
    import logging

    opener = (lambda: __import__("gzip").open(path, "rb")) if path.suffix.lower() == ".gz" else (lambda: open(path, "rb"))
    decoder, line = codecs.getincrementaldecoder("utf-8")(), 1
    with opener() as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = chunk[exc.start:exc.start + 1]
                line += chunk[:exc.start].count(b"\n")
                break
            line += chunk.count(b"\n")
        else:
            return "utf-8-sig"
    with opener() as f:
        try:
            while chunk := f.read(1 << 20):
                chunk.decode(FALLBACK_ENCODING)
        except UnicodeDecodeError:
            raise DataError(f"Cannot read {path.name}: it is not UTF-8 text (byte 0x{bad.hex()} on line {line}) "
                            f"nor Windows-1252. Save it as CSV UTF-8 and load it again.") from None
    logging.getLogger(__name__).warning("%s is not UTF-8 (byte 0x%s on line %s): read as Windows-1252",
                                        path.name, bad.hex(), line)
    return FALLBACK_ENCODING


def physical_lines(path: Path) -> int:
    """Lines holding text (a last line without a newline counts; a trailing newline adds none)."""
    opener = (lambda: __import__("gzip").open(path, "rb")) if path.suffix.lower() == ".gz" else (lambda: open(path, "rb"))
    count, last = 0, b"\n"
    with opener() as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


MAX_RECORD_LINES = 50  # a quoted field (a note with line breaks) may span this many lines, no more


def records(f):
    """(first line number, text, fields) of each CSV record, quotes honoured (a quoted field may hold line
    breaks). A quote that is still open after MAX_RECORD_LINES lines is a stray one: its line comes out
    alone with fields None, and reading starts again on the line after it, so one stray quote costs one
    row, not every row up to the next quote in the file."""
    import csv
    import itertools

    pending: list[str] = []
    start = 1
    lines = iter(f)
    number = 0
    while True:
        if not pending or sum(p.count('"') for p in pending) % 2 == 0:  # no quote left open: a whole record
            if pending:
                text = "".join(pending)
                yield start, text, next(csv.reader([text]), [])
                pending = []
            line = next(lines, None)
            if line is None:
                return
            number += 1
            start, pending = number, [line]
            continue
        if len(pending) > MAX_RECORD_LINES:
            yield start, pending[0], None
            rest, pending = pending[1:], []
            number -= len(rest)  # read them again, one by one
            lines = itertools.chain(rest, lines)  # the lines after the stray quote, read again
            continue
        line = next(lines, None)
        if line is None:  # the file ends inside a quote
            yield start, pending[0], None
            rest, pending = pending[1:], []
            number -= len(rest)
            lines = iter(rest)
            continue
        number += 1
        pending.append(line)

