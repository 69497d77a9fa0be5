"""Text ids that are numbers in disguise (``img_17``, ``frame_0042.png``), as integers.

Hashing the text ids of both files (pyarrow ``dictionary_encode``) is most of the time and
memory of aligning a large string-keyed set: at 10M rows per file, about 10 s of CPU and a
hash memo of ~900 MB over 20M strings. When every id of both files is one prefix, a number and
one suffix, equal ids have equal numbers and the alignment can use the integer path's lookup
table instead. The numbers must be written one way only: each number, printed back, must be
the text it was read from (``img_7`` and ``img_007`` would both be 7), or all numbers must be
written with the same number of characters (``000123``); anything else returns None and the
ids are hashed as text.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pyarrow as pa
from pyarrow._compute import CastOptions, MatchSubstringOptions, SliceOptions, call_function

from autoscorer.workspace import arrowfn
from autoscorer.workspace.tabular import chunk_numpy

_PATTERN = re.compile(r"(.*?)([0-9]{1,18})([^0-9]*)", re.DOTALL)


def numbered_ids(g: pa.ChunkedArray, p: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both text id columns as int64 arrays, or None (see the module doc)."""
    if not len(g) or g.null_count or p.null_count:
        return None
    match = _PATTERN.fullmatch(g[0].as_py())
    if match is None:
        return None
    prefix, _, suffix = match.groups()
    form = _Form()
    try:
        g_num, p_num = _numbers(g, prefix, suffix, form), _numbers(p, prefix, suffix, form)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # not a number somewhere
        return None
    if g_num is None or p_num is None or not form.one_way():
        return None
    return g_num, p_num


class _Form:
    """How the numbers of both files are written, over all their chunks."""

    def __init__(self) -> None:
        self.canonical = True  # so far every id was prefix + its number printed + suffix
        self.fast = 0  # chunks found canonical (their widths were not looked at)
        self.widths: set[int] = set()
        self.signed = False  # some text starts with "-"

    def add(self, middle: pa.Array) -> None:
        """A chunk that is not canonical: its widths and signs."""
        self.canonical = False
        lo, hi = (v.as_py() for v in arrowfn.min_max(arrowfn.binary_length(middle)).values())
        self.widths |= {lo, hi}
        minus = call_function("starts_with", [middle], MatchSubstringOptions("-"))
        self.signed = self.signed or bool(call_function("any", [minus]).as_py())

    def one_way(self) -> bool:
        """Equal numbers mean equal texts: canonical, or unsigned and one fixed width."""
        return self.canonical or (len(self.widths) == 1 and not self.signed)


def _all(mask: pa.Array) -> bool:
    return bool(arrowfn.all_true(mask).as_py())


def _numbers(ids: pa.ChunkedArray, prefix: str, suffix: str, form: _Form) -> np.ndarray | None:
    out = np.empty(len(ids), dtype=np.int64)
    at = 0
    for chunk in ids.chunks:
        numbers = _canonical(chunk, prefix, suffix) if form.canonical else None
        form.fast += numbers is not None
        if numbers is None:  # some id is not prefix + printed number + suffix
            middle = _middle(chunk, prefix, suffix)
            if middle is None or form.fast:  # fixed width? the fast chunks' are unknown
                return None
            numbers = call_function("cast", [middle], CastOptions(pa.int64()), arrowfn.POOL)
            form.add(middle)
        out[at : at + len(chunk)] = chunk_numpy(numbers)
        at += len(chunk)
    return out


def _canonical(chunk: pa.Array, prefix: str, suffix: str) -> pa.Array | None:
    """The numbers of ``chunk`` if every id is exactly ``prefix``, its number as printed,
    and ``suffix``, else None."""
    middle = _middle(chunk, prefix, suffix)
    if middle is None:
        return None
    try:
        numbers = call_function("cast", [middle], CastOptions(pa.int64()), arrowfn.POOL)
    except pa.ArrowInvalid:
        return None
    printed = call_function("cast", [numbers], CastOptions(pa.string()), arrowfn.POOL)
    return numbers if _all(call_function("equal", [printed, middle])) else None


def _middle(chunk: pa.Array, prefix: str, suffix: str) -> pa.Array | None:
    """The text between ``prefix`` and ``suffix`` of every id, or None if one lacks them."""
    for kernel, affix in (("starts_with", prefix), ("ends_with", suffix)):
        if affix and not _all(call_function(kernel, [chunk], MatchSubstringOptions(affix))):
            return None
    stop = -len(suffix) if suffix else sys.maxsize
    return call_function("utf8_slice_codeunits", [chunk], SliceOptions(len(prefix), stop))
