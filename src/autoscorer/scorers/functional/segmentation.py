"""Semantic segmentation metrics from a pixel confusion matrix (pure numpy).

The confusion matrix ``cm`` is ``K x K`` with rows = ground-truth class and
columns = predicted class, counted over the pixels whose ground truth is not
``ignore_index``. From it, per class ``c``:

* IoU  = TP / (TP + FP + FN)        (Jaccard index)
* Dice = 2 TP / (2 TP + FP + FN)    (F1 of the pixel labels)
* accuracy = TP / (TP + FN)         (recall of the class)

A class absent from both the ground truth and the predictions has no defined
IoU/Dice (0/0): it is NaN and left out of every mean. A class that is only in
the predictions, or only in the ground truth, has IoU 0 and counts.
Pixels of an image that has no prediction at all (``missed``) count as false
negatives of their ground-truth class. ``reduction="dataset"`` sums the confusion matrices of all
images first (the standard for Cityscapes / ADE20K / mmseg);
``reduction="per_image"`` computes each image's metrics and averages them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Reduction = Literal["dataset", "per_image"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def confusion_matrix(
    gt: NDArray[np.integer], pred: NDArray[np.integer], num_classes: int, ignore_index: int | None
) -> IntArray:
    """``K x K`` pixel counts (rows gt, columns pred); pixels with gt == ignore_index skipped.

    Values are assumed already checked to lie in ``[0, num_classes)`` where
    counted (see :func:`first_out_of_range`).
    """
    gt_flat = gt.reshape(-1)
    pred_flat = pred.reshape(-1)
    if ignore_index is not None:
        keep = gt_flat != ignore_index
        gt_flat, pred_flat = gt_flat[keep], pred_flat[keep]
    # one bincount over gt*K+pred is several times faster than np.add.at or a loop
    index = gt_flat.astype(np.intp) * num_classes + pred_flat.astype(np.intp)
    counts = np.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64, copy=False)


def first_out_of_range(
    values: NDArray[np.integer], num_classes: int, counted: NDArray[np.bool_] | None = None
) -> tuple[tuple[int, ...], int] | None:
    """Position and value of the first element outside ``[0, num_classes)``, or None.

    ``counted`` restricts the check to those elements (e.g. gt != ignore_index).
    """
    bad = (values < 0) | (values >= num_classes)
    if counted is not None:
        bad &= counted
    if not bad.any():
        return None
    flat = int(np.argmax(bad.reshape(-1)))
    pos = tuple(int(i) for i in np.unravel_index(flat, values.shape))
    return pos, int(values.reshape(-1)[flat])


def _ratio(num: NDArray[np.number], den: NDArray[np.number]) -> FloatArray:
    """num / den with NaN where den == 0 (no warnings)."""
    num_f = np.asarray(num, dtype=np.float64)
    den_f = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num_f, den_f).shape, np.nan)
    np.divide(num_f, den_f, out=out, where=den_f != 0)
    return out


def _nanmean(values: FloatArray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


@dataclass(frozen=True)
class SegmentationMetrics:
    """Summary metrics (NaN when undefined) and per-class arrays (NaN = class absent)."""

    miou: float
    mdice: float
    pixel_accuracy: float
    mean_class_accuracy: float
    iou: FloatArray
    dice: FloatArray
    class_accuracy: FloatArray
    gt_pixels: IntArray
    pred_pixels: IntArray

    @property
    def num_pixels(self) -> int:
        return int(self.gt_pixels.sum())


def excluded_classes(num_classes: int, ignore_index: int | None) -> tuple[int, ...]:
    """``(ignore_index,)`` when it is itself a class id: that class is not scored."""
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        return (ignore_index,)
    return ()


def class_scores(
    cm: IntArray, excluded: Iterable[int] = (), missed: IntArray | None = None
) -> tuple[FloatArray, ...]:
    """Per-class ``(iou, dice, accuracy)``; NaN where undefined or the class is ``excluded``.

    ``missed`` holds per-class gt pixels that had no prediction (false negatives).
    """
    tp = np.diag(cm)
    gt_count = cm.sum(axis=1) if missed is None else cm.sum(axis=1) + missed
    pred_count = cm.sum(axis=0)
    iou = _ratio(tp, gt_count + pred_count - tp)
    dice = _ratio(2 * tp, gt_count + pred_count)
    acc = _ratio(tp, gt_count)
    for c in excluded:
        iou[c] = dice[c] = acc[c] = np.nan
    return iou, dice, acc


def metrics_from_confusion(
    cm: IntArray, excluded: Iterable[int] = (), missed: IntArray | None = None
) -> SegmentationMetrics:
    """All metrics of one confusion matrix (one image, or the whole dataset)."""
    iou, dice, acc = class_scores(cm, excluded, missed)
    gt_pixels = cm.sum(axis=1) if missed is None else cm.sum(axis=1) + missed
    total = int(gt_pixels.sum())
    return SegmentationMetrics(
        miou=_nanmean(iou),
        mdice=_nanmean(dice),
        pixel_accuracy=float(np.trace(cm) / total) if total else float("nan"),
        mean_class_accuracy=_nanmean(acc),
        iou=iou,
        dice=dice,
        class_accuracy=acc,
        gt_pixels=gt_pixels,
        pred_pixels=cm.sum(axis=0),
    )


def _mean_columns(rows: list[FloatArray], size: int) -> FloatArray:
    """Column-wise nanmean of stacked per-image arrays (NaN where a column is all NaN)."""
    if not rows:
        return np.full(size, np.nan)
    stack = np.vstack(rows)
    valid = ~np.isnan(stack)
    return _ratio(np.where(valid, stack, 0.0).sum(axis=0), valid.sum(axis=0))


@dataclass
class ConfusionAccumulator:
    """Streams images in one at a time; memory is ``O(K^2 + images * K)``.

    ``add`` takes already validated masks. ``excluded`` lists class ids whose
    per-class values are reported as NaN and left out of the means (used when
    ``ignore_index`` is itself a class id).
    """

    num_classes: int
    ignore_index: int | None = 255
    excluded: tuple[int, ...] = ()
    total: IntArray = field(init=False)
    missed: IntArray = field(init=False)
    images: list[SegmentationMetrics] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.total = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.missed = np.zeros(self.num_classes, dtype=np.int64)

    def add(self, gt: NDArray[np.integer], pred: NDArray[np.integer]) -> SegmentationMetrics:
        """Count one image; returns that image's own metrics."""
        return self.add_counts(confusion_matrix(gt, pred, self.num_classes, self.ignore_index))

    def add_counts(self, cm: IntArray) -> SegmentationMetrics:
        """Count one image given its confusion matrix (as :func:`confusion_matrix` makes it)."""
        self.total += cm
        image = metrics_from_confusion(cm, self.excluded)
        self.images.append(image)
        return image

    def add_missing(self, gt: NDArray[np.integer]) -> SegmentationMetrics:
        """Count an image that has no prediction: all its pixels are false negatives."""
        gt_flat = gt.reshape(-1)
        if self.ignore_index is not None:
            gt_flat = gt_flat[gt_flat != self.ignore_index]
        missed = np.bincount(gt_flat.astype(np.intp), minlength=self.num_classes)
        return self.add_missed(missed.astype(np.int64))

    def add_missed(self, missed: IntArray) -> SegmentationMetrics:
        """Count an image without prediction given its counted gt pixels per class."""
        self.missed += missed
        empty = np.zeros_like(self.total)
        image = metrics_from_confusion(empty, self.excluded, missed)
        self.images.append(image)
        return image

    def result(self, reduction: Reduction = "dataset") -> SegmentationMetrics:
        """Dataset-level metrics, or the mean of the per-image metrics."""
        overall = metrics_from_confusion(self.total, self.excluded, self.missed)
        if reduction == "dataset":
            return overall
        return _average_images(self.images, overall)


def _average_images(
    images: list[SegmentationMetrics], overall: SegmentationMetrics
) -> SegmentationMetrics:
    """Mean over images of each image's metric; images where it is NaN are skipped."""

    def mean_of(values: Iterable[float]) -> float:
        return _nanmean(np.fromiter(values, dtype=np.float64))

    k = overall.iou.size
    return SegmentationMetrics(
        miou=mean_of(m.miou for m in images),
        mdice=mean_of(m.mdice for m in images),
        pixel_accuracy=mean_of(m.pixel_accuracy for m in images),
        mean_class_accuracy=mean_of(m.mean_class_accuracy for m in images),
        iou=_mean_columns([m.iou for m in images], k),
        dice=_mean_columns([m.dice for m in images], k),
        class_accuracy=_mean_columns([m.class_accuracy for m in images], k),
        gt_pixels=overall.gt_pixels,
        pred_pixels=overall.pred_pixels,
    )


def segmentation_metrics(
    pairs: Iterable[tuple[NDArray[np.integer], NDArray[np.integer]]],
    num_classes: int,
    ignore_index: int | None = 255,
    reduction: Reduction = "dataset",
) -> SegmentationMetrics:
    """Metrics over ``(gt, pred)`` mask pairs of class indices (convenience wrapper)."""
    excluded = excluded_classes(num_classes, ignore_index)
    acc = ConfusionAccumulator(num_classes, ignore_index, excluded)
    for gt, pred in pairs:
        acc.add(gt, pred)
    return acc.result(reduction)
