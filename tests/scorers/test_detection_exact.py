"""COCO bbox evaluation on small hand-built cases whose results are written in as literals.

The expected numbers were computed once with pycocotools 2.0.11 (``COCOeval(iouType="bbox")``,
``evaluate(); accumulate()``, the parameters set as in ``test_detection.py``'s
``reference``): the stats from its ``eval["precision"][..., -1]`` and ``eval["recall"]``
the way ``coco_stats`` reads them (equal to ``summarize()``'s with the default
parameters), ``precision`` and ``recall`` as ``weighted_sum`` of those two arrays. They are
checked here without pycocotools, on arrays: each case runs in milliseconds, so these
tests come first in the mutation selection of ``functional.detection``, ``coco_match``
and ``coco_accumulate`` (``scripts/mutation``) and a wrong line fails fast.
``test_detection.py`` keeps the comparison with pycocotools on random data.

Boxes are ``[x, y, w, h]``; image and category ids are 1, 2, ... so the index is id - 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autoscorer.scorers.functional import coco_accumulate as acc
from autoscorer.scorers.functional.coco_match import (
    MAX_IOU_THRESHOLD,
    Pairs,
    candidate_pairs,
    descending_rank,
    greedy_match,
    group_starts,
    iou_xywh,
    rank_in_group,
    stable_order,
    top_per_group,
)
from autoscorer.scorers.functional.detection import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_MAX_DETS,
    COCO_RECALL_THRESHOLDS,
    COCO_STAT_NAMES,
    CocoEvaluation,
    CocoParams,
    DetectionBoxes,
    GroundTruthBoxes,
    average_precision,
    average_recall,
    coco_stats,
    evaluate_bbox,
    per_category_ap,
)

TOL = 1e-12
# (image id, category id, x, y, w, h, area, iscrowd)
GtRow = tuple[int, int, float, float, float, float, float, int]
# (image id, category id, x, y, w, h, score)
DtRow = tuple[int, int, float, float, float, float, float]


def gt_boxes(rows: list[GtRow], num_images: int, num_categories: int) -> GroundTruthBoxes:
    a = np.array(rows, dtype=np.float64).reshape(-1, 8)
    return GroundTruthBoxes(
        image=a[:, 0].astype(np.int64) - 1,
        category=a[:, 1].astype(np.int64) - 1,
        box=a[:, 2:6].copy(),
        area=a[:, 6].copy(),
        crowd=a[:, 7] > 0,
        num_images=num_images,
        num_categories=num_categories,
    )


def dt_boxes(rows: list[DtRow]) -> DetectionBoxes:
    a = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return DetectionBoxes(
        image=a[:, 0].astype(np.int64) - 1,
        category=a[:, 1].astype(np.int64) - 1,
        box=a[:, 2:6].copy(),
        score=a[:, 6].copy(),
    )


def params_of(p: dict[str, Any]) -> CocoParams:
    kw: dict[str, Any] = {}
    if "iou_thresholds" in p:
        kw["iou_thresholds"] = np.array(p["iou_thresholds"], dtype=np.float64)
    if "max_dets" in p:
        kw["max_dets"] = tuple(p["max_dets"])
    if "area_ranges" in p:
        kw["area_ranges"] = {k: (float(v[0]), float(v[1])) for k, v in p["area_ranges"].items()}
    return CocoParams(**kw)


# ------------------------------------------------------------------ cases

# Three images, four categories. Category 1: TPs at IoU 0.5625, 0.64, 0.81, 1.0 and
# duplicates; category 2: a crowd region several detections fall into, plus a small and a
# large box; category 3: ground truth only (AP 0); category 4: detections only (left out).
# Image 3 has no boxes. Scores tie within and across images. GT ``area`` fields differ
# from the boxes' areas (the field decides the range, the detection's box area its own).
MIXED_GT: list[GtRow] = [
    (1, 1, 0, 0, 10, 10, 100, 0),
    (1, 1, 20, 0, 10, 10, 2000, 0),
    (1, 1, 40, 0, 20, 20, 400, 0),
    (2, 1, 0, 0, 8, 8, 64, 0),
    (2, 1, 50, 50, 40, 40, 10000, 0),
    (1, 2, 0, 30, 30, 30, 900, 1),
    (1, 2, 60, 60, 5, 5, 25, 0),
    (2, 2, 0, 0, 100, 100, 10000, 0),
    (2, 2, 10, 10, 20, 20, 1024, 0),
    (2, 3, 5, 5, 10, 10, 100, 0),
]
MIXED_DT: list[DtRow] = [
    (1, 1, 0, 0, 10, 10, 0.9),  # IoU 1.0 with the first box
    (1, 1, 0, 0, 10, 10, 0.9),  # duplicate: FP
    (1, 1, 20, 0, 9, 9, 0.8),  # IoU 0.81
    (1, 1, 40, 0, 16, 16, 0.5),  # IoU 0.64
    (2, 1, 0, 0, 6, 6, 0.8),  # IoU 0.5625
    (2, 1, 55, 55, 40, 40, 0.7),  # IoU ~0.62 with the large box
    (2, 1, 200, 200, 3, 3, 0.7),  # FP, small
    (3, 1, 0, 0, 10, 10, 0.6),  # FP on an image without boxes
    (1, 2, 0, 30, 10, 10, 0.95),  # inside the crowd region (ignored)
    (1, 2, 10, 40, 10, 10, 0.6),  # inside it too
    (1, 2, 60, 60, 5, 5, 0.4),  # exact
    (1, 2, 61, 61, 5, 5, 0.45),  # IoU 16/34
    (2, 2, 0, 0, 100, 100, 0.3),
    (2, 2, 10, 10, 20, 18, 0.9),  # IoU 0.9
    (2, 2, 300, 300, 50, 50, 0.2),  # FP, large
    (1, 4, 0, 0, 5, 5, 0.5),  # category without ground truth
]
MIXED = (MIXED_GT, MIXED_DT, 3, 4)

# One image, one category, 105 detections on 3 boxes: only the best 100 (by score, ties in
# file order) count, and AR@1 / AR@10 see the first 1 and 10.
MANY_GT: list[GtRow] = [
    (1, 1, 0, 0, 10, 10, 100, 0),
    (1, 1, 100, 0, 10, 10, 100, 0),
    (1, 1, 200, 0, 10, 10, 100, 0),
]
MANY_DT: list[DtRow] = [
    *[(1, 1, 500 + 20 * i, 0, 10, 10, 0.5) for i in range(103)],
    (1, 1, 0, 0, 10, 10, 0.5),  # 104th in file order at the tied score: dropped
    (1, 1, 100, 0, 10, 10, 0.6),  # best score: AR@1 finds this one
]
MANY = (MANY_GT, MANY_DT, 1, 1)

# Area edges: areas exactly 32**2 and 96**2 belong to two ranges; detections of each size
# unmatched (FP in their range, ignored outside it); a crowd box detections share.
EDGES_GT: list[GtRow] = [
    (1, 1, 0, 0, 32, 32, 1024, 0),
    (1, 1, 100, 0, 96, 96, 9216, 0),
    (1, 1, 300, 0, 31, 31, 961, 0),
    (2, 1, 0, 0, 50, 50, 2500, 1),
    (2, 1, 100, 100, 50, 50, 2500, 0),
]
EDGES_DT: list[DtRow] = [
    (1, 1, 0, 0, 32, 32, 0.9),
    (1, 1, 100, 0, 96, 96, 0.8),
    (1, 1, 300, 0, 20, 20, 0.85),  # IoU 400/961 < 0.5: FP, small
    (1, 1, 500, 500, 40, 40, 0.7),  # FP, medium
    (1, 1, 700, 700, 100, 100, 0.75),  # FP, large
    (2, 1, 0, 0, 25, 50, 0.95),  # in the crowd: ignored
    (2, 1, 25, 0, 25, 50, 0.95),  # also the crowd
    (2, 1, 100, 100, 50, 45, 0.65),  # IoU 0.9
]
EDGES = (EDGES_GT, EDGES_DT, 2, 1)

# IoU ties and a crowd box preferred only when nothing else is free.
TIES_GT: list[GtRow] = [
    (1, 1, 0, 0, 10, 20, 200, 0),
    (1, 1, 0, 0, 20, 10, 200, 0),
    (1, 1, 0, 0, 40, 40, 1600, 1),
    (1, 2, 0, 0, 10, 10, 100, 0),
    (1, 2, 0, 0, 10, 10, 100, 0),
]
TIES_DT: list[DtRow] = [
    (1, 1, 0, 0, 10, 10, 0.9),  # IoU 0.5 with both: takes the later one
    (1, 1, 0, 0, 10, 10, 0.8),  # takes the earlier one
    (1, 1, 0, 0, 10, 10, 0.7),  # only the crowd box is left
    (1, 1, 10, 0, 10, 10, 0.6),  # IoU 1/3 with the wide box, inside the crowd
    (1, 2, 0, 0, 10, 10, 0.5),
    (1, 2, 0, 0, 10, 10, 0.5),
    (1, 2, 0, 0, 10, 10, 0.5),
]
TIES = (TIES_GT, TIES_DT, 1, 2)

CUSTOM_IOU = {"iou_thresholds": [0.0, 0.3, 0.5, 0.75, 1.0]}
CUSTOM_DETS = {"max_dets": [1, 2, 3]}
CUSTOM_AREAS = {
    "area_ranges": {"all": [0, 1e10], "tiny": [0, 30], "mid": [30, 1100], "big": [1100, 1e10]}
}
CUSTOM_ORDER = {"area_ranges": {"big": [1100, 1e10], "all": [0, 1e10]}, "max_dets": [2, 50]}

CASES: dict[str, tuple[Any, dict[str, Any]]] = {
    "mixed": (MIXED, {}),
    "mixed-iou": (MIXED, CUSTOM_IOU),
    "mixed-dets": (MIXED, CUSTOM_DETS),
    "mixed-areas": (MIXED, CUSTOM_AREAS),
    "mixed-order": (MIXED, CUSTOM_ORDER),
    "many": (MANY, {}),
    "many-dets": (MANY, CUSTOM_DETS),
    "edges": (EDGES, {}),
    "edges-iou": (EDGES, CUSTOM_IOU),
    "ties": (TIES, {}),
    "ties-iou": (TIES, CUSTOM_IOU),
}


def evaluate(case: str) -> CocoEvaluation:
    (gt, dt, n_img, n_cat), p = CASES[case]
    return evaluate_bbox(gt_boxes(gt, n_img, n_cat), dt_boxes(dt), params_of(p))


# ------------------------------------------------------------------ expected (pycocotools)

# EXPECTED-BEGIN
EXPECTED: dict[str, dict[str, Any]] = {
    "mixed": {
        "stats": [
            0.39980748074807476,
            0.5470297029702971,
            0.3913641364136414,
            0.3976897689768977,
            0.7999999999999999,
            0.6499999999999999,
            0.18,
            0.4888888888888888,
            0.4888888888888888,
            0.48333333333333334,
            0.8,
            0.65,
        ],
        "per_category": [0.41551155115511546, 0.7839108910891089, 0.0, None],
        "per_category_50": [0.8069306930693068, 0.8341584158415841, 0.0, None],
        "precision": -33958.42500000005,
        "recall": -5947.566666666667,
        "precision_shape": (10, 101, 4, 4),
        "recall_shape": (10, 4, 4, 3),
    },
    "mixed-iou": {
        "stats": [
            0.4718371837183718,
            0.5470297029702971,
            0.3913641364136414,
            0.4638063806380638,
            0.7999999999999999,
            0.7999999999999999,
            0.2177777777777778,
            0.5511111111111112,
            0.5511111111111112,
            0.5444444444444444,
            0.8,
            0.8,
        ],
        "per_category": [0.6323432343234323, 0.7831683168316832, 0.0, None],
        "per_category_50": [0.8069306930693068, 0.8341584158415841, 0.0, None],
        "precision": 235.83333333331757,
        "recall": -2530.7,
        "precision_shape": (5, 101, 4, 4),
        "recall_shape": (5, 4, 4, 3),
    },
    "mixed-dets": {
        "stats": [
            0.297029702970297,
            0.41254125412541254,
            0.2981298129812981,
            0.27821782178217813,
            0.7999999999999999,
            0.6499999999999999,
            0.18,
            0.31111111111111106,
            0.3577777777777777,
            0.28333333333333327,
            0.8,
            0.65,
        ],
        "per_category": [0.3808580858085808, 0.5102310231023102, 0.0, None],
        "per_category_50": [0.683168316831683, 0.5544554455445545, 0.0, None],
        "precision": -65406.80000000005,
        "recall": -6909.633333333333,
        "precision_shape": (10, 101, 4, 4),
        "recall_shape": (10, 4, 4, 3),
    },
    "mixed-areas": {
        "stats": [
            0.39980748074807476,
            0.5470297029702971,
            0.3913641364136414,
            None,
            None,
            None,
            0.18,
            0.4888888888888888,
            0.4888888888888888,
            None,
            None,
            None,
        ],
        "per_category": [0.41551155115511546, 0.7839108910891089, 0.0, None],
        "per_category_50": [0.8069306930693068, 0.8341584158415841, 0.0, None],
        "precision": -120412.92500000002,
        "recall": -7108.400000000001,
        "precision_shape": (10, 101, 4, 4),
        "recall_shape": (10, 4, 4, 3),
    },
    "mixed-order": {
        "stats": [
            0.39980748074807476,
            0.5470297029702971,
            0.3913641364136414,
            None,
            None,
            None,
            0.31111111111111106,
            0.4888888888888888,
            None,
            None,
            None,
            None,
        ],
        "per_category": [0.41551155115511546, 0.7839108910891089, 0.0, None],
        "per_category_50": [0.8069306930693068, 0.8341584158415841, 0.0, None],
        "precision": -14410.100000000006,
        "recall": -920.5333333333333,
        "precision_shape": (10, 101, 4, 2),
        "recall_shape": (10, 4, 2, 2),
    },
    "many": {
        "stats": [
            0.3366336633663366,
            0.33663366336633654,
            0.33663366336633654,
            0.3366336633663366,
            None,
            None,
            0.33333333333333337,
            0.33333333333333337,
            0.33333333333333337,
            0.33333333333333337,
            None,
            None,
        ],
        "per_category": [0.3366336633663366],
        "per_category_50": [0.33663366336633654],
        "precision": -65405.0,
        "recall": -1851.6666666666665,
        "precision_shape": (10, 101, 1, 4),
        "recall_shape": (10, 1, 4, 3),
    },
    "edges": {
        "stats": [
            0.5338283828382837,
            0.5462046204620461,
            0.5462046204620461,
            0.5049504950495048,
            0.8905940594059406,
            0.9999999999999998,
            0.25,
            0.725,
            0.725,
            0.5,
            0.9666666666666666,
            1.0,
        ],
        "per_category": [0.5338283828382837],
        "per_category_50": [0.5462046204620461],
        "precision": 144480.3333333333,
        "recall": 3166.6666666666665,
        "precision_shape": (10, 101, 1, 4),
        "recall_shape": (10, 1, 4, 3),
    },
    "edges-iou": {
        "stats": [
            0.6864686468646863,
            0.5462046204620461,
            0.5462046204620461,
            0.7029702970297029,
            0.8821782178217822,
            0.9999999999999998,
            0.3,
            0.8,
            0.8,
            0.7,
            0.9333333333333333,
            1.0,
        ],
        "per_category": [0.6864686468646863],
        "per_category_50": [0.5462046204620461],
        "precision": 80258.16666666666,
        "recall": 1160.3333333333333,
        "precision_shape": (5, 101, 1, 4),
        "recall_shape": (5, 1, 4, 3),
    },
    "ties": {
        "stats": [0.55, 1.0, 0.5, 0.55, None, None, 0.275, 0.55, 0.55, 0.55, None, None],
        "per_category": [0.1, 1.0],
        "per_category_50": [1.0, 1.0],
        "precision": -89151.0,
        "recall": -3184.5,
        "precision_shape": (10, 101, 2, 4),
        "recall_shape": (10, 2, 4, 3),
    },
    "ties-iou": {
        "stats": [0.8, 1.0, 0.5, 0.8, None, None, 0.4, 0.8, 0.8, 0.8, None, None],
        "per_category": [0.6, 1.0],
        "per_category_50": [1.0, 1.0],
        "precision": -19628.0,
        "recall": -1123.0,
        "precision_shape": (5, 101, 2, 4),
        "recall_shape": (5, 2, 4, 3),
    },
}
# 105 detections of one image: cut to max_dets=100, the figures of "many"
EXPECTED["many-dets"] = EXPECTED["many"]
# EXPECTED-END


def close(got: list[float | None], expected: list[float | None]) -> bool:
    return len(got) == len(expected) and all(
        (g is None and e is None) or (g is not None and e is not None and abs(g - e) <= TOL)
        for g, e in zip(got, expected, strict=True)
    )


def weighted_sum(a: np.ndarray) -> float:
    """Sum of ``a`` weighted by position (1..97 repeating): moves if any entry moves."""
    weights = (np.arange(a.size, dtype=np.float64) % 97 + 1).reshape(a.shape)
    return float(np.sum(a * weights))


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", list(CASES))
def test_stats_equal_pycocotools(case: str) -> None:
    ev, want = evaluate(case), EXPECTED[case]
    assert close(coco_stats(ev), want["stats"]), (coco_stats(ev), want["stats"])
    assert close(per_category_ap(ev), want["per_category"])
    if want["per_category_50"] is not None:
        assert close(per_category_ap(ev, iou=0.5), want["per_category_50"])
    assert ev.precision.shape == want["precision_shape"]
    assert ev.recall.shape == want["recall_shape"]
    assert weighted_sum(ev.precision) == pytest.approx(want["precision"], rel=1e-12, abs=1e-9)
    assert weighted_sum(ev.recall) == pytest.approx(want["recall"], rel=1e-12, abs=1e-9)


def test_mixed_curves_point_by_point() -> None:
    """Category 1 at IoU 0.5, area "all": five truths; in accumulation order (score, then
    image id) the detections are T F T T T F F T."""
    ev = evaluate("mixed")
    p = ev.precision[0, :, 0, 0]
    # precision 1, 1/2, 2/3, 3/4, 4/5, 4/6, 4/7, 5/8 at recall .2 .2 .4 .6 .8 .8 .8 1: the
    # envelope is 1 (tp / (tp + fp + eps)) up to recall 0.2, 4/5 up to 0.8, 5/8 up to 1
    assert np.all(p[:21] == 1 / (1 + np.spacing(1)))
    assert np.all(p[21:81] == 4 / (4 + np.spacing(1)) / 1.25)
    assert np.all(p[81:] == 5 / (8 + np.spacing(1)))
    assert ev.recall[0, 0, 0, :].tolist() == [0.4, 1.0, 1.0]  # AR@1: the best of each image
    assert ev.recall[0, :, 0, -1].tolist() == [1.0, 1.0, 0.0, -1.0]
    assert np.all(ev.precision[:, :, 3, :] == -1) and np.all(ev.recall[:, 3] == -1)
    assert np.all(ev.precision[:, :, 2, 0] == 0) and np.all(ev.recall[:, 2, 0] == 0)
    assert ev.num_kept_detections == len(MIXED_DT)


@pytest.mark.parametrize(("case", "kept"), [("many", 100), ("many-dets", 3), ("ties", 7)])
def test_kept_detections(case: str, kept: int) -> None:
    assert evaluate(case).num_kept_detections == kept


def test_threshold_one_matches_a_perfect_box_only() -> None:
    ev = evaluate("ties-iou")
    # thresholds 0, 0.3, 0.5, 0.75, 1.0; category 2: three equal boxes on two equal truths
    assert ev.recall[:, 1, 0, -1].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert ev.recall[:, 0, 0, -1].tolist() == pytest.approx([1.0, 1.0, 1.0, 0.0, 0.0])


def test_no_detections_and_no_ground_truth() -> None:
    gt = gt_boxes(MIXED_GT, 3, 4)
    ev = evaluate_bbox(gt, dt_boxes([]))
    assert ev.num_kept_detections == 0
    assert coco_stats(ev) == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert per_category_ap(ev) == [0.0, 0.0, 0.0, None]
    empty = evaluate_bbox(gt_boxes([], 2, 2), dt_boxes(MIXED_DT[:2]))
    assert coco_stats(empty) == [None] * 12 and per_category_ap(empty) == [None, None]
    assert empty.precision.shape == (10, 101, 2, 4) and np.all(empty.precision == -1)
    assert empty.num_kept_detections == 2


def test_detections_only_in_categories_without_ground_truth() -> None:
    gt = gt_boxes([(1, 1, 0, 0, 10, 10, 100, 0)], 1, 2)
    ev = evaluate_bbox(gt, dt_boxes([(1, 2, 0, 0, 10, 10, 0.9)]))
    assert coco_stats(ev)[:3] == [0.0, 0.0, 0.0] and per_category_ap(ev) == [0.0, None]


def test_unknown_area_threshold_or_max_det_give_none() -> None:
    ev = evaluate("mixed")
    assert average_precision(ev, "tiny") is None and average_recall(ev, "tiny") is None
    assert average_precision(ev, iou=0.42) is None
    assert average_recall(ev, max_det=7) is None
    assert (
        average_recall(ev)
        == average_recall(ev, "all", 100)
        == pytest.approx(EXPECTED["mixed"]["stats"][8])
    )
    assert average_precision(ev, "medium") == pytest.approx(0.8)
    assert per_category_ap(ev, iou=0.42) == [None, None, None, None]
    assert average_recall(evaluate("mixed-order")) == pytest.approx(EXPECTED["mixed"]["stats"][8])


def test_coco_constants() -> None:
    assert COCO_IOU_THRESHOLDS.tolist() == [0.5 + 0.05 * i for i in range(10)] or np.allclose(
        COCO_IOU_THRESHOLDS, np.arange(10) * 0.05 + 0.5, rtol=0, atol=1e-15
    )
    assert len(COCO_IOU_THRESHOLDS) == 10 and COCO_IOU_THRESHOLDS[-1] == 0.95
    assert len(COCO_RECALL_THRESHOLDS) == 101
    assert COCO_RECALL_THRESHOLDS[0] == 0.0 and COCO_RECALL_THRESHOLDS[-1] == 1.0
    assert COCO_AREA_RANGES == {
        "all": (0, 1e10),
        "small": (0, 1024),
        "medium": (1024, 9216),
        "large": (9216, 1e10),
    }
    assert COCO_MAX_DETS == (1, 10, 100) and MAX_IOU_THRESHOLD == 1 - 1e-10
    assert COCO_STAT_NAMES == (
        "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
    )  # fmt: skip
    p = CocoParams()
    assert np.array_equal(p.iou_thresholds, COCO_IOU_THRESHOLDS)
    assert np.array_equal(p.recall_thresholds, COCO_RECALL_THRESHOLDS)
    assert p.area_ranges == COCO_AREA_RANGES and p.max_dets == COCO_MAX_DETS
    # copies: changing one evaluation's settings leaves the constants alone
    assert not np.shares_memory(p.iou_thresholds, COCO_IOU_THRESHOLDS)
    assert not np.shares_memory(p.recall_thresholds, COCO_RECALL_THRESHOLDS)
    assert p.area_ranges is not COCO_AREA_RANGES


# ------------------------------------------------------------------ matching helpers


def test_iou_values_and_crowd_union() -> None:
    det = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 10, 10], [20, 0, 5, 5], [10, 0, 5, 5]])
    gt = np.array([[0, 0, 10, 20], [0, 0, 40, 40], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 5]])
    crowd = np.array([False, True, False, False, False])
    got = iou_xywh(det.astype(float), gt.astype(float), crowd)
    assert got.tolist() == [0.5, 1.0, 25 / 175, 0.0, 0.0]  # touching edges: no overlap


def test_group_helpers() -> None:
    keys = np.array([3, 3, 5, 7, 7, 7, 9])
    assert group_starts(keys).tolist() == [0, 2, 3, 6]
    assert group_starts(keys).dtype == np.int64
    assert group_starts(np.zeros(0, dtype=np.int64)).tolist() == []
    assert rank_in_group(keys).tolist() == [0, 1, 0, 0, 1, 2, 0]
    assert descending_rank(np.array([0.5, 0.9, 0.5, 0.1])).tolist() == [1, 0, 1, 2]
    assert descending_rank(np.array([0.5, 0.9])).dtype == np.int64


def test_stable_order_small_and_huge_keys() -> None:
    a = np.array([2, 1, 2, 1, 0])
    b = np.array([0, 1, 0, 0, 3])
    assert stable_order(a, b).tolist() == [4, 3, 1, 0, 2]
    assert stable_order(np.zeros(0, dtype=np.int64)).tolist() == []
    big = np.array([2**40, 0, 2**40, 5], dtype=np.int64)
    other = np.array([2**30, 1, 0, 2**30], dtype=np.int64)  # 2**70 combinations: lexsort
    assert stable_order(big, other).tolist() == [1, 3, 2, 0]
    # 4 * (2**62 + 1) combinations: packed into one int64 it would wrap and put 0 first
    assert stable_order(np.array([3, 1]), np.array([2**62, 5])).tolist() == [1, 0]
    # keys above 2**53 stay exact (int64, not float64 packing)
    assert stable_order(np.array([2**60 + 1, 2**60])).tolist() == [1, 0]


def test_top_per_group() -> None:
    group = np.array([1, 0, 1, 1, 0, 1])
    rank = np.array([2, 0, 0, 2, 1, 1])
    kept, r = top_per_group(group, rank, 2)
    assert kept.tolist() == [1, 4, 2, 5] and r.tolist() == [0, 1, 0, 1]
    kept, r = top_per_group(group, rank, 3)
    assert kept.tolist() == [1, 4, 2, 5, 0] and r.tolist() == [0, 1, 0, 1, 2]


def test_candidate_pairs() -> None:
    det_group = np.array([0, 0, 2])
    det_box = np.array([[0, 0, 10, 10], [50, 50, 10, 10], [0, 0, 10, 10]], dtype=float)
    gt_group = np.array([2, 0, 0, 1])
    gt_box = np.array([[0, 0, 10, 10], [0, 0, 10, 20], [0, 0, 20, 20], [0, 0, 10, 10]], float)
    crowd = np.array([False, False, True, False])
    pairs = candidate_pairs(det_group, det_box, gt_group, gt_box, crowd, 0.5)
    assert pairs.det.tolist() == [0, 0, 2] and pairs.gt.tolist() == [1, 2, 0]
    assert pairs.iou.tolist() == [0.5, 1.0, 1.0] and pairs.gt.dtype == np.int64
    every = candidate_pairs(det_group, det_box, gt_group, gt_box, crowd, 0.0)
    assert every.det.tolist() == [0, 0, 1, 1, 2] and every.gt.tolist() == [1, 2, 1, 2, 0]


def test_greedy_match_preferences() -> None:
    """Two detections of one group: gt 1 and 2 tie, gt 3 is a crowd (ignored, stays free),
    gt 0 is ignored in the second area range."""
    pairs = Pairs(
        det=np.array([0, 0, 0, 0, 1, 1, 1]),
        gt=np.array([0, 1, 2, 3, 1, 2, 3]),
        iou=np.array([0.9, 0.6, 0.6, 0.7, 0.6, 0.6, 0.7]),
    )
    crowd = np.array([False, False, False, True])
    ignore = np.array([[False, False, False, True], [True, False, False, True]])
    m = greedy_match(pairs, np.array([0, 0]), crowd, ignore, np.array([0.5, 0.65]))
    assert m.det.tolist() == [0, 1]
    # rows: (area 0, t 0.5), (area 0, t 0.65), (area 1, t 0.5), (area 1, t 0.65)
    assert m.gt.tolist() == [[0, 2], [0, 3], [2, 1], [0, 3]]
    high = greedy_match(pairs, np.array([0, 0]), crowd, ignore, np.array([0.8, 0.95]))
    assert high.gt.tolist() == [[0, -1], [-1, -1], [0, -1], [-1, -1]]  # -1: no match


def test_accumulate_flags_and_counts() -> None:
    """Three detections of one category: TP, unmatched small (ignored in 'big'), TP by rank 2."""
    o = acc.Outcomes(
        category=np.array([0, 0, 0]),
        rank=np.array([0, 1, 2]),
        area_out=np.array([[False, False, False], [False, True, False]]),
        cand=np.array([0, 2]),
        gt=np.array([[0, 1], [0, 1]]),
        gt_ignore=np.array([[False, False], [False, False]]),
        num_positive=np.array([[2], [2]]),
        num_thresholds=1,
    )
    f = acc.area_flags(o, 0, 100)
    assert f.tp.tolist() == [[True, True]] and f.base.tolist() == [True, True, True]
    assert acc.recall(o, f, 0, 100).tolist() == [[1.0]]
    assert acc.recall(o, f, 0, 2).tolist() == [[0.5]]
    p = acc.precision(o, f, 0, COCO_RECALL_THRESHOLDS)
    eps = np.spacing(1)
    assert np.all(p[0, :51, 0] == 1 / (1 + eps)) and np.all(p[0, 51:, 0] == 2 / (3 + eps))
    big = acc.area_flags(o, 1, 100)
    assert big.base.tolist() == [True, False, True]
    assert np.all(acc.precision(o, big, 1, COCO_RECALL_THRESHOLDS)[0, 51:, 0] == 2 / (2 + eps))
    two = acc.area_flags(o, 0, 2)
    assert two.tp.tolist() == [[True, False]] and two.valid.tolist() == [[True, False]]


def test_a_single_ground_truth_matched_at_low_thresholds_only() -> None:
    """IoU 0.64: a TP at thresholds 0.5, 0.55, 0.6, unmatched above (AP = AR = 3/10)."""
    ev = evaluate_bbox(
        gt_boxes([(1, 1, 0, 0, 10, 10, 100, 0)], 1, 1), dt_boxes([(1, 1, 0, 0, 8, 8, 0.5)])
    )
    assert ev.recall[:, 0, 0, -1].tolist() == [1.0, 1.0, 1.0] + [0.0] * 7
    assert average_precision(ev) == pytest.approx(0.3 / (1 + np.spacing(1)), abs=1e-15)
    assert average_recall(ev) == pytest.approx(0.3, abs=1e-15)


def test_two_true_positives_within_one_recall_step() -> None:
    """200 truths: recall moves by 0.005 per TP, so the TPs at recall 0.01 (precision 1) and
    0.015 (precision 3/4, after a FP) reach the same thresholds; the better one counts."""
    gt = gt_boxes([(1, 1, 20 * i, 0, 10, 10, 100, 0) for i in range(200)], 1, 1)
    tp, fp = (0.0, 20.0, 40.0), (0.0, 50.0)  # x of the TPs, (x, y) of the FP
    rows = [(1, 1, tp[0], 0, 10, 10, 0.9), (1, 1, tp[1], 0, 10, 10, 0.8)]
    dt = dt_boxes([*rows, (1, 1, *fp, 10, 10, 0.7), (1, 1, tp[2], 0, 10, 10, 0.6)])
    p = evaluate_bbox(gt, dt).precision[:, :, 0, 0]
    assert np.all(p[:, :2] == 2 / (2 + np.spacing(1))) and np.all(p[:, 2:] == 0)


def test_an_unmatched_detection_is_sized_by_its_own_box() -> None:
    """A 5 x 100 false positive has area 500: it counts against the small truth in "small"."""
    gt = gt_boxes([(1, 1, 0, 0, 10, 10, 100, 0)], 1, 1)
    dt = dt_boxes([(1, 1, 200, 0, 5, 100, 0.9), (1, 1, 0, 0, 10, 10, 0.5)])
    ev = evaluate_bbox(gt, dt)
    assert average_precision(ev, "small") == pytest.approx(0.5, abs=1e-12)
    assert average_precision(ev, "large") is None
