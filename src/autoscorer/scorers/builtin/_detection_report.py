"""``detection_map`` parameters, metric dictionary and artifacts (per-category CSV, PR curves)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from autoscorer.errors import InvalidParameter
from autoscorer.scorers.builtin._detection_data import CocoGroundTruth
from autoscorer.scorers.functional.detection import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_MAX_DETS,
    CocoEvaluation,
    CocoParams,
    average_precision,
    average_recall,
    coco_stats,
    per_category_ap,
)


def _number_list(name: str, value: list[Any], lo: float, hi: float) -> list[float]:
    if not value or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and lo <= v <= hi for v in value
    ):
        raise InvalidParameter(
            f"parameter '{name}' must be a non-empty list of numbers in [{lo}, {hi}], "
            f"got {value!r}",
            field=name,
            details={"provided": value},
        )
    return [float(v) for v in value]


def _area_ranges(value: dict[str, Any]) -> dict[str, tuple[float, float]]:
    ranges: dict[str, tuple[float, float]] = {}
    for label, bounds in value.items():
        if not (isinstance(bounds, list) and len(bounds) == 2):
            bounds = None
        nums = _number_list("area_ranges", bounds or [], 0, float("inf")) if bounds else []
        if len(nums) != 2 or nums[0] > nums[1]:
            raise InvalidParameter(
                f"parameter 'area_ranges' entry '{label}' must be [min_area, max_area] with "
                f"0 <= min <= max, got {value[label]!r}",
                field="area_ranges",
                details={"provided": value},
            )
        ranges[str(label)] = (nums[0], nums[1])
    if "all" not in ranges:
        raise InvalidParameter(
            "parameter 'area_ranges' needs an 'all' range (used by mAP and AR)",
            field="area_ranges",
            details={"provided": value},
        )
    return ranges


def coco_params(params: dict[str, Any]) -> CocoParams:
    """Checked :class:`CocoParams` from the scorer parameters (None: COCO default)."""
    ious = params.get("iou_thresholds")
    dets = params.get("max_dets")
    if dets is not None and (
        not dets or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dets)
    ):
        raise InvalidParameter(
            f"parameter 'max_dets' must be a non-empty list of positive integers, got {dets!r}",
            field="max_dets",
            details={"provided": dets},
        )
    areas = params.get("area_ranges")
    return CocoParams(
        iou_thresholds=np.array(
            sorted(set(_number_list("iou_thresholds", ious, 0, 1)))
            if ious is not None
            else COCO_IOU_THRESHOLDS
        ),
        area_ranges=_area_ranges(areas) if areas is not None else dict(COCO_AREA_RANGES),
        max_dets=tuple(sorted(set(dets))) if dets is not None else COCO_MAX_DETS,
    )


def metric_names(params: CocoParams) -> list[str]:
    """Summary metric keys for these params (``AP_small``, ``AR@10``, ...)."""
    labels = [a for a in params.area_ranges if a != "all"]
    return [
        "mAP",
        "AP50",
        "AP75",
        *(f"AP_{a}" for a in labels),
        *(f"AR@{d}" for d in params.max_dets),
        *(f"AR_{a}" for a in labels),
    ]


def summary_metrics(ev: CocoEvaluation) -> dict[str, float | None]:
    """mAP (AP@[.5:.95]), AP50, AP75, AP/AR per area range, AR@max_dets; None = no GT."""
    labels = [a for a in ev.params.area_ranges if a != "all"]
    out: dict[str, float | None] = {
        "mAP": average_precision(ev),
        "AP50": average_precision(ev, iou=0.5),
        "AP75": average_precision(ev, iou=0.75),
    }
    out.update({f"AP_{a}": average_precision(ev, a) for a in labels})
    out.update({f"AR@{d}": average_recall(ev, max_det=d) for d in ev.params.max_dets})
    out.update({f"AR_{a}": average_recall(ev, a) for a in labels})
    return out


def metrics_dict(
    ev: CocoEvaluation, gt: CocoGroundTruth, keys: list[str], num_detections: int
) -> dict[str, Any]:
    """The ``metrics`` block of ``result.json``."""
    return {
        **summary_metrics(ev),
        "coco_stats": coco_stats(ev),
        "per_category_AP": dict(zip(keys, per_category_ap(ev), strict=True)),
        "num_images": len(gt.image_ids),
        "num_categories": len(gt.category_ids),
        "num_annotations": len(gt.boxes.category),
        "num_detections": num_detections,
        "num_detections_evaluated": ev.num_kept_detections,
    }


def category_keys(gt: CocoGroundTruth) -> list[str]:
    """Per-category metric keys: the names when unique, else the ids."""
    names = [gt.category_names[int(c)] for c in gt.category_ids]
    if len(set(names)) == len(names):
        return names
    return [str(int(c)) for c in gt.category_ids]


def write_category_csv(path: Path, ev: CocoEvaluation, gt: CocoGroundTruth, dt_counts: Any) -> Path:
    """``category_id,name,num_gt,num_detections,AP,AP50,AP75,AR``; empty = no ground truth."""
    a_all = list(ev.params.area_ranges).index("all")
    columns = [per_category_ap(ev), per_category_ap(ev, 0.5), per_category_ap(ev, 0.75)]
    rec = ev.recall[:, :, a_all, -1]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["category_id", "name", "num_gt", "num_detections", "AP", "AP50", "AP75", "AR"])
        for k, cid in enumerate(gt.category_ids):
            values = [c[k] for c in columns]
            ar = None if rec[0, k] < 0 else float(np.mean(rec[:, k]))
            cells = ["" if v is None else repr(v) for v in (*values, ar)]
            num_gt = int(np.sum((gt.boxes.category == k) & ~gt.boxes.crowd))
            name = gt.category_names[int(cid)]
            w.writerow([int(cid), name, num_gt, int(dt_counts[k]), *cells])
    return path


def write_pr_curves(path: Path, ev: CocoEvaluation, keys: list[str]) -> Path:
    """Interpolated precision at the 101 recall points, per category (area all)."""
    p = ev.params
    prec = ev.precision[..., list(p.area_ranges).index("all")]
    t50 = np.flatnonzero(p.iou_thresholds == 0.5)
    curves = {}
    for k, key in enumerate(keys):
        if prec[0, 0, k] < 0:
            continue
        curve = {"precision": prec[:, :, k].mean(axis=0).tolist()}
        if len(t50):
            curve["precision@0.5"] = prec[t50[0], :, k].tolist()
        curves[key] = curve
    doc = {
        "recall_thresholds": p.recall_thresholds.tolist(),
        "iou_thresholds": p.iou_thresholds.tolist(),
        "area_range": "all",
        "max_dets": p.max_dets[-1],
        "categories": curves,
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path
