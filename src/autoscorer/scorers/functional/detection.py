"""COCO bounding-box evaluation, equal to pycocotools' ``COCOeval(iouType="bbox")``.

Pure numpy on arrays: images and categories are given as indices into the
sorted ground-truth image ids / category ids (pycocotools' order). The
matching lives in :mod:`.coco_match`, the precision/recall curves in
:mod:`.coco_accumulate`; this module ties them together and summarizes.

Where pycocotools reports -1 ("no ground truth for this stat") we report None.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autoscorer.scorers.functional import coco_accumulate as acc
from autoscorer.scorers.functional.coco_match import (
    MAX_IOU_THRESHOLD,
    BoolArray,
    FloatArray,
    IntArray,
    candidate_pairs,
    descending_rank,
    greedy_match,
    stable_order,
    top_per_group,
)

# the same expressions as pycocotools' Params, so the floats are identical
COCO_IOU_THRESHOLDS: FloatArray = np.linspace(
    0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True
)
COCO_RECALL_THRESHOLDS: FloatArray = np.linspace(
    0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True
)
COCO_AREA_RANGES: dict[str, tuple[float, float]] = {
    "all": (0**2, 1e5**2),
    "small": (0**2, 32**2),
    "medium": (32**2, 96**2),
    "large": (96**2, 1e5**2),
}
COCO_MAX_DETS: tuple[int, ...] = (1, 10, 100)
COCO_STAT_NAMES = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip


@dataclass(frozen=True)
class CocoParams:
    """Evaluation settings; the defaults are COCO's."""

    iou_thresholds: FloatArray = field(default_factory=lambda: COCO_IOU_THRESHOLDS.copy())
    area_ranges: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(COCO_AREA_RANGES)
    )
    max_dets: tuple[int, ...] = COCO_MAX_DETS
    recall_thresholds: FloatArray = field(default_factory=lambda: COCO_RECALL_THRESHOLDS.copy())


@dataclass(frozen=True)
class GroundTruthBoxes:
    """Ground-truth annotations as arrays (one row per annotation, file order)."""

    image: IntArray
    category: IntArray
    box: FloatArray  # (n, 4) x, y, w, h
    area: FloatArray  # the annotation's ``area`` field
    crowd: BoolArray
    num_images: int
    num_categories: int


@dataclass(frozen=True)
class DetectionBoxes:
    """Detections as arrays (one row per detection, file order)."""

    image: IntArray
    category: IntArray
    box: FloatArray
    score: FloatArray


@dataclass(frozen=True)
class CocoEvaluation:
    """``precision`` is (T, R, K, A) at the largest max_dets, ``recall`` (T, K, A, M).

    Both hold -1 where a category has no non-ignored ground truth, as pycocotools.
    """

    params: CocoParams
    precision: FloatArray
    recall: FloatArray
    num_kept_detections: int


def _outside(values: FloatArray, ranges: dict[str, tuple[float, float]]) -> BoolArray:
    return np.stack([(values < lo) | (values > hi) for lo, hi in ranges.values()])


def _accumulation_order(dt: DetectionBoxes, kept: IntArray, score_rank: IntArray) -> IntArray:
    """Kept detections by category, score, image id, then file order (pycocotools' accumulate)."""
    in_file_order = np.sort(kept)
    keys = (dt.category[in_file_order], score_rank[in_file_order], dt.image[in_file_order])
    return in_file_order[stable_order(*keys)]


def _scatter(index: IntArray, values: IntArray, size: int) -> IntArray:
    out = np.empty(size, dtype=np.int64)
    out[index] = values
    return out


def _outcomes(gt: GroundTruthBoxes, dt: DetectionBoxes, params: CocoParams) -> acc.Outcomes:
    k = gt.num_categories
    gt_group, dt_group = gt.image * k + gt.category, dt.image * k + dt.category
    score_rank = descending_rank(dt.score)
    kept, rank = top_per_group(dt_group, score_rank, params.max_dets[-1])
    min_iou = min(float(np.min(params.iou_thresholds)), MAX_IOU_THRESHOLD)
    pairs = candidate_pairs(dt_group[kept], dt.box[kept], gt_group, gt.box, gt.crowd, min_iou)
    gt_ignore = _outside(gt.area, params.area_ranges) | gt.crowd[None, :]
    match = greedy_match(pairs, dt_group[kept], gt.crowd, gt_ignore, params.iou_thresholds)
    order = _accumulation_order(dt, kept, score_rank)
    cand_cols = _scatter(order, np.arange(len(order)), len(dt.score))[kept[match.det]]
    by_col = np.argsort(cand_cols)
    box = dt.box[order]
    return acc.Outcomes(
        category=dt.category[order],
        rank=_scatter(kept, rank, len(dt.score))[order],
        area_out=_outside(box[:, 2] * box[:, 3], params.area_ranges),
        cand=cand_cols[by_col],
        gt=match.gt[:, by_col],
        gt_ignore=gt_ignore,
        num_positive=np.stack([np.bincount(gt.category[~ig], minlength=k) for ig in gt_ignore]),
        num_thresholds=len(params.iou_thresholds),
    )


def evaluate_bbox(
    gt: GroundTruthBoxes, dt: DetectionBoxes, params: CocoParams | None = None
) -> CocoEvaluation:
    """Match and accumulate: pycocotools' ``evaluate()`` + ``accumulate()``."""
    params = params or CocoParams()
    o = _outcomes(gt, dt, params)
    last = params.max_dets[-1]
    areas = range(len(params.area_ranges))
    flags = [acc.area_flags(o, a, last) for a in areas]
    prec = np.stack([acc.precision(o, flags[a], a, params.recall_thresholds) for a in areas], -1)
    rec = np.stack(
        [np.stack([acc.recall(o, flags[a], a, m) for m in params.max_dets], -1) for a in areas],
        -2,
    )
    return CocoEvaluation(
        params=params, precision=prec, recall=rec, num_kept_detections=len(o.category)
    )


def _mean_valid(values: FloatArray) -> float | None:
    """pycocotools' ``np.mean(s[s > -1])``, with None for its -1."""
    valid = values[values > -1]
    return None if valid.size == 0 else float(np.mean(valid))


def average_precision(
    ev: CocoEvaluation, area: str = "all", iou: float | None = None
) -> float | None:
    """AP over all IoU thresholds (or the one equal to ``iou``), at the largest max_dets."""
    if area not in ev.params.area_ranges:
        return None
    s = ev.precision[..., list(ev.params.area_ranges).index(area)]
    if iou is not None:
        s = s[np.flatnonzero(ev.params.iou_thresholds == iou)]
    return _mean_valid(s)


def average_recall(
    ev: CocoEvaluation, area: str = "all", max_det: int | None = None
) -> float | None:
    """AR over IoU thresholds and categories at ``max_det`` (default: the largest)."""
    p = ev.params
    max_det = p.max_dets[-1] if max_det is None else max_det
    if area not in p.area_ranges or max_det not in p.max_dets:
        return None
    return _mean_valid(ev.recall[:, :, list(p.area_ranges).index(area), p.max_dets.index(max_det)])


def coco_stats(ev: CocoEvaluation) -> list[float | None]:
    """The 12 numbers of ``COCOeval.stats`` (same order), None where pycocotools has -1."""
    md = ev.params.max_dets
    ar_at = [average_recall(ev, "all", md[i]) if i < len(md) else None for i in range(3)]
    return [
        average_precision(ev),
        average_precision(ev, iou=0.5),
        average_precision(ev, iou=0.75),
        *(average_precision(ev, a) for a in ("small", "medium", "large")),
        *ar_at,
        *(average_recall(ev, a) for a in ("small", "medium", "large")),
    ]


def per_category_ap(ev: CocoEvaluation, iou: float | None = None) -> list[float | None]:
    """AP of each category (index order) over area "all"; None without ground truth."""
    s = ev.precision[..., list(ev.params.area_ranges).index("all")]
    if iou is not None:
        s = s[np.flatnonzero(ev.params.iou_thresholds == iou)]
    return [_mean_valid(s[:, :, c]) for c in range(s.shape[2])]
