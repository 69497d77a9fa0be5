"""segmentation_miou's threaded reading and joint-histogram counts against plain numpy.

``score()`` reads masks on one thread per core and counts 8-bit masks from a joint
histogram; the figures must be those of a per-image ``np.bincount`` confusion matrix,
and errors those of the per-pixel checks (the first bad image, the first bad pixel).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from autoscorer.errors import InvalidValue, MissingFile
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.builtin import _segmentation_counts as counts
from autoscorer.scorers.builtin import _segmentation_data as seg_data

from .test_segmentation import make_workspace, random_masks, save_mask

TOL = 1e-9


def numpy_reference(gts: list[NDArray[Any]], preds: list[NDArray[Any]], k: int, ignore: int):
    """Dataset and per-image mIoU / per-class IoU from np.bincount confusion matrices."""
    total = np.zeros((k, k), dtype=np.int64)
    per_image = []
    for g, p in zip(gts, preds, strict=True):
        keep = g.reshape(-1) != ignore
        idx = g.reshape(-1)[keep].astype(np.int64) * k + p.reshape(-1)[keep]
        cm = np.bincount(idx, minlength=k * k).reshape(k, k)
        total += cm
        per_image.append(_iou(cm))
    stack = np.vstack(per_image)
    per_image_iou = np.array(
        [np.nanmean(col) if (~np.isnan(col)).any() else np.nan for col in stack.T]
    )
    per_image_miou = np.nanmean([np.nanmean(r) for r in per_image if (~np.isnan(r)).any()])
    return _iou(total), per_image_iou, per_image_miou


def _iou(cm: NDArray[np.int64]) -> NDArray[np.float64]:
    tp = np.diag(cm).astype(np.float64)
    den = (cm.sum(0) + cm.sum(1) - np.diag(cm)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, tp / np.where(den > 0, den, 1), np.nan)


def _per_class(metrics: dict[str, Any], k: int) -> NDArray[np.float64]:
    values = [metrics["per_class_iou"][f"c{c}"] for c in range(k)]
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("view", [False, True])
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_threaded_counts_equal_a_numpy_bincount_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, workers: int, view: bool
) -> None:
    monkeypatch.setattr(counts, "usable_cores", lambda: workers)
    # masks read in place through Pillow's Arrow export, or copied by np.asarray
    monkeypatch.setattr(counts, "VIEW_MIN_IMAGES", 1 if view else 10**9)
    k = 7
    gts, preds = random_masks(seed, n=23, k=k, absent=(4,))
    root = make_workspace(tmp_path / "ws", gts, preds, k)
    dataset_iou, image_iou, image_miou = numpy_reference(gts, preds, k, 255)

    m = score(root, write_artifacts=False).metrics
    np.testing.assert_allclose(_per_class(m, k), dataset_iou, rtol=0, atol=TOL)
    assert abs(m["mIoU"] - np.nanmean(dataset_iou)) <= TOL
    assert m["num_pixels"] == sum(int((g != 255).sum()) for g in gts)

    m = score(root, params={"reduction": "per_image"}, write_artifacts=False).metrics
    np.testing.assert_allclose(_per_class(m, k), image_iou, rtol=0, atol=TOL)
    assert abs(m["mIoU"] - image_miou) <= TOL


@pytest.mark.parametrize("mode", ["L", "P", "1", "I;16"])
def test_a_mask_read_in_place_equals_numpy_s_copy(tmp_path: Path, mode: str) -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 200, size=(37, 53))
    pixels = pixels * 255 // 199 if mode == "1" else pixels
    img = Image.fromarray(pixels.astype(np.uint16 if mode == "I;16" else np.uint8))
    img = img.convert("1") if mode == "1" else img if mode == "I;16" else img.convert(mode)
    img.save(tmp_path / "m.png")
    with Image.open(tmp_path / "m.png") as a, Image.open(tmp_path / "m.png") as b:
        assert a.mode == mode
        view, copy = seg_data._pixels(a, view=True), seg_data._pixels(b, view=False)
    assert view.dtype == copy.dtype
    assert view.flags.writeable == (mode == "1")  # as np.asarray: read-only (mode 1: a copy)
    assert len(np.unique(view)) > 1
    np.testing.assert_array_equal(view, copy)


def test_an_image_stored_in_several_blocks_is_copied(tmp_path: Path) -> None:
    pixels = np.random.default_rng(6).integers(0, 19, size=(300, 200)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "m.png")
    before = Image.core.get_block_size()
    Image.core.set_block_size(4096)  # 15 rows per block: no single buffer to view
    try:
        with Image.open(tmp_path / "m.png") as img:
            got = seg_data._pixels(img, view=True)
    finally:
        Image.core.set_block_size(before)
    np.testing.assert_array_equal(got, pixels)


def test_16_bit_masks_take_the_per_pixel_path_with_the_same_figures(tmp_path: Path) -> None:
    k = 5
    gts, preds = random_masks(3, n=6, k=k)
    eight = score(make_workspace(tmp_path / "a", gts, preds, k), write_artifacts=False)
    wide = [g.astype(np.uint16) for g in gts]
    sixteen = score(make_workspace(tmp_path / "b", wide, preds, k), write_artifacts=False)
    assert sixteen.metrics == eight.metrics


@pytest.mark.parametrize("role", ["input", "output"])
def test_the_first_bad_image_and_pixel_is_reported(tmp_path: Path, role: str) -> None:
    k = 5
    gts, preds = random_masks(4, n=12, k=k)
    root = make_workspace(tmp_path / "ws", gts, preds, k)
    for i, (row, col) in ((7, (2, 3)), (9, (0, 0))):  # two bad images: the first one wins
        mask = (gts if role == "input" else preds)[i].copy()
        mask[:] = np.where(mask == 255, 0, mask)  # no void: the pixel is counted
        mask[row, col] = 9
        save_mask(root / role / "m" / f"{i}.png", mask)
        if role == "input":  # keep the pixel's prediction in range
            gts[i] = mask
    with pytest.raises(InvalidValue) as exc:
        score(root, write_artifacts=False)
    assert exc.value.details["image_id"] == 7
    assert (exc.value.details["row"], exc.value.details["column"]) == (2, 3)
    assert exc.value.details["value"] == 9
    assert not (root / "output" / "result.json").exists()


def test_a_bad_gt_mask_is_reported_before_a_missing_prediction(tmp_path: Path) -> None:
    k = 5
    gts, preds = random_masks(6, n=4, k=k)
    root = make_workspace(tmp_path / "ws", gts, preds, k)
    bad = gts[2].copy()
    bad[1, 1] = 7
    save_mask(root / "input" / "m" / "2.png", bad)
    (root / "output" / "m" / "2.png").unlink()
    with pytest.raises(InvalidValue) as exc:
        score(root, write_artifacts=False)
    assert exc.value.details["file"] == "input/m/2.png"
    (root / "input" / "m" / "2.png").unlink()
    save_mask(root / "input" / "m" / "2.png", gts[2])
    with pytest.raises(MissingFile):
        score(root, write_artifacts=False)
    assert json.loads((root / "meta.json").read_text())["scorer"] == "segmentation_miou"
