"""Duplicate deal ids among millions, found by fingerprinting the ids' bytes (no hash table of strings)."""
from __future__ import annotations

import numpy as np
import pandas as pd

# FNV-1a, 64 bits: a fingerprint of each id's bytes, computed for all ids at once with numpy.
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
# Ids longer than this take the dictionary-encoding path: the fingerprint loops once per byte position.
FINGERPRINT_MAX_BYTES = 64
# Rows fingerprinted at a time: the byte matrix of one block stays a few MB.
_FINGERPRINT_BLOCK = 1 << 17


def duplicated(values: pd.Series) -> np.ndarray:
    """values.duplicated(keep="first"), exactly, in about a second for ten million ids.

    Equal ids have equal fingerprints, so a row can repeat an earlier one only if its fingerprint
    repeats: those few candidate rows (every repeated id, plus any fingerprint collision) are then
    checked exactly by pandas on their real values, in their original order. Hashing millions of
    distinct strings in a hash table (pandas, or Arrow's dictionary encoding) took five seconds and
    1.5 GB at ten million deals; the fingerprints are one uint64 per row and a sort."""
    prints = fingerprints(values)
    if prints is None:  # not text, or very long ids
        return _duplicated_by_codes(values)
    out = np.zeros(len(values), dtype=bool)
    if len(values) < 2:
        return out
    ordered = np.sort(prints)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if len(repeated) == 0:
        return out
    if len(repeated) * 16 > len(values):  # ids repeated by the million (an export appended twice): the
        return values.duplicated(keep="first").to_numpy()  # candidates would be most rows: hash them all
    # Rows whose fingerprint is one of the repeated ones: a bitmap of the fingerprints' top bits rules out
    # almost every row in one pass, a binary search settles the few it lets through (searching all ten
    # million rows, in no order, took two seconds).
    bits = int(min(26, max(16, 2 + np.ceil(np.log2(len(repeated))))))
    seen = np.zeros(1 << bits, dtype=bool)
    seen[repeated >> np.uint64(64 - bits)] = True
    maybe = np.flatnonzero(seen[prints >> np.uint64(64 - bits)])
    del seen
    at = np.minimum(np.searchsorted(repeated, prints[maybe]), len(repeated) - 1)
    candidates = maybe[repeated[at] == prints[maybe]]
    del at, maybe, prints
    out[candidates] = values.iloc[candidates].duplicated(keep="first").to_numpy()
    return out


def fingerprints(values: pd.Series) -> np.ndarray | None:
    """A 64-bit FNV-1a fingerprint of each value's UTF-8 bytes and length (nulls: 0), read straight
    from the Arrow string buffers; None when the values are not text or an id is too long."""
    import pyarrow as pa

    try:
        array = pa.array(values, from_pandas=True)  # zero-copy for pandas' Arrow-backed strings
    except (pa.ArrowException, TypeError, ValueError):
        return None
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    out = np.empty(len(values), dtype=np.uint64)
    done = 0
    for chunk in chunks:
        for start in range(0, len(chunk), _FINGERPRINT_BLOCK):
            block = chunk.slice(start, _FINGERPRINT_BLOCK)
            fingerprint = _block_fingerprints(block)
            if fingerprint is None:
                return None
            out[done:done + len(block)] = fingerprint
            done += len(block)
    return out


def _block_fingerprints(block) -> np.ndarray | None:
    import pyarrow as pa

    n = len(block)
    offset_type = np.dtype(np.int64 if pa.types.is_large_string(block.type) else np.int32)
    _, offset_buffer, data_buffer = block.buffers()[:3]
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(offset_buffer, dtype=offset_type, count=n + 1,
                            offset=block.offset * offset_type.itemsize).astype(np.int64)
    lengths = np.diff(offsets)
    width = int(lengths.max())
    if width > FINGERPRINT_MAX_BYTES:
        return None
    fingerprint = (np.full(n, _FNV_OFFSET) ^ lengths.astype(np.uint64)) * _FNV_PRIME
    if width:
        data = np.frombuffer(data_buffer, dtype=np.uint8)
        if int(lengths.min()) == width:  # ids of one length: the bytes already are an n x width matrix
            matrix = data[offsets[0]:offsets[0] + n * width].reshape(n, width)
            for j in range(width):
                fingerprint ^= matrix[:, j]
                fingerprint *= _FNV_PRIME
        else:
            # Past a value's end the byte is 0 and the multiplier 1 (xor 0, times 1: no step), so a value's
            # fingerprint is the same whatever the longest value next to it
            at = offsets[:-1, None] + np.arange(width)
            matrix = np.where(at < offsets[1:, None], data[np.minimum(at, len(data) - 1)], 0).astype(np.uint8)
            del at
            for j in range(width):
                fingerprint ^= matrix[:, j]
                fingerprint *= np.where(lengths > j, _FNV_PRIME, np.uint64(1))
    if block.null_count:
        fingerprint[block.is_null().to_numpy(zero_copy_only=False)] = 0
    return fingerprint


def _duplicated_by_codes(values: pd.Series) -> np.ndarray:
    """values.duplicated(keep="first") through Arrow's dictionary encoding: codes are handed out in order
    of first appearance, so a row repeats an earlier value exactly when its code is not a new maximum."""
    import pyarrow as pa

    try:
        array = pa.array(values, from_pandas=True)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if array.null_count:  # a null has no code; pandas counts nulls as one value
            return values.duplicated(keep="first").to_numpy()
        codes = array.dictionary_encode().indices.to_numpy(zero_copy_only=False)
    except (pa.ArrowException, TypeError, ValueError, AttributeError):
        return values.duplicated(keep="first").to_numpy()
    if len(codes) == 0:
        return np.zeros(0, dtype=bool)
    codes = codes.astype(np.int64)
    seen = np.maximum.accumulate(codes)
    first = np.empty(len(codes), dtype=bool)
    first[0] = True
    first[1:] = codes[1:] > seen[:-1]
    return ~first

