"""Matching detections to ground truth exactly as pycocotools' ``COCOeval`` does, vectorized.

Within one image x category group, detections are taken in descending score
order (ties in file order, as pycocotools' stable mergesort), only the first
``max_det`` are kept, and each one in turn takes the best still-free ground-truth
box whose IoU reaches the threshold. "Best" follows pycocotools' loop exactly:
a non-ignored box beats an ignored one; among the same kind the highest IoU
wins, and an IoU tie goes to the box later in the file. Crowd boxes stay free
after a match (many detections may match one crowd region).

All groups advance together: step ``r`` matches the ``r``-th detection (among
those overlapping anything) of every group at once, for every area range and
IoU threshold at once, so Python loops only over ``r``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_NONE = np.iinfo(np.int64).max

# pycocotools compares IoU against min(t, 1 - 1e-10), so t = 1.0 still matches
# a near-perfect box
MAX_IOU_THRESHOLD = 1 - 1e-10


def iou_xywh(det: FloatArray, gt: FloatArray, crowd: BoolArray) -> FloatArray:
    """IoU of paired [x, y, w, h] rows; for a crowd gt the union is the detection's area.

    Same operations in the same order as pycocotools' C ``bbIou``, so results
    are bit-identical (a threshold decision never differs by one ulp).
    """
    w = np.minimum(det[:, 2] + det[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(det[:, 0], gt[:, 0])
    h = np.minimum(det[:, 3] + det[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(det[:, 1], gt[:, 1])
    inter = w * h
    det_area = det[:, 2] * det[:, 3]
    union = np.where(crowd, det_area, det_area + gt[:, 2] * gt[:, 3] - inter)
    overlap = (w > 0) & (h > 0)
    out = np.zeros(len(det))
    np.divide(inter, union, out=out, where=overlap)
    return out


def group_starts(sorted_keys: IntArray) -> IntArray:
    """Index of the first element of each run of equal keys."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate([[0], change]).astype(np.int64)


def rank_in_group(sorted_keys: IntArray) -> IntArray:
    """0, 1, 2, ... within each run of equal keys."""
    starts = group_starts(sorted_keys)
    lengths = np.diff(np.append(starts, len(sorted_keys)))
    return np.arange(len(sorted_keys)) - np.repeat(starts, lengths)


def descending_rank(score: FloatArray) -> IntArray:
    """Dense rank of each score, 0 for the highest (equal scores share a rank)."""
    unique, inverse = np.unique(score, return_inverse=True)
    return (len(unique) - 1 - inverse).astype(np.int64)


def stable_order(*keys: IntArray) -> IntArray:
    """Stable argsort by non-negative integer keys, most significant first.

    Keys are packed into one int64 when they fit (one sort instead of one per key).
    """
    spans = [int(k.max(initial=0)) + 1 for k in keys]
    if math.prod(spans) >= 2**62:
        return np.lexsort(keys[::-1])
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for key, span in zip(keys, spans, strict=True):
        packed = packed * span + key
    return np.argsort(packed, kind="stable")


def top_per_group(group: IntArray, score_rank: IntArray, k: int) -> tuple[IntArray, IntArray]:
    """Indices of each group's ``k`` best-scored items, sorted by (group, score rank, index),

    and their rank in the group.
    """
    order = stable_order(group, score_rank)
    rank = rank_in_group(group[order])
    keep = rank < k
    return order[keep], rank[keep]


@dataclass(frozen=True)
class Pairs:
    """Detection x ground-truth pairs of the same group whose IoU may match."""

    det: IntArray  # position in the (group, rank)-sorted detections
    gt: IntArray  # ground-truth index (file order)
    iou: FloatArray


def candidate_pairs(
    det_group: IntArray,
    det_box: FloatArray,
    gt_group: IntArray,
    gt_box: FloatArray,
    gt_crowd: BoolArray,
    min_iou: float,
) -> Pairs:
    """Every same-group pair with IoU >= ``min_iou`` (no other pair can ever match)."""
    gt_order = np.argsort(gt_group, kind="stable")
    keys = gt_group[gt_order]
    lo = np.searchsorted(keys, det_group, "left")
    n = np.searchsorted(keys, det_group, "right") - lo
    det = np.repeat(np.arange(len(det_group)), n)
    offset = np.arange(len(det)) - np.repeat(np.cumsum(n) - n, n)
    gt = gt_order[np.repeat(lo, n) + offset]
    iou = iou_xywh(det_box[det], gt_box[gt], gt_crowd[gt])
    keep = iou >= min_iou
    return Pairs(det=det[keep], gt=gt[keep].astype(np.int64), iou=iou[keep])


@dataclass(frozen=True)
class MatchResult:
    """``gt[row, i]``: ground truth matched by candidate ``det[i]`` (-1: none).

    Rows run over (area range, IoU threshold), area-major.
    """

    det: IntArray
    gt: IntArray


def _preference_order(pairs: Pairs, step: IntArray) -> IntArray:
    """Pairs by (step, detection, IoU descending, later gt first)."""
    return np.lexsort((-pairs.gt, -pairs.iou, pairs.det, step))


def greedy_match(
    pairs: Pairs,
    det_group: IntArray,
    gt_crowd: BoolArray,
    gt_ignore: BoolArray,
    thresholds: FloatArray,
) -> MatchResult:
    """Greedy matching for every area range (rows of ``gt_ignore``) and threshold at once."""
    cand = np.unique(pairs.det)
    step_of_det = rank_in_group(det_group[cand])
    col = np.searchsorted(cand, pairs.det)
    order = _preference_order(pairs, step_of_det[col])
    col, gt, iou = col[order], pairs.gt[order], pairs.iou[order]
    step_bounds = np.searchsorted(step_of_det[col], np.arange(step_of_det.max(initial=-1) + 2))
    n_thr = len(thresholds)
    ignore_rows = np.repeat(gt_ignore, n_thr, axis=0)
    thr_rows = np.tile(np.minimum(thresholds, MAX_IOU_THRESHOLD), len(gt_ignore))[:, None]
    taken = np.zeros(ignore_rows.shape, dtype=bool)
    out = np.full((len(ignore_rows), len(cand)), -1, dtype=np.int64)
    crowd = gt_crowd[gt]
    for s, e in itertools.pairwise(step_bounds):
        g = gt[s:e]
        ok = (iou[s:e] >= thr_rows) & (crowd[s:e] | ~taken[:, g])
        starts = group_starts(col[s:e])
        best = _first_preferred(ok, ignore_rows[:, g], starts)
        rows, seg = np.nonzero(best != _NONE)
        chosen = g[best[rows, seg]]
        taken[rows, chosen] = True
        out[rows, col[s:e][starts[seg]]] = chosen
    return MatchResult(det=cand, gt=out)


def _first_preferred(ok: BoolArray, ignored: BoolArray, starts: IntArray) -> IntArray:
    """Per segment and row: the first eligible non-ignored pair, else the first ignored one."""
    pos = np.arange(ok.shape[1], dtype=np.int64)
    first_kept = np.minimum.reduceat(np.where(ok & ~ignored, pos, _NONE), starts, axis=1)
    first_ignored = np.minimum.reduceat(np.where(ok & ignored, pos, _NONE), starts, axis=1)
    return np.where(first_kept != _NONE, first_kept, first_ignored)
