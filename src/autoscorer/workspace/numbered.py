"""Text ids that are numbers in disguise (``img_17``, ``frame_0042.png``), as integers.

Hashing the text ids of both files (pyarrow ``dictionary_encode``) is most of the time and
memory of aligning a large string-keyed set: at 10M rows per file, about 10 s of CPU and a
hash memo of ~900 MB over 20M strings. When every id of both files is one prefix, a number and
one suffix, equal ids have equal numbers and the alignment can use the integer path's lookup
table instead. The numbers must be written one way only: each number, printed back, must be
the text it was read from (``img_7`` and ``img_007`` would both be 7), or all numbers must be
written with the same number of characters and no sign (``000123``); anything else returns
None and the ids are hashed as text.

The digits are read with numpy straight from each chunk's Arrow buffers (offsets and bytes):
no intermediate string arrays are made (slicing off the affixes, casting, printing back to
compare cost about 0.5 s of CPU per 2M ids in Arrow kernels).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

_PATTERN = re.compile(r"(.*?)([0-9]{1,18})([^0-9]*)", re.DOTALL)
_MAX_DIGITS = 18  # every 18-digit number fits int64
_ZERO, _MINUS = ord("0"), ord("-")
_OFFSETS = {pa.string(): np.int32, pa.large_string(): np.int64}


def numbered_ids(g: pa.ChunkedArray, p: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both text id columns as int64 arrays, or None (see the module doc)."""
    if not len(g) or g.null_count or p.null_count:
        return None
    if g.type not in _OFFSETS or p.type not in _OFFSETS:
        return None
    match = _PATTERN.fullmatch(g[0].as_py())
    if match is None:
        return None
    prefix, _, suffix = (part.encode() for part in match.groups())
    form = _Form()
    g_num, p_num = _numbers(g, prefix, suffix, form), _numbers(p, prefix, suffix, form)
    if g_num is None or p_num is None or not form.one_way():
        return None
    return g_num, p_num


class _Form:
    """How the numbers of both files are written, over all their chunks."""

    def __init__(self) -> None:
        self.canonical = True  # so far every id was prefix + its number printed + suffix
        self.widths: set[int] = set()  # characters between the affixes, sign included
        self.signed = False  # some number has a minus sign

    def add(self, chunk: _Chunk) -> None:
        self.canonical = self.canonical and chunk.canonical
        self.widths |= {int(chunk.width.min()), int(chunk.width.max())}
        self.signed = self.signed or bool(chunk.negative.any())

    def one_way(self) -> bool:
        """Equal numbers mean equal texts: canonical, or unsigned and one fixed width."""
        return self.canonical or (len(self.widths) == 1 and not self.signed)


@dataclass(frozen=True)
class _Chunk:
    numbers: np.ndarray  # int64
    width: np.ndarray  # characters between prefix and suffix
    negative: np.ndarray  # bool: a minus sign before the digits
    canonical: bool  # every number is written as it prints (no zero padding, no "-0")


def _numbers(ids: pa.ChunkedArray, prefix: bytes, suffix: bytes, form: _Form) -> np.ndarray | None:
    out = np.empty(len(ids), dtype=np.int64)
    at = 0
    for chunk in ids.chunks:
        if not len(chunk):
            continue
        parsed = _parse(chunk, prefix, suffix)
        if parsed is None:  # some id is not prefix + number + suffix
            return None
        form.add(parsed)
        out[at : at + len(chunk)] = parsed.numbers
        at += len(chunk)
    return out


def _bounds(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and end byte of every id of a (large) string chunk, and the bytes."""
    kind = _OFFSETS[chunk.type]
    _validity, offsets_buf, data_buf = chunk.buffers()
    size = np.dtype(kind).itemsize
    offsets = np.frombuffer(offsets_buf, kind, count=len(chunk) + 1, offset=chunk.offset * size)
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64), data


def _has(data: np.ndarray, at: np.ndarray, affix: bytes) -> bool:
    """Whether ``affix`` is written at byte ``at`` of every id."""
    return all(bool((data[at + i] == byte).all()) for i, byte in enumerate(affix))


def _parse(chunk: pa.Array, prefix: bytes, suffix: bytes) -> _Chunk | None:
    """The numbers between ``prefix`` and ``suffix`` of every id of ``chunk``, or None."""
    starts, ends, data = _bounds(chunk)
    first = starts + len(prefix)
    width = ends - len(suffix) - first
    if width.min() < 1:
        return None
    if not (_has(data, starts, prefix) and _has(data, ends - len(suffix), suffix)):
        return None
    negative = data[first] == _MINUS
    digits = width - negative
    first = first + negative
    if digits.min() < 1 or digits.max() > _MAX_DIGITS:
        return None
    numbers = _digits(data, first, digits)
    if numbers is None:
        return None
    padded = (digits > 1) & (data[first] == _ZERO)
    minus_zero = negative & (numbers == 0)
    canonical = not bool((padded | minus_zero).any())
    return _Chunk(np.where(negative, -numbers, numbers), width, negative, canonical)


def _digits(data: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray | None:
    """The decimal numbers of ``count`` digits at ``first``, or None if a byte is no digit.

    Ids are taken in groups of one digit count (usually one or two groups per chunk), so
    that each digit position is one gather and one multiply-add over the group, in place."""
    value = np.empty(len(first), np.int64)
    lo, hi = int(count.min()), int(count.max())
    for width in range(lo, hi + 1):
        rows = None if lo == hi else np.flatnonzero(count == width)
        if rows is not None and not len(rows):
            continue
        starts = first if rows is None else first[rows]
        group = _fixed_width(data, starts, width)
        if group is None:
            return None
        if rows is None:
            return group
        value[rows] = group
    return value


def _fixed_width(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray | None:
    total = np.zeros(len(starts), np.int64)
    for k in range(width):
        digit = data[starts + k]
        digit -= np.uint8(_ZERO)  # bytes below "0" wrap around above 9
        if digit.max() > 9:
            return None
        total *= 10
        total += digit
    return total
