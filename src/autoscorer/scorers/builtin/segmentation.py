"""Built-in semantic segmentation scorer ``segmentation_miou``.

Reads ``input/gt.json`` (images + categories) and ``output/pred.json``
(``[{image_id, mask_file}]``), streams the PNG masks one image at a time and
hands them to :mod:`autoscorer.scorers.functional.segmentation`.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Any, ClassVar

from autoscorer.errors import InvalidParameter, InvalidValue
from autoscorer.scorers.base import Param, ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.builtin._segmentation_data import (
    GroundTruth,
    gt_mask_paths,
    load_ground_truth,
    load_image_pair,
    load_predictions,
)
from autoscorer.scorers.functional.segmentation import (
    ConfusionAccumulator,
    SegmentationMetrics,
    excluded_classes,
)
from autoscorer.scorers.ranking import DEFAULT_THRESHOLDS
from autoscorer.scorers.registry import register_scorer
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta


def _finite(value: float) -> float | None:
    """JSON has no NaN: undefined values are reported as null."""
    return None if math.isnan(value) else float(value)


def class_names(num_classes: int, categories: dict[int, str]) -> list[str]:
    """Metric keys per class: the category name when names are unique, else the id."""
    names = [categories.get(c, "") for c in range(num_classes)]
    if all(names) and len(set(names)) == num_classes:
        return names
    return [str(c) for c in range(num_classes)]


def metrics_dict(m: SegmentationMetrics, names: list[str], num_images: int) -> dict[str, Any]:
    """The ``metrics`` block of ``result.json``."""
    return {
        "mIoU": _finite(m.miou),
        "mDice": _finite(m.mdice),
        "pixel_accuracy": _finite(m.pixel_accuracy),
        "mean_class_accuracy": _finite(m.mean_class_accuracy),
        "per_class_iou": {n: _finite(v) for n, v in zip(names, m.iou, strict=True)},
        "per_class_dice": {n: _finite(v) for n, v in zip(names, m.dice, strict=True)},
        "per_class_accuracy": {n: _finite(v) for n, v in zip(names, m.class_accuracy, strict=True)},
        "num_images": num_images,
        "num_pixels": m.num_pixels,
    }


def write_per_class_csv(
    path: Path, m: SegmentationMetrics, names: list[str], categories: dict[int, str]
) -> Path:
    """``class_id,name,iou,dice,accuracy,gt_pixels,pred_pixels``; empty cell = undefined."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["class_id", "name", "iou", "dice", "accuracy", "gt_pixels", "pred_pixels"])
        for c in range(len(names)):
            values = (m.iou[c], m.dice[c], m.class_accuracy[c])
            cells = ["" if math.isnan(v) else repr(float(v)) for v in values]
            name = categories.get(c, names[c])
            writer.writerow([c, name, *cells, int(m.gt_pixels[c]), int(m.pred_pixels[c])])
    return path


@register_scorer
class SegmentationMIoU(Scorer):
    """Mean IoU, Dice and pixel accuracy of semantic segmentation masks."""

    name = "segmentation_miou"
    version = "1.0.0"
    description = "Mean IoU, Dice, pixel accuracy and per-class IoU for semantic segmentation"
    task_type = "segmentation"
    supported_formats: ClassVar[list[str]] = ["json", "png"]
    gt_file = "input/gt.json"
    # and every mask folder gt.json names (ground_truth_paths)
    ground_truth: ClassVar[tuple[str, ...] | None] = ("input/gt.json", "input/masks")
    pred_file = "output/pred.json"
    required_columns: ClassVar[list[str]] = ["image_id", "mask_file"]
    data_types: ClassVar[dict[str, str]] = {
        "image_id": "integer|string",
        "mask_file": "string (PNG of class indices, relative to output/)",
    }
    primary_metric = "mIoU"
    higher_is_better = True
    additional_metrics: ClassVar[list[str]] = [
        "mDice",
        "pixel_accuracy",
        "mean_class_accuracy",
        "per_class_iou",
        "per_class_dice",
        "per_class_accuracy",
    ]
    thresholds: ClassVar[dict[str, float] | None] = DEFAULT_THRESHOLDS
    documentation = "docs/scorers/segmentation.md"
    parameters: ClassVar[dict[str, Param]] = {
        "ignore_index": Param(
            "integer|null",
            255,
            description="Ground-truth pixel value that is not scored (null: score every pixel)",
        ),
        "reduction": Param(
            "string",
            "dataset",
            choices=("dataset", "per_image"),
            description="dataset: one confusion matrix over all pixels; "
            "per_image: mean of each image's metrics",
        ),
        "num_classes": Param(
            "integer|null",
            None,
            description="Number of classes (pixel values 0..num_classes-1); "
            "default: largest category id + 1",
        ),
    }
    examples: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Basic usage",
            "description": "Dataset-level mIoU, void label 255 ignored",
            "parameters": {"ignore_index": 255, "reduction": "dataset"},
            "expected_output": {"mIoU": 0.72, "pixel_accuracy": 0.91},
        }
    ]

    @classmethod
    def ground_truth_paths(cls, ws: Workspace, meta: Meta) -> tuple[str, ...] | None:
        """gt.json, ``input/masks`` and the folder of every mask file gt.json names."""
        return (*(cls.ground_truth or ()), *gt_mask_paths(ws.root / cls.gt_file))

    def num_classes(self, gt: GroundTruth) -> int:
        top = max(gt.categories, default=-1) + 1
        wanted = self.params["num_classes"]
        if wanted is None:
            if top == 0:
                raise InvalidValue(
                    "input/gt.json has no categories; add them or set scorer_params.num_classes",
                    field="input/gt.json categories",
                    details={"file": "input/gt.json"},
                )
            return int(top)
        if wanted < 1 or wanted < top:
            raise InvalidParameter(
                f"parameter 'num_classes' is {wanted} but must be >= 1 and cover every "
                f"category id in input/gt.json (largest is {top - 1})",
                field="num_classes",
                details={"provided": wanted, "minimum": max(top, 1)},
            )
        return int(wanted)

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        started = time.perf_counter()
        gt = load_ground_truth(ctx.gt_path, ctx.max_file_bytes, ctx.encoding)
        preds = load_predictions(ctx.pred_path, ctx.max_file_bytes, ctx.encoding, gt)
        k = self.num_classes(gt)
        ignore = self.params["ignore_index"]
        acc = ConfusionAccumulator(k, ignore, excluded_classes(k, ignore))
        loading = time.perf_counter() - started
        for image in gt.images.values():
            t0 = time.perf_counter()
            gt_mask, pred_mask = load_image_pair(ctx, image, preds.get(image.id), k, ignore)
            loading += time.perf_counter() - t0
            if pred_mask is None:
                acc.add_missing(gt_mask)
            else:
                acc.add(gt_mask, pred_mask)
        return self._output(ctx, gt, acc, loading, empty=not preds)

    def _output(
        self,
        ctx: ScoringContext,
        gt: GroundTruth,
        acc: ConfusionAccumulator,
        loading: float,
        *,
        empty: bool,
    ) -> ScoreOutput:
        m = acc.result(self.params["reduction"])
        if m.num_pixels == 0:
            raise InvalidValue(
                f"every ground-truth pixel equals ignore_index={self.params['ignore_index']}: "
                "there is nothing to score; check the masks or scorer_params.ignore_index",
                field="ignore_index",
                details={"file": "input/gt.json"},
            )
        names = class_names(acc.num_classes, gt.categories)
        artifacts = {}
        if ctx.write_artifacts:
            csv_path = ctx.artifacts_dir / "per_class_iou.csv"
            artifacts["per_class_iou"] = write_per_class_csv(csv_path, m, names, gt.categories)
        return ScoreOutput(
            metrics=metrics_dict(m, names, len(gt.images)),
            artifacts=artifacts,
            warnings=self._warnings(m, names, empty),
            data_size=len(gt.images),
            num_classes=acc.num_classes,
            data_loading=loading,
        )

    @staticmethod
    def _warnings(m: SegmentationMetrics, names: list[str], empty: bool) -> list[str]:
        out = []
        if empty:
            out.append(
                "output/pred.json is an empty list: every ground-truth pixel counts as missed, "
                "so every metric is 0"
            )
        absent = [n for n, v in zip(names, m.iou, strict=True) if math.isnan(v)]
        if absent:
            out.append(
                f"{len(absent)} class(es) absent from both ground truth and predictions (or "
                f"ignored) are left out of the means: {', '.join(absent[:20])}"
                + (" ..." if len(absent) > 20 else "")
            )
        return out
