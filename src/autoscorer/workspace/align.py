"""Matching prediction rows to ground-truth rows by id.

Ids that are integers in *both* files are compared as integers (``007`` equals
``7``, as pandas would read them); otherwise both are compared as exact text.
The common case, predictions already in ground-truth order with sorted ids,
costs two vectorised comparisons; anything else uses a lookup table (dense
integer ids, or text ids that are one prefix, a number and one suffix, such as
``img_17``) or one hash pass (pyarrow ``dictionary_encode``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from autoscorer.errors import DuplicateId, MissingId, UnknownId
from autoscorer.workspace import arrowfn
from autoscorer.workspace.numbered import numbered_ids
from autoscorer.workspace.tabular import CsvTable, chunk_numpy, flat_numpy, row_error

IdAt = Callable[[int], object]


def align_ids(gt: CsvTable, pred: CsvTable, column: str = "id") -> np.ndarray | None:
    """For every ground-truth row, the index of the prediction row with its id.

    Returns None when the prediction rows are already in ground-truth order.
    Raises DuplicateId (either file), UnknownId or MissingId, naming file, data row and id.
    """
    g, p = _comparable(gt, pred, column)
    if len(g) == len(p) and g.equals(p) and _increasing(g):
        return None
    if pa.types.is_integer(g.type):
        g_np, p_np = flat_numpy(g), flat_numpy(p)
        gt_row = _int_lookup(g_np, p_np, gt.name, _getter(g_np))
        if gt_row is None:  # sparse ids: a table would be too big
            gt_row = _hash_lookup(pa.chunked_array([g_np]), pa.chunked_array([p_np]), gt.name)
        return _checked(gt_row, gt, pred, _getter(p_np), _getter(g_np))
    numbered = numbered_ids(g, p)
    gt_row = None if numbered is None else _int_lookup(*numbered, gt.name, _getter(g))
    if gt_row is None:
        gt_row = _hash_lookup(g, p, gt.name)
    return _checked(gt_row, gt, pred, _getter(p), _getter(g))


def _checked(
    gt_row: np.ndarray, gt: CsvTable, pred: CsvTable, pred_id: IdAt, gt_id: IdAt
) -> np.ndarray | None:
    order = _permutation(gt_row, gt.num_rows, pred.name, gt.name, pred_id, gt_id)
    return None if len(order) == len(gt_row) and _is_identity(order) else order


def _getter(ids: np.ndarray | pa.ChunkedArray) -> IdAt:
    """Row -> id as a plain Python value, for messages."""
    if isinstance(ids, np.ndarray):
        return lambda row: int(ids[row])
    return lambda row: ids[row].as_py()


def _comparable(
    gt: CsvTable, pred: CsvTable, column: str
) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """Both id columns as integers, or both as text (re-reading an integer one)."""
    g, p = gt.columns[column], pred.columns[column]
    if pa.types.is_integer(g.type) and pa.types.is_integer(p.type):
        return g, p
    if pa.types.is_integer(g.type):
        g = gt.reread_text(column)
    if pa.types.is_integer(p.type):
        p = pred.reread_text(column)
    return g, p


def _increasing(ids: pa.ChunkedArray) -> bool:
    """Strictly increasing (hence unique), checked on the pyarrow buffers without copies."""
    if not pa.types.is_integer(ids.type):
        return len(ids) < 2 or bool(arrowfn.all_true(arrowfn.less(ids[:-1], ids[1:])).as_py())
    last = None
    for chunk in ids.chunks:
        a = chunk_numpy(chunk)
        if len(a) and (not bool(np.all(a[1:] > a[:-1])) or (last is not None and a[0] <= last)):
            return False
        last = a[-1] if len(a) else last
    return True


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.array_equal(order, np.arange(len(order))))


def _first_seen(codes: np.ndarray, span: int) -> np.ndarray:
    """``first[c]`` = index of the first occurrence of code ``c`` (-1 if none)."""
    first = np.full(span, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


def _duplicate_gt(name: str, row: int, first: int, id_: object) -> DuplicateId:
    text = f"id '{id_}' appears more than once (first at data row {first + 1})"
    return row_error(DuplicateId, name, row, text, id=id_, first_row=first + 1)


def _int_lookup(g: np.ndarray, p: np.ndarray, gt_name: str, gt_id: IdAt) -> np.ndarray | None:
    """For each prediction row, its ground-truth row (-1 when unknown), from a table indexed
    by integer id; None when the ids are too sparse for a table."""
    lo, hi = int(g.min()), int(g.max())
    span = hi - lo + 1
    if span > 4 * len(g) + 1024:
        return None
    codes = g - lo
    first = _first_seen(codes, span)
    if np.count_nonzero(first >= 0) != len(g):  # an id twice: find the first repeat
        repeats = np.flatnonzero(first[codes] != np.arange(len(g)))
        row = int(repeats[0])
        raise _duplicate_gt(gt_name, row, int(first[codes[row]]), gt_id(row))
    del codes
    # index with the ids (outside ones pointed at slot 0, then marked unknown): fewer
    # temporary arrays than selecting the inside ones first (each is 8 bytes a row)
    outside = (p < lo) | (p > hi)  # from p itself, not from p - lo (which may wrap around)
    idx = p - lo
    idx[outside] = 0
    gt_row = first[idx]
    gt_row[outside] = -1
    return gt_row


def _hash_lookup(g: pa.ChunkedArray, p: pa.ChunkedArray, gt_name: str) -> np.ndarray:
    """For each prediction row, its ground-truth row (-1 when unknown); any id type."""
    encoded = arrowfn.dictionary_encode(pa.chunked_array(list(g.chunks) + list(p.chunks), g.type))
    codes = flat_numpy(pa.chunked_array([c.indices for c in encoded.chunks], pa.int32()))
    n = len(g)
    # codes are handed out in order of first appearance: unique gt ids get 0..n-1
    wrong = np.flatnonzero(codes[:n] != np.arange(n))
    if len(wrong):
        row = int(wrong[0])
        raise _duplicate_gt(gt_name, row, int(codes[row]), g[row].as_py())
    pred_codes = codes[n:].astype(np.int64)
    return np.where(pred_codes < n, pred_codes, -1)


def _permutation(
    gt_row: np.ndarray, n_gt: int, pred_name: str, gt_name: str, pred_id: IdAt, gt_id: IdAt
) -> np.ndarray:
    """The prediction row of every ground-truth row; every id exactly once or an error."""
    unknown = np.flatnonzero(gt_row < 0)
    if len(unknown):
        raise _unknown(unknown, pred_name, gt_name, pred_id)
    first = _first_seen(gt_row, n_gt)
    if np.count_nonzero(first >= 0) != len(gt_row):  # an id twice: find the first repeat
        row = int(np.flatnonzero(first[gt_row] != np.arange(len(gt_row)))[0])
        earlier = int(first[gt_row[row]])
        text = (
            f"id '{pred_id(row)}' appears more than once (first at data row {earlier + 1}); "
            "keep one row per id"
        )
        raise row_error(DuplicateId, pred_name, row, text, id=pred_id(row), first_row=earlier + 1)
    missing = np.flatnonzero(first < 0)
    if len(missing):
        raise _missing(missing, pred_name, gt_name, gt_id)
    return first


def _unknown(rows: np.ndarray, pred_name: str, gt_name: str, pred_id: IdAt) -> UnknownId:
    row, more = int(rows[0]), len(rows) - 1
    text = f"id '{pred_id(row)}' not in ground truth" + (
        f" ({more} more unknown id(s))" if more else ""
    )
    text += f"; predict exactly the ids of {gt_name}"
    return row_error(UnknownId, pred_name, row, text, id=pred_id(row), count=len(rows))


def _missing(rows: np.ndarray, pred_name: str, gt_name: str, gt_id: IdAt) -> MissingId:
    row = int(rows[0])
    return MissingId(
        f"{pred_name} has no prediction for id '{gt_id(row)}' ({gt_name} data row {row + 1}, "
        f"1-based); {len(rows)} ground-truth id(s) have no prediction",
        field=pred_name,
        details={"file": pred_name, "id": gt_id(row), "gt_row": row + 1, "count": len(rows)},
    )
