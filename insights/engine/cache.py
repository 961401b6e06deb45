"""A refresh's work kept on disk, keyed by the source's fingerprint, so that a new process on unchanged data
reuses it: the validated scratch store (DuckDB) and every query's result (the raw values, the duplicate ids,
the report's GROUP BY, the cells).

    results = ResultCache.of(place)            # None: no fingerprint for this source, or DEALS_ENGINE_CACHE=off
    results.get(sql) / results.put(sql, frame)

The fingerprint is what changes when the data does, read without reading the data: each file's path, size,
modification and change times, inode and a hash of its first and last 64 KiB (a Parquet file's whole footer: its
row groups' sizes and column statistics), so a rewrite in place with the same size and time is seen (a glob:
every file it matches); for a PostgreSQL table its row count and the
sum of its rows' `xmin` (each insert, update or delete changes one or the other) with the table's file
number. A DEALS_QUERY, a view or another database has none, and nothing is kept. A result is found by its
SQL text, which holds everything else it depends on (the mapping's readings, the window, the day past which
a date is in the future). The folder is private to its user (mode 0700); the newest few entries are kept.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

# Bump when what is stored changes shape: entries written by another version are never read.
VERSION = "1"
# How many fingerprints' entries are kept (each holds one scratch store: about 8 bytes a deal).
KEEP = 3


def cache_folder() -> Path | None:
    """DEALS_ENGINE_CACHE: the folder (default: si_engine_cache-<uid> in the temporary directory), or off."""
    setting = (os.environ.get("DEALS_ENGINE_CACHE") or "").strip()
    if setting.lower() in ("off", "no", "false", "0"):
        return None
    return Path(setting) if setting else Path(tempfile.gettempdir()) / f"si_engine_cache-{os.getuid()}"


def _private(folder: Path) -> bool:
    """The folder exists (made if not), belongs to this user and no one else may write in it."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except OSError:
        return False
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def file_fingerprint(pattern: str) -> str | None:
    """Path, size, mtime, ctime and inode of each file `pattern` names (a glob: every match, sorted), and a hash
    of a little of its content (`content_digest`): a file rewritten in place with the same size within the
    clock's granularity (or its mtime set back) is not taken for the one before."""
    import glob

    paths = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    parts = []
    for path in paths:
        try:
            st = os.stat(path)
            digest = content_digest(path, st.st_size)
        except OSError:
            return None
        parts.append(f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}|{digest}")
    return "\n".join(parts) if parts else None


EDGE_BYTES = 64 * 1024  # read from each end of a file for its content digest
MAX_FOOTER = 64 * 2**20  # a Parquet footer larger than this is hashed by its ends only


def content_digest(path: str, size: int) -> str:
    """A hash of the file's first and last 64 KiB and, for Parquet, of its whole footer (the schema, every row
    group's offsets, sizes and column statistics: what a rewrite of the data changes) — a few reads, not a scan.
    A small file is hashed whole."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        if size <= 2 * EDGE_BYTES:
            h.update(f.read())
            return h.hexdigest()[:32]
        h.update(f.read(EDGE_BYTES))
        tail = EDGE_BYTES
        f.seek(size - 8)
        end = f.read(8)
        if end[4:] == b"PAR1":  # Parquet: the footer's length, then the magic bytes
            footer = int.from_bytes(end[:4], "little") + 8
            if tail < footer <= min(size, MAX_FOOTER):
                tail = footer
        f.seek(size - tail)
        h.update(f.read(tail))
    return h.hexdigest()[:32]


@dataclass
class ResultCache:
    """One fingerprint's entry: a folder of pickled query results and the scratch store."""

    folder: Path
    scope: str = ""  # the scratch store's key, once queries read it
    hits: int = 0

    @classmethod
    def of(cls, describe: str, fingerprint: str | None) -> ResultCache | None:
        root = cache_folder()
        if fingerprint is None or root is None or not _private(root):
            return None
        key = hashlib.sha256(f"{VERSION}\n{describe}\n{fingerprint}".encode()).hexdigest()[:32]
        folder = root / key
        try:
            folder.mkdir(exist_ok=True)
            os.utime(folder)  # the newest entries are kept
        except OSError:
            return None
        _evict(root)
        return cls(folder)

    def _path(self, sql: str) -> Path:
        return self.folder / (hashlib.sha256(f"{self.scope}\n{sql}".encode()).hexdigest()[:32] + ".pickle")

    def get(self, sql: str):
        try:
            with open(self._path(sql), "rb") as f:
                found = pickle.load(f)
        except Exception:  # absent, half-written by a crash or damaged: the query runs again
            return None
        self.hits += 1
        return found

    def put(self, sql: str, found) -> None:
        path = self._path(sql)
        partial = path.with_suffix(f".{uuid.uuid4().hex}.partial")
        try:
            with open(partial, "wb") as f:
                pickle.dump(found, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)  # whole or absent: another process never reads half a result
        except OSError:
            partial.unlink(missing_ok=True)

    def store_path(self, key: str) -> Path:
        return self.folder / f"store-{key}.duckdb"


def _evict(root: Path) -> None:
    """Keep the KEEP most recently used entries; an entry another process has open stays readable (Linux)."""
    import shutil

    try:
        entries = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in entries[KEEP:]:
        if time.time() - old.stat().st_mtime > 1:  # not one made a moment ago by a process beside this one
            shutil.rmtree(old, ignore_errors=True)
