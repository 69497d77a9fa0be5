"""Precision/recall accumulation exactly as pycocotools' ``COCOeval.accumulate``, vectorized.

Per category, detections of all images are ranked by score (ties: image id
order, then file order, as pycocotools' concatenation + mergesort). Ignored
detections (matched to an ignored box, or unmatched and outside the area
range) count as neither TP nor FP. The interpolated precision at recall ``r``
is the best precision at any recall >= ``r``; it is 0 where recall ``r`` is
never reached.

Only true positives are needed: precision can only rise at a TP, so the
envelope over a stretch of the curve is attained at a TP, and recall only
changes at TPs. Working on TP positions keeps this linear in the detections
with small constants, and every float is computed with pycocotools' formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autoscorer.scorers.functional.coco_match import BoolArray, FloatArray, IntArray

_EPS = np.spacing(1)


@dataclass(frozen=True)
class Outcomes:
    """Detections in accumulation order (category, -score, image, file) and their matches.

    ``gt[row]`` is the match of each candidate column ``cand`` (-1: none) for
    row = area index * number of thresholds + threshold index.
    """

    category: IntArray  # (N,) category index, non-decreasing
    rank: IntArray  # (N,) rank in the image x category group
    area_out: BoolArray  # (A, N) detection area outside the range
    cand: IntArray  # sorted columns that have any match candidate
    gt: IntArray  # (A*T, len(cand))
    gt_ignore: BoolArray  # (A, n_gt)
    num_positive: IntArray  # (A, K) ground truths not ignored ("npig")
    num_thresholds: int


@dataclass(frozen=True)
class Flags:
    """Which detections count, for one area range and max_dets (rows: IoU thresholds)."""

    valid: BoolArray  # (T, len(cand)) counted as TP or FP
    tp: BoolArray  # (T, len(cand))
    base: BoolArray  # (N,) counted, if unmatched


def area_flags(o: Outcomes, area: int, max_det: int) -> Flags:
    """TP / counted flags of the candidates, and counted flags of unmatched detections."""
    t = o.num_thresholds
    has_gt = o.num_positive[area] > 0
    included = (o.rank < max_det) & has_gt[o.category]
    base = included & ~o.area_out[area]
    match = o.gt[area * t : (area + 1) * t]
    matched = match >= 0
    gt_ignored = o.gt_ignore[area][np.where(matched, match, 0)] & matched
    inc = included[o.cand]
    valid = np.where(matched, ~gt_ignored, base[o.cand]) & inc
    return Flags(valid=valid, tp=matched & ~gt_ignored & inc, base=base)


def recall(o: Outcomes, f: Flags, area: int, max_det: int) -> FloatArray:
    """(T, K) recall at ``max_det`` (at most the one ``f`` was made with).

    -1 for a category without non-ignored ground truth.
    """
    t, k = o.num_thresholds, o.num_positive.shape[1]
    keys = np.arange(t)[:, None] * k + o.category[o.cand][None, :]
    tp = (
        np.bincount(keys[f.tp & (o.rank[o.cand] < max_det)], minlength=t * k)
        .reshape(t, k)
        .astype(np.float64)
    )
    npig = o.num_positive[area]
    out = np.full((t, k), -1.0)
    np.divide(tp, npig, out=out, where=npig > 0)
    return out


def _within_category(counts: IntArray, category: IntArray, num_categories: int) -> IntArray:
    """Inclusive running counts along axis -1, restarted at each category (sorted)."""
    cum = np.cumsum(counts, axis=-1)
    starts = np.searchsorted(category, np.arange(num_categories), "left")
    padded = np.concatenate([np.zeros((*cum.shape[:-1], 1), dtype=cum.dtype), cum], axis=-1)
    before = padded[..., starts]  # count before each category's first column
    return cum - before[..., category]


def _tp_points(o: Outcomes, f: Flags) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Row, category, TP count and rank (1-based count of TP+FP) at every true positive."""
    k = o.num_positive.shape[1]
    others = f.base.copy()
    others[o.cand] = False
    cand_cat = o.category[o.cand]
    before_others = _within_category(others.astype(np.int64), o.category, k)[o.cand]
    valid_upto = _within_category(f.valid.astype(np.int64), cand_cat, k)
    tp_upto = _within_category(f.tp.astype(np.int64), cand_cat, k)
    row, i = np.nonzero(f.tp)
    seen = (before_others[i] + valid_upto[row, i]).astype(np.float64)
    return row, cand_cat[i], tp_upto[row, i].astype(np.float64), seen


def precision(o: Outcomes, f: Flags, area: int, recall_thresholds: FloatArray) -> FloatArray:
    """(T, R, K) interpolated precision; -1 for a category without non-ignored ground truth."""
    t, k, r = o.num_thresholds, o.num_positive.shape[1], len(recall_thresholds)
    row, cat, tp, seen = _tp_points(o, f)
    fp = seen - tp
    pr = tp / (fp + tp + _EPS)
    rc = tp / o.num_positive[area][cat]
    # number of recall thresholds this point reaches; non-decreasing along each curve
    reached = np.searchsorted(recall_thresholds, rc, "right")
    key = (row * k + cat) * (r + 1) + reached
    best = np.zeros((t * k, r + 1))
    if len(key):
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        best.flat[key[starts]] = np.maximum.reduceat(pr, starts)
    # precision at threshold j = best precision among points reaching more than j thresholds
    envelope = np.maximum.accumulate(best[:, ::-1], axis=1)[:, ::-1]
    q = envelope[:, 1:].reshape(t, k, r).transpose(0, 2, 1)
    return np.where((o.num_positive[area] > 0)[None, None, :], q, -1.0)
