"""Per-image pixel counts of the segmentation scorer, computed on worker threads.

Decoding the PNG masks is most of a segmentation run, and Pillow decodes without the
interpreter lock, so images are read and counted on a small thread pool (one thread per
usable core) and only their ``K x K`` confusion matrices come back, in image order.

For 8-bit masks (modes L, P and 1) one pass gives everything: a joint histogram of
``(gt, pred)`` pixel pairs (65,536 bins). The range checks and the confusion matrix are
read from it; only when it shows an out-of-range value does the slow per-pixel check run,
to name the first offending pixel exactly as before. Other masks (16-bit) take the
per-pixel path. The counts are the same integers either way.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from autoscorer.errors import AutoScorerError
from autoscorer.scorers.builtin._segmentation_data import (
    VIEW_MIN_IMAGES,
    ImageSpec,
    check_class_range,
    mask_name,
    read_mask,
)
from autoscorer.scorers.functional.segmentation import IntArray, confusion_matrix

if TYPE_CHECKING:
    from autoscorer.scorers.base import ScoringContext


@dataclass(frozen=True)
class ImageCounts:
    """One image: its confusion matrix, or (no prediction) its missed gt pixels per class."""

    confusion: IntArray | None
    missed: IntArray | None
    seconds: float


def _counted_rows(ignore_index: int | None) -> NDArray[np.bool_]:
    rows = np.ones(256, dtype=bool)
    if ignore_index is not None and 0 <= ignore_index < 256:
        rows[ignore_index] = False
    return rows


def _joint_counts(gt: NDArray[Any], pred: NDArray[Any]) -> NDArray[np.intp]:
    """``H[g, p]``: how many pixels have ground truth ``g`` and prediction ``p`` (uint8)."""
    pairs = gt.astype(np.uint16)
    pairs <<= 8
    pairs |= pred
    return np.bincount(pairs.reshape(-1), minlength=65536).reshape(256, 256)


def _in_range(hist: NDArray[np.intp], counted: NDArray[np.bool_], k: int) -> bool:
    """No counted gt row at or above ``k``, and no counted pixel predicted ``>= k``."""
    rows = hist[counted]
    return not rows[:, k:].any() and not hist[k:][counted[k:]].any()


def _pair_counts(gt: NDArray[Any], pred: NDArray[Any], k: int, ignore: int | None) -> Any:
    """The confusion matrix from the joint histogram, or None to take the per-pixel path."""
    if gt.dtype != np.uint8 or pred.dtype != np.uint8 or gt.shape != pred.shape or k > 256:
        return None
    hist = _joint_counts(gt, pred)
    counted = _counted_rows(ignore)
    if not _in_range(hist, counted, k):
        return None
    cm = hist[:k, :k].astype(np.int64)
    cm[~counted[:k]] = 0
    return cm


def _missed_counts(gt: NDArray[Any], k: int, ignore: int | None) -> Any:
    if gt.dtype != np.uint8 or k > 256:
        return None
    counts = np.bincount(gt.reshape(-1), minlength=256)
    counted = _counted_rows(ignore)
    if counts[k:][counted[k:]].any():
        return None
    missed = counts[:k].astype(np.int64)
    missed[~counted[:k]] = 0
    return missed


def _checked(
    ctx: ScoringContext,
    image: ImageSpec,
    gt: NDArray[Any],
    pred: tuple[str, NDArray[Any]] | None,
    k: int,
    ignore: int | None,
) -> None:
    """The per-pixel range checks (they raise, naming the first bad pixel)."""
    counted = None if ignore is None else gt != ignore
    gt_base = ctx.gt_path.parent
    check_class_range(gt, mask_name(gt_base, image.mask_file), image, k, counted)
    if pred is not None:
        check_class_range(pred[1], mask_name(ctx.pred_path.parent, pred[0]), image, k, counted)


def count_image(
    ctx: ScoringContext,
    image: ImageSpec,
    pred_file: str | None,
    k: int,
    ignore: int | None,
    view: bool = False,
) -> ImageCounts:
    """Read and check one image's masks and count its pixels (``view``: see ``read_mask``)."""
    t0 = time.perf_counter()
    gt = read_mask(ctx.gt_path.parent, image.mask_file, image, "gt", ctx, view)
    if pred_file is None:
        missed = _missed_counts(gt, k, ignore)
        if missed is None:
            _checked(ctx, image, gt, None, k, ignore)
            flat = gt.reshape(-1) if ignore is None else gt[gt != ignore]
            missed = np.bincount(flat.astype(np.intp), minlength=k).astype(np.int64)
        return ImageCounts(None, missed, time.perf_counter() - t0)
    try:
        pred = read_mask(ctx.pred_path.parent, pred_file, image, "pred", ctx, view)
    except AutoScorerError:
        _checked(ctx, image, gt, None, k, ignore)  # a bad gt mask is reported first
        raise
    cm = _pair_counts(gt, pred, k, ignore)
    if cm is None:
        _checked(ctx, image, gt, (pred_file, pred), k, ignore)
        cm = confusion_matrix(gt, pred, k, ignore)
    return ImageCounts(cm, None, time.perf_counter() - t0)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def count_images(
    ctx: ScoringContext,
    images: Collection[ImageSpec],
    preds: dict[Any, str],
    k: int,
    ignore: int | None,
) -> Iterator[ImageCounts]:
    """Every image's counts, in order; the first image that fails raises its own error."""
    workers = usable_cores()
    view = len(images) >= VIEW_MIN_IMAGES
    if workers < 2:
        for image in images:
            yield count_image(ctx, image, preds.get(image.id), k, ignore, view)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="masks")
    try:
        window: list[Any] = []
        for image in images:  # at most 4 images per thread in flight (bounded memory)
            # each task in a copy of this context: the workspace boundary (a ContextVar
            # of safeio) must confine the threads' opens as it confines this thread's
            run = contextvars.copy_context().run
            pred = preds.get(image.id)
            window.append(pool.submit(run, count_image, ctx, image, pred, k, ignore, view))
            if len(window) >= 4 * workers:
                yield window.pop(0).result()
        for future in window:
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
