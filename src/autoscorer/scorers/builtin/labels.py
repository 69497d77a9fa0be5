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
from typing import Any

import numpy as np
import pyarrow as pa

from autoscorer.errors import InvalidParameter

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DENSE_SPAN = 1 << 20


@dataclass(frozen=True)
class LocalCodes:
    """A label column as small integer codes plus the raw text of each used code."""

    codes: np.ndarray
    values: list[tuple[int, str]]
    size: int


def local_codes(col: pa.ChunkedArray) -> LocalCodes:
    """Codes without sorting 10M values: integer offsets or the dictionary's indices."""
    if pa.types.is_dictionary(col.type):
        col = col.unify_dictionaries()
        texts = col.chunk(0).dictionary.to_pylist() if col.num_chunks else []
        codes = pa.chunked_array([c.indices for c in col.chunks], pa.int32()).to_numpy()
        return LocalCodes(codes, list(enumerate(texts)), len(texts))
    arr = col.to_numpy()
    lo, hi = int(arr.min()), int(arr.max())
    if hi - lo < _DENSE_SPAN:
        offsets = arr - lo
        present = np.flatnonzero(np.bincount(offsets, minlength=hi - lo + 1))
        return LocalCodes(offsets, [(int(i), str(int(i) + lo)) for i in present], hi - lo + 1)
    uniq, inverse = np.unique(arr, return_inverse=True)
    return LocalCodes(inverse, [(i, str(int(v))) for i, v in enumerate(uniq)], len(uniq))


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

    def encode(self, local: LocalCodes) -> np.ndarray:
        """Class codes (int32) for a column's local codes."""
        lut = np.full(max(local.size, 1), -1, dtype=np.int32)
        for code, text in local.values:
            lut[code] = self._index[self._key(self.mapped(text))]
        return lut[local.codes]

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
