"""Built-in COCO bounding-box scorer ``detection_map``.

Reads ``input/gt.json`` (COCO) and ``output/pred.json`` (a list of
``{image_id, category_id, bbox, score}``), evaluates with
:mod:`autoscorer.scorers.functional.detection` (equal to pycocotools) and
reports the 12 COCO stats, per-category AP and, optionally, artifacts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from autoscorer.errors import InvalidValue
from autoscorer.scorers.base import Param, ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.builtin._detection_data import (
    GT_NAME,
    PRED_NAME,
    CocoGroundTruth,
    load_detections,
    load_ground_truth,
)
from autoscorer.scorers.builtin._detection_report import (
    category_keys,
    coco_params,
    metrics_dict,
    write_category_csv,
    write_pr_curves,
)
from autoscorer.scorers.functional.detection import (
    COCO_AREA_RANGES,
    COCO_IOU_THRESHOLDS,
    COCO_MAX_DETS,
    CocoEvaluation,
    DetectionBoxes,
    evaluate_bbox,
)
from autoscorer.scorers.ranking import DEFAULT_THRESHOLDS
from autoscorer.scorers.registry import register_scorer


@register_scorer
class DetectionMAP(Scorer):
    """COCO mAP@[.5:.95] and the other COCO bbox stats, equal to pycocotools."""

    name = "detection_map"
    version = "1.0.0"
    description = (
        "COCO bounding-box mAP@[.5:.95], AP50, AP75, AP/AR by object size, AR@1/10/100 and "
        "per-category AP; equal to pycocotools' COCOeval"
    )
    task_type = "detection"
    supported_formats: ClassVar[list[str]] = ["json"]
    gt_file = GT_NAME
    ground_truth: ClassVar[tuple[str, ...] | None] = (GT_NAME,)
    pred_file = PRED_NAME
    required_columns: ClassVar[list[str]] = ["image_id", "category_id", "bbox", "score"]
    data_types: ClassVar[dict[str, str]] = {
        "image_id": "integer (an images[].id of input/gt.json)",
        "category_id": "integer (a categories[].id of input/gt.json)",
        "bbox": "array of 4 numbers [x, y, width, height], width and height >= 0",
        "score": "number (confidence; higher ranks first, ties keep file order)",
    }
    primary_metric = "mAP"
    higher_is_better = True
    additional_metrics: ClassVar[list[str]] = [
        "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR@1", "AR@10", "AR@100",
        "AR_small", "AR_medium", "AR_large", "coco_stats", "per_category_AP",
    ]  # fmt: skip
    thresholds: ClassVar[dict[str, float] | None] = DEFAULT_THRESHOLDS
    documentation = "docs/scorers/detection.md"
    parameters: ClassVar[dict[str, Param]] = {
        "iou_thresholds": Param(
            "array",
            COCO_IOU_THRESHOLDS.tolist(),
            description="IoU thresholds averaged by mAP (numbers in [0, 1]); "
            "AP50 / AP75 are null when 0.5 / 0.75 is not among them",
        ),
        "area_ranges": Param(
            "object",
            {k: list(v) for k, v in COCO_AREA_RANGES.items()},
            description="Object size ranges {label: [min_area, max_area]} on the ground-truth "
            "'area' field (detections: width x height); must contain 'all'. "
            "Each other label L gives AP_L and AR_L",
        ),
        "max_dets": Param(
            "array",
            list(COCO_MAX_DETS),
            description="Detections kept per image per category (highest scores); AR@d for "
            "each d; AP uses the largest",
        ),
    }
    examples: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "COCO defaults",
            "description": "AP averaged over IoU 0.50:0.95, up to 100 detections per image "
            "per category",
            "parameters": {},
            "expected_output": {"mAP": 0.412, "AP50": 0.621, "AP75": 0.447, "AR@100": 0.553},
        },
        {
            "name": "PASCAL VOC-style AP50 only",
            "description": "One IoU threshold; AP75 is then null",
            "parameters": {"iou_thresholds": [0.5]},
            "expected_output": {"mAP": 0.621, "AP50": 0.621, "AP75": None},
        },
    ]

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        started = time.perf_counter()
        params = coco_params(self.params)
        gt = load_ground_truth(ctx.gt_path, ctx.max_file_bytes, ctx.encoding)
        dt = load_detections(ctx.pred_path, ctx.max_file_bytes, ctx.encoding, gt)
        loading = time.perf_counter() - started
        ev = evaluate_bbox(gt.boxes, dt, params)
        if ev.precision[0, 0, :, list(params.area_ranges).index("all")].max(initial=-1) < 0:
            raise InvalidValue(
                f"{GT_NAME} has no non-crowd annotation inside the 'all' area range "
                f"{list(params.area_ranges['all'])}: there is nothing to score",
                field=f"{GT_NAME} annotations",
                details={"file": GT_NAME},
            )
        keys = category_keys(gt)
        metrics = metrics_dict(ev, gt, keys, len(dt.score))
        return ScoreOutput(
            metrics=metrics,
            artifacts=self._artifacts(ctx, ev, gt, dt, keys),
            warnings=[*gt.warnings, *self._warnings(ev, gt, dt, keys)],
            data_size=len(gt.image_ids),
            num_classes=len(gt.category_ids),
            data_loading=loading,
        )

    @staticmethod
    def _artifacts(
        ctx: ScoringContext,
        ev: CocoEvaluation,
        gt: CocoGroundTruth,
        dt: DetectionBoxes,
        keys: list[str],
    ) -> dict[str, Path]:
        if not ctx.write_artifacts:
            return {}
        counts = np.bincount(dt.category, minlength=len(gt.category_ids))
        return {
            "per_category_ap": write_category_csv(
                ctx.artifacts_dir / "per_category_ap.csv", ev, gt, counts
            ),
            "pr_curves": write_pr_curves(ctx.artifacts_dir / "pr_curves.json", ev, keys),
        }

    @staticmethod
    def _warnings(
        ev: CocoEvaluation, gt: CocoGroundTruth, dt: DetectionBoxes, keys: list[str]
    ) -> list[str]:
        out = []
        if len(dt.score) == 0:
            out.append(f"{PRED_NAME} is an empty list: no detections, so every AP and AR is 0")
        a_all = list(ev.params.area_ranges).index("all")
        absent = [k for k, v in zip(keys, ev.precision[0, 0, :, a_all], strict=True) if v < 0]
        if absent:
            out.append(
                f"{len(absent)} categor{'y has' if len(absent) == 1 else 'ies have'} no "
                f"non-crowd ground truth and {'is' if len(absent) == 1 else 'are'} left out of "
                f"the means (AP null): {', '.join(absent[:20])}"
                + (" ..." if len(absent) > 20 else "")
            )
        dropped = len(dt.score) - ev.num_kept_detections
        if dropped:
            out.append(
                f"{dropped} detection(s) beyond max_dets={ev.params.max_dets[-1]} per image per "
                "category (lowest scores) were not evaluated"
            )
        return out
