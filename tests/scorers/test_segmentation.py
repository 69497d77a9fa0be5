"""segmentation_miou: exact against scikit-learn, and every bad input through score()."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from sklearn.metrics import accuracy_score, f1_score, jaccard_score, recall_score

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.functional.segmentation import (
    confusion_matrix,
    segmentation_metrics,
)
from autoscorer.scorers.registry import get_scorer

Masks = list[NDArray[Any]]
TOL = 1e-9


def random_masks(
    seed: int, n: int, k: int, *, ignore: int | None = 255, absent: tuple[int, ...] = ()
) -> tuple[Masks, Masks]:
    """Ground truth with some void pixels; predictions right ~60% of the time."""
    rng = np.random.default_rng(seed)
    present = [c for c in range(k) if c not in absent]
    gts, preds = [], []
    for _ in range(n):
        h, w = rng.integers(5, 40, size=2)
        gt = rng.choice(present, size=(h, w)).astype(np.uint8)
        noise = rng.choice(present, size=(h, w)).astype(np.uint8)
        pred = np.where(rng.random((h, w)) < 0.6, gt, noise).astype(np.uint8)
        if ignore is not None:
            gt[rng.random((h, w)) < 0.1] = ignore
        gts.append(gt)
        preds.append(pred)
    return gts, preds


def reference(gts: Masks, preds: Masks, k: int, ignore: int | None) -> dict[str, Any]:
    """scikit-learn on the flattened, non-ignored pixels."""
    gt = np.concatenate([g.reshape(-1) for g in gts]).astype(np.int64)
    pred = np.concatenate([p.reshape(-1) for p in preds]).astype(np.int64)
    if ignore is not None:
        keep = gt != ignore
        gt, pred = gt[keep], pred[keep]
    labels = list(range(k))
    kw: dict[str, Any] = {"labels": labels, "average": None, "zero_division": np.nan}
    # jaccard_score has no zero_division=nan: mark classes seen in neither array ourselves
    iou = jaccard_score(gt, pred, labels=labels, average=None, zero_division=0)
    iou[~np.isin(labels, np.union1d(gt, pred))] = np.nan
    dice = f1_score(gt, pred, **kw)
    acc = recall_score(gt, pred, **kw)
    return {
        "iou": iou,
        "dice": dice,
        "class_accuracy": acc,
        "miou": np.nanmean(iou),
        "mdice": np.nanmean(dice),
        "mean_class_accuracy": np.nanmean(acc),
        "pixel_accuracy": accuracy_score(gt, pred),
    }


def assert_close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=0, atol=TOL
    )


# ---------------------------------------------------------------- pure functions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dataset_reduction_matches_sklearn(seed: int) -> None:
    gts, preds = random_masks(seed, n=12, k=7, absent=(5,))
    m = segmentation_metrics(zip(gts, preds, strict=True), 7, 255, "dataset")
    ref = reference(gts, preds, 7, 255)
    for key in ("iou", "dice", "class_accuracy"):
        assert_close(getattr(m, key), ref[key])
    for key in ("miou", "mdice", "mean_class_accuracy", "pixel_accuracy"):
        assert_close(getattr(m, key), ref[key])
    assert math.isnan(m.iou[5]) and not math.isnan(m.miou)


def test_confusion_matrix_matches_sklearn() -> None:
    from sklearn.metrics import confusion_matrix as sk_confusion

    gts, preds = random_masks(7, n=3, k=5)
    cm = sum(confusion_matrix(g, p, 5, 255) for g, p in zip(gts, preds, strict=True))
    gt = np.concatenate([g.ravel() for g in gts])
    pred = np.concatenate([p.ravel() for p in preds])
    keep = gt != 255
    np.testing.assert_array_equal(cm, sk_confusion(gt[keep], pred[keep], labels=range(5)))


def test_per_image_reduction_is_mean_of_image_scores() -> None:
    gts, preds = random_masks(3, n=9, k=4)
    m = segmentation_metrics(zip(gts, preds, strict=True), 4, 255, "per_image")
    per_image = [reference([g], [p], 4, 255) for g, p in zip(gts, preds, strict=True)]
    for key in ("miou", "mdice", "mean_class_accuracy", "pixel_accuracy"):
        assert_close(m.__getattribute__(key), np.mean([r[key] for r in per_image]))
    # per class: mean over the images where that class is defined
    assert_close(m.iou, np.nanmean(np.vstack([r["iou"] for r in per_image]), axis=0))
    dataset = segmentation_metrics(zip(gts, preds, strict=True), 4, 255, "dataset")
    assert abs(dataset.miou - m.miou) > 1e-6  # the two reductions really differ here


def test_absent_classes_are_nan_and_left_out_of_the_mean() -> None:
    gt = np.array([[0, 0], [1, 1]], dtype=np.uint8)
    pred = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    m = segmentation_metrics([(gt, pred)], 4, None)
    # class 0: tp 1, fn 1 -> 1/2; class 1: tp 2, fp 1 -> 2/3; classes 2, 3: 0/0
    assert_close(m.iou[:2], [0.5, 2 / 3])
    assert math.isnan(m.iou[2]) and math.isnan(m.iou[3])
    assert_close(m.miou, (0.5 + 2 / 3) / 2)
    assert_close(m.dice[:2], [2 / 3, 0.8])
    assert_close(m.pixel_accuracy, 0.75)
    assert_close(m.mean_class_accuracy, (0.5 + 1.0) / 2)


def test_class_only_predicted_counts_as_zero() -> None:
    gt = np.zeros((2, 2), dtype=np.uint8)
    pred = np.array([[0, 0], [0, 2]], dtype=np.uint8)
    m = segmentation_metrics([(gt, pred)], 3, None)
    assert_close([m.iou[0], m.iou[2]], [0.75, 0.0])
    assert math.isnan(m.iou[1])
    assert_close(m.miou, 0.375)
    assert math.isnan(m.class_accuracy[2])  # no ground truth: recall undefined


def test_ignore_index_drops_pixels_whatever_the_prediction() -> None:
    gt = np.array([[0, 255], [1, 255]], dtype=np.uint8)
    pred_a = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    pred_b = np.array([[0, 0], [1, 1]], dtype=np.uint8)
    a = segmentation_metrics([(gt, pred_a)], 2, 255)
    b = segmentation_metrics([(gt, pred_b)], 2, 255)
    assert a.miou == b.miou == 1.0 and a.num_pixels == 2


def test_ignore_index_that_is_a_class_is_not_scored() -> None:
    gts, preds = random_masks(11, n=4, k=4, ignore=None)
    m = segmentation_metrics(zip(gts, preds, strict=True), 4, 0)
    ref = reference(gts, preds, 4, 0)
    assert math.isnan(m.iou[0])
    assert_close(m.iou[1:], ref["iou"][1:])
    assert_close(m.miou, np.nanmean(ref["iou"][1:]))


# ---------------------------------------------------------------- workspaces


def save_mask(path: Path, mask: NDArray[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(path)


def make_workspace(
    root: Path,
    gts: Masks,
    preds: Masks,
    k: int,
    params: dict[str, Any] | None = None,
) -> Path:
    images, pred_entries = [], []
    for i, (g, p) in enumerate(zip(gts, preds, strict=True)):
        h, w = g.shape
        images.append(
            {"id": i, "width": w, "height": h, "file_name": f"{i}.jpg", "mask_file": f"m/{i}.png"}
        )
        save_mask(root / "input" / "m" / f"{i}.png", g)
        save_mask(root / "output" / "m" / f"{i}.png", p)
        pred_entries.append({"image_id": i, "mask_file": f"m/{i}.png"})
    categories = [{"id": c, "name": f"c{c}"} for c in range(k)]
    (root / "input" / "gt.json").write_text(
        json.dumps({"images": images, "categories": categories})
    )
    (root / "output" / "pred.json").write_text(json.dumps(pred_entries))
    meta = {"job_id": "seg-1", "task_type": "segmentation", "scorer": "segmentation_miou"}
    meta["scorer_params"] = params or {}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    gts, preds = random_masks(5, n=4, k=5)
    return make_workspace(tmp_path, gts, preds, 5)


def test_score_writes_result_and_per_class_csv(tmp_path: Path) -> None:
    gts, preds = random_masks(21, n=6, k=5, absent=(3,))
    root = make_workspace(tmp_path, gts, preds, 5)
    result = score(root)
    ref = reference(gts, preds, 5, 255)
    assert_close(result.summary.score, ref["miou"])
    assert_close(result.metrics["mDice"], ref["mdice"])
    assert_close(result.metrics["pixel_accuracy"], ref["pixel_accuracy"])
    assert result.metrics["per_class_iou"]["c3"] is None
    assert_close(result.metrics["per_class_iou"]["c1"], ref["iou"][1])
    assert result.metadata.data_size == 6 and result.metadata.num_classes == 5
    assert result.summary.rank is not None and result.timing.data_loading > 0
    assert any("c3" in w for w in result.warnings)
    saved = json.loads((root / "output" / "result.json").read_text())
    assert saved["metrics"]["mIoU"] == result.metrics["mIoU"]
    with open(result.artifacts["per_class_iou"].path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["c0", "c1", "c2", "c3", "c4"]
    assert rows[3]["iou"] == "" and int(rows[3]["gt_pixels"]) == 0
    assert_close(float(rows[2]["iou"]), ref["iou"][2])


def test_per_image_param_through_score(ws: Path) -> None:
    dataset = score(ws, write=False).metrics["mIoU"]
    per_image = score(ws, params={"reduction": "per_image"}, write=False).metrics["mIoU"]
    assert dataset != per_image


def test_palette_16bit_and_void_copied_into_predictions(tmp_path: Path) -> None:
    gt = np.array([[0, 1, 255], [300, 300, 1]], dtype=np.uint16)
    pred = np.array([[0, 1, 255], [300, 2, 1]], dtype=np.uint16)
    root = make_workspace(tmp_path, [gt], [pred], 301)
    assert Image.open(root / "output" / "m" / "0.png").mode.startswith("I")
    result = score(root, write=False)
    assert result.metrics["num_pixels"] == 5  # the 255 pixel is void
    assert_close(result.metrics["per_class_iou"]["c300"], 0.5)


def test_palette_mask_values_are_indices(tmp_path: Path) -> None:
    gt = np.array([[0, 1], [2, 2]], dtype=np.uint8)
    root = make_workspace(tmp_path, [gt], [gt], 3)
    img = Image.fromarray(gt).convert("P")
    img.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    img.save(root / "output" / "m" / "0.png")
    assert Image.open(root / "output" / "m" / "0.png").mode == "P"
    assert score(root, write=False).metrics["mIoU"] == 1.0


def test_empty_prediction_list_scores_zero_with_warning(ws: Path) -> None:
    (ws / "output" / "pred.json").write_text("[]")
    result = score(ws)
    assert result.summary.score == 0.0 and result.metrics["pixel_accuracy"] == 0.0
    assert any("empty" in w for w in result.warnings)


# ---------------------------------------------------------------- bad input


def _edit_json(path: Path, fn: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(fn(json.loads(path.read_text()))))


def _pred_entry(ws: Path, **changes: Any) -> None:
    _edit_json(ws / "output" / "pred.json", lambda d: [{**d[0], **changes}, *d[1:]])


def _write_png(ws: Path, rel: str, arr: NDArray[Any], fmt: str = "PNG") -> None:
    Image.fromarray(arr).save(ws / rel, format=fmt)


BAD_INPUTS: dict[str, tuple[Callable[[Path], None], str, tuple[str, ...]]] = {
    "missing gt mask": (
        lambda ws: (ws / "input" / "m" / "1.png").unlink(),
        "MISSING_FILE",
        ("input/m/1.png", "image 1"),
    ),
    "missing pred mask": (
        lambda ws: (ws / "output" / "m" / "2.png").unlink(),
        "MISSING_FILE",
        ("output/m/2.png", "image 2"),
    ),
    "shape mismatch": (
        lambda ws: save_mask(ws / "output" / "m" / "0.png", np.zeros((3, 4), np.uint8)),
        "INVALID_VALUE",
        ("output/m/0.png", "image 0", "4x3"),
    ),
    "pred class out of range": (
        lambda ws: _set_pixel(ws, "output", 9),
        "INVALID_VALUE",
        ("output/m/0.png", "pixel value 9", "row 0, column 0"),
    ),
    "gt class out of range": (
        lambda ws: _set_pixel(ws, "input", 7),
        "INVALID_VALUE",
        ("input/m/0.png", "pixel value 7"),
    ),
    "unknown image id": (
        lambda ws: _pred_entry(ws, image_id=99),
        "UNKNOWN_ID",
        ("output/pred.json", "[0]", "99"),
    ),
    "missing image id": (
        lambda ws: _edit_json(ws / "output" / "pred.json", lambda d: d[:-1]),
        "MISSING_ID",
        ("output/pred.json", "1 image(s)", "3"),
    ),
    "duplicate image id": (
        lambda ws: _edit_json(ws / "output" / "pred.json", lambda d: [*d, d[1]]),
        "DUPLICATE_ID",
        ("output/pred.json", "[4]", "image_id 1"),
    ),
    "duplicate gt image id": (
        lambda ws: _edit_json(
            ws / "input" / "gt.json", lambda d: {**d, "images": [*d["images"], d["images"][0]]}
        ),
        "DUPLICATE_ID",
        ("input/gt.json", "images[4]"),
    ),
    "malformed pred json": (
        lambda ws: (ws / "output" / "pred.json").write_text('[{"image_id": 0,'),
        "PARSE_ERROR",
        ("output/pred.json", "line 1"),
    ),
    "malformed gt json": (
        lambda ws: (ws / "input" / "gt.json").write_text("{images: []}"),
        "PARSE_ERROR",
        ("input/gt.json",),
    ),
    "pred not a list": (
        lambda ws: (ws / "output" / "pred.json").write_text('{"image_id": 0}'),
        "INVALID_VALUE",
        ("output/pred.json", "must be a list"),
    ),
    "pred entry without mask_file": (
        lambda ws: _edit_json(ws / "output" / "pred.json", lambda d: [{"image_id": 0}, *d[1:]]),
        "MISSING_COLUMN",
        ("output/pred.json", "[0]", "mask_file"),
    ),
    "gt image without width": (
        lambda ws: _edit_json(
            ws / "input" / "gt.json",
            lambda d: {**d, "images": [_without(d["images"][0], "width"), *d["images"][1:]]},
        ),
        "MISSING_COLUMN",
        ("input/gt.json", "images[0]", "width"),
    ),
    "gt image with zero height": (
        lambda ws: _edit_json(
            ws / "input" / "gt.json",
            lambda d: {**d, "images": [{**d["images"][0], "height": 0}, *d["images"][1:]]},
        ),
        "INVALID_VALUE",
        ("input/gt.json", "images[0].height", "positive integer"),
    ),
    "path escapes the workspace": (
        lambda ws: _pred_entry(ws, mask_file="../../etc/passwd"),
        "INVALID_VALUE",
        ("output/pred.json", "image 0", "../../etc/passwd", "resolves outside output/"),
    ),
    "prediction points at the ground truth": (
        lambda ws: _pred_entry(ws, mask_file="../input/m/0.png"),
        "INVALID_VALUE",
        ("resolves outside output/",),
    ),
    "absolute mask path": (
        lambda ws: _pred_entry(ws, mask_file=str(ws / "input" / "m" / "0.png")),
        "INVALID_VALUE",
        ("resolves outside output/",),
    ),
    "symlink into the ground truth": (
        lambda ws: _symlink_pred_to_gt(ws),
        "INVALID_VALUE",
        ("resolves outside output/",),
    ),
    "rgb mask": (
        lambda ws: _recolour(ws),
        "INVALID_VALUE",
        ("output/m/0.png", "mode RGB"),
    ),
    "jpeg mask": (
        lambda ws: _write_png(ws, "output/m/0.png", _shape_zeros(ws), fmt="JPEG"),
        "INVALID_VALUE",
        ("output/m/0.png", "JPEG"),
    ),
    "corrupt png": (
        lambda ws: (ws / "output" / "m" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really"),
        "PARSE_ERROR",
        ("output/m/0.png", "image 0"),
    ),
    "empty pred file": (
        lambda ws: (ws / "output" / "pred.json").write_text(""),
        "EMPTY_FILE",
        ("output/pred.json",),
    ),
    "every pixel void": (
        lambda ws: _all_void(ws),
        "INVALID_VALUE",
        ("ignore_index=255",),
    ),
    "bad reduction": (
        lambda ws: _set_params(ws, reduction="median"),
        "INVALID_PARAMETER",
        ("reduction", "per_image"),
    ),
    "num_classes below the categories": (
        lambda ws: _set_params(ws, num_classes=2),
        "INVALID_PARAMETER",
        ("num_classes", "largest is 4"),
    ),
    "ignore_index of the wrong type": (
        lambda ws: _set_params(ws, ignore_index="void"),
        "INVALID_PARAMETER",
        ("ignore_index",),
    ),
}


def _without(entry: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != key}


def _gt_shape(ws: Path) -> tuple[int, int]:
    img = json.loads((ws / "input" / "gt.json").read_text())["images"][0]
    return img["height"], img["width"]


def _shape_zeros(ws: Path) -> NDArray[Any]:
    return np.zeros(_gt_shape(ws), np.uint8)


def _set_pixel(ws: Path, where: str, value: int) -> None:
    arr = np.array(Image.open(ws / where / "m" / "0.png"))
    arr[0, 0] = value
    save_mask(ws / where / "m" / "0.png", arr)
    if where == "output":  # make sure the gt pixel there is scored
        gt = np.array(Image.open(ws / "input" / "m" / "0.png"))
        gt[0, 0] = 0
        save_mask(ws / "input" / "m" / "0.png", gt)


def _recolour(ws: Path) -> None:
    Image.fromarray(np.zeros((*_gt_shape(ws), 3), np.uint8)).save(ws / "output" / "m" / "0.png")


def _symlink_pred_to_gt(ws: Path) -> None:
    link = ws / "output" / "m" / "0.png"
    link.unlink()
    link.symlink_to(ws / "input" / "m" / "0.png")


def _all_void(ws: Path) -> None:
    for p in (ws / "input" / "m").glob("*.png"):
        shape = np.array(Image.open(p)).shape
        save_mask(p, np.full(shape, 255, np.uint8))


def _set_params(ws: Path, **params: Any) -> None:
    _edit_json(ws / "meta.json", lambda d: {**d, "scorer_params": params})


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_clear_error_and_keeps_old_result(ws: Path, case: str) -> None:
    first = score(ws)  # a previous good run
    before = (ws / "output" / "result.json").read_bytes()
    artifacts_before = sorted(p.name for p in (ws / "output" / "artifacts").iterdir())
    breaker, code, fragments = BAD_INPUTS[case]
    breaker(ws)
    with pytest.raises(AutoScorerError) as info:
        score(ws)
    err = info.value
    assert err.code == code, err.message
    for fragment in fragments:
        assert fragment in err.message, (fragment, err.message)
    assert (ws / "output" / "result.json").read_bytes() == before
    assert sorted(p.name for p in (ws / "output" / "artifacts").iterdir()) == artifacts_before
    assert not list((ws / "output").glob(".artifacts-*"))
    assert first.summary.score is not None


def test_mask_above_the_size_limit(ws: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    big = ws / "output" / "m" / "0.png"
    info = PngInfo()
    info.add_text("padding", "x" * 200_000)  # a valid PNG, just a large one
    Image.open(big).save(big, pnginfo=info)
    with pytest.raises(AutoScorerError) as err:
        score(ws, max_file_bytes=100_000)
    assert err.value.code == "FILE_TOO_LARGE"
    assert err.value.message.startswith("m/0.png is ")


def test_scorer_metadata() -> None:
    cls = get_scorer("segmentation_miou")
    info = cls.describe()
    assert info["output_format"]["primary_metric"] == "mIoU"
    assert info["parameters"]["reduction"]["choices"] == ["dataset", "per_image"]
    assert info["parameters"]["ignore_index"]["default"] == 255
    assert info["input_format"]["gt_file"] == "input/gt.json"
