"""Turning the label columns of ground truth and predictions into shared class codes.

Labels are compared after ``meta.json``'s ``label_mapping`` (raw label as
written -> label used for scoring; unmapped labels stay as they are). If every
label is a number they are compared and sorted as numbers (``1`` equals
``1.0``), otherwise as exact text in code-point order, which is the order
scikit-learn's ``unique_labels`` gives for ints and for strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from autoscorer.errors import InvalidParameter
from autoscorer.workspace import arrowfn
from autoscorer.workspace.tabular import chunk_numpy, flat_numpy

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DIRECT_SPAN = 1 << 12
_DENSE_SPAN = 1 << 22


@dataclass
class LocalCodes:
    """A label column as small integer codes: ``chunk value - shift``, zero-copy pyarrow
    buffers. ``texts[c]`` is the raw label of code ``c``; some codes may not occur."""

    chunks: list[np.ndarray]
    texts: list[str]
    shift: int = 0

    @cached_property
    def codes(self) -> np.ndarray:
        """All codes as one array (built on first use)."""
        codes = np.concatenate(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        return codes - self.shift if self.shift else codes

    def reordered(self, order: np.ndarray) -> LocalCodes:
        return LocalCodes([self.codes[order]], self.texts)


def local_codes(col: pa.ChunkedArray) -> LocalCodes:
    """Codes without sorting 10M values: the dictionary's indices or integer offsets."""
    if pa.types.is_dictionary(col.type):
        col = col.unify_dictionaries()
        texts = col.chunk(0).dictionary.to_pylist() if col.num_chunks else []
        return LocalCodes([chunk_numpy(c.indices) for c in col.chunks], texts)
    bounds = arrowfn.min_max(col).as_py()
    lo, hi = int(bounds["min"]), int(bounds["max"])
    if hi - lo < _DIRECT_SPAN:  # small label values, e.g. 0..99: value - lo is the code
        texts = [str(lo + i) for i in range(hi - lo + 1)]
        return LocalCodes([chunk_numpy(c) for c in col.chunks], texts, lo)
    arr = flat_numpy(col)
    if hi - lo < _DENSE_SPAN:
        present = np.flatnonzero(np.bincount(arr - lo))
        lut = np.zeros(hi - lo + 1, dtype=np.int32)
        lut[present] = np.arange(len(present))
        return LocalCodes([lut[arr - lo]], [str(int(v) + lo) for v in present])
    uniq, inverse = np.unique(arr, return_inverse=True)
    return LocalCodes([inverse.astype(np.int32)], [str(int(v)) for v in uniq])


def _canonical_number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass
class LabelSpace:
    """The classes: display names in class-code order, and how to look a label up."""

    names: list[str]
    numeric: bool
    _index: dict[Any, int]
    _mapping: dict[str, Any]

    @classmethod
    def build(cls, raw_labels: Iterable[str], mapping: dict[str, Any]) -> LabelSpace:
        space = cls([], False, {}, {str(k): v for k, v in mapping.items()})
        mapped = {space.mapped(t) for t in raw_labels}
        space.numeric = bool(mapped) and all(_NUMBER.fullmatch(t) for t in mapped)
        by_key: dict[Any, str] = {}
        for text in sorted(mapped):
            by_key.setdefault(space._key(text), text)
        for key in sorted(by_key):
            space._index[key] = len(space.names)
            space.names.append(_canonical_number(by_key[key]) if space.numeric else by_key[key])
        return space

    def mapped(self, raw: str) -> str:
        """``label_mapping`` applied to a raw label (numbers also match by value: 1.0 -> '1')."""
        if raw in self._mapping:
            return str(self._mapping[raw])
        if _NUMBER.fullmatch(raw) and (canon := _canonical_number(raw)) in self._mapping:
            return str(self._mapping[canon])
        return raw

    def _key(self, text: str) -> Any:
        return float(text) if self.numeric and _NUMBER.fullmatch(text) else text

    def code(self, label: object, *, raw: bool = True) -> int | None:
        """Class code of a label (raw as in the CSV, or already mapped), None if unknown."""
        text = str(label).strip()
        return self._index.get(self._key(self.mapped(text) if raw else text))

    def __len__(self) -> int:
        return len(self.names)

    def lut(self, texts: list[str]) -> np.ndarray:
        """Class code (int32) of each raw text; -1 for texts that are not in the space."""
        keys = (self._key(self.mapped(t)) for t in texts)
        return np.fromiter((self._index.get(k, -1) for k in keys), np.int32, len(texts))

    def select(self, labels: list[Any] | None) -> np.ndarray:
        """Class codes for the ``labels`` parameter, adding classes that never occur.

        Labels name classes after ``label_mapping``. None means every class.
        """
        if labels is None:
            return np.arange(len(self.names))
        if not labels:
            raise InvalidParameter("parameter 'labels' must not be empty", field="labels")
        out: list[int] = []
        for label in labels:
            if not isinstance(label, str | int) or isinstance(label, bool):
                raise InvalidParameter(
                    f"parameter 'labels' holds {label!r}; labels must be strings or integers",
                    field="labels",
                )
            code = self.code(label, raw=False)
            if code is None:
                code = self._index[self._key(str(label).strip())] = len(self.names)
                self.names.append(str(label).strip())
            if code in out:
                raise InvalidParameter(f"label {label!r} is listed twice", field="labels")
            out.append(code)
        return np.asarray(out, dtype=np.int64)
