"""detection_map: equals pycocotools on seeded random data; every bad input through score()."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.functional.coco_match import iou_xywh
from autoscorer.scorers.registry import get_scorer

TOL = 1e-9
Doc = dict[str, Any]


# ------------------------------------------------------------------ data and reference


def random_coco(seed: int, n_images: int, n_cats: int = 6) -> tuple[Doc, list[Doc]]:
    """Ground truth and detections on a coarse integer grid.

    The grid makes IoU ties, duplicate boxes and exact threshold hits common;
    scores come from five values (ties within and across images); 15% crowd
    boxes; ``area`` fields spread over small/medium/large and unrelated to the
    box. Category ``n_cats + 1`` has ground truth but no detections, ``n_cats + 2``
    has detections but no ground truth; some images have no boxes at all.
    """
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(1, n_images + 1) * 7)
    images = [{"id": int(i), "width": 40, "height": 40} for i in ids]
    anns: list[Doc] = []
    preds: list[Doc] = []

    def box(min_side: int) -> list[float]:
        x, y = rng.integers(0, 20, 2)
        w, h = rng.integers(min_side, 12, 2)
        return [float(x), float(y), float(w), float(h)]

    for im in images:
        for _ in range(rng.integers(0, 7)):
            b = box(1)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": int(rng.integers(1, n_cats + 2)),
                    "bbox": b,
                    "area": float(b[2] * b[3] * rng.choice([0.5, 1, 40, 150])),
                    "iscrowd": int(rng.random() < 0.15),
                    # pycocotools overwrites a GT 'ignore' field with iscrowd
                    "ignore": int(rng.random() < 0.3),
                }
            )
        for _ in range(rng.integers(0, 20)):
            cat = int(rng.integers(1, n_cats + 1))
            cat = n_cats + 2 if rng.random() < 0.05 else cat
            score = float(rng.choice([0.1, 0.25, 0.5, 0.75, 0.9]))
            preds.append({"image_id": im["id"], "category_id": cat, "bbox": box(0), "score": score})
    order = rng.permutation(len(preds))
    categories = [{"id": c, "name": f"cat{c}"} for c in range(n_cats + 2, 0, -1)]
    gt = {"images": images, "annotations": anns, "categories": categories}
    return gt, [preds[i] for i in order]


def reference(gt: Doc, preds: list[Doc], params: Doc | None = None) -> COCOeval:
    """pycocotools, with the same parameters as the scorer's."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(gt))
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(json.loads(json.dumps(preds))), "bbox")
        params = params or {}
        if "iou_thresholds" in params:
            ev.params.iouThrs = np.array(params["iou_thresholds"], dtype=float)
        if "max_dets" in params:
            ev.params.maxDets = list(params["max_dets"])
        if "area_ranges" in params:
            ev.params.areaRngLbl = list(params["area_ranges"])
            ev.params.areaRng = [list(v) for v in params["area_ranges"].values()]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def make_workspace(
    root: Path, gt: Any, preds: Any, params: Doc | None = None, *, raw_pred: bytes | None = None
) -> Path:
    (root / "input").mkdir(parents=True)
    (root / "output").mkdir()
    meta: Doc = {"job_id": "det-test", "task_type": "detection", "scorer": "detection_map"}
    meta["scorer_params"] = params or {}
    (root / "meta.json").write_text(json.dumps(meta))
    (root / "input" / "gt.json").write_text(json.dumps(gt))
    pred_path = root / "output" / "pred.json"
    pred_path.write_bytes(raw_pred if raw_pred is not None else json.dumps(preds).encode())
    return root


def as_stats(values: list[float | None]) -> np.ndarray:
    return np.array([-1.0 if v is None else v for v in values])


def check_against_reference(ws: Path, gt: Doc, preds: list[Doc], params: Doc | None = None) -> Doc:
    """score() equals pycocotools on all 12 stats and on every category's AP."""
    metrics = score(ws).metrics
    ev = reference(gt, preds, params)
    np.testing.assert_allclose(as_stats(metrics["coco_stats"]), ev.stats, rtol=0, atol=TOL)
    prec = ev.eval["precision"][:, :, :, 0, -1]
    names = [f"cat{c}" for c in sorted(c["id"] for c in gt["categories"])]
    for k, name in enumerate(names):
        valid = prec[:, :, k][prec[:, :, k] > -1]
        expected = float(np.mean(valid)) if valid.size else None
        got = metrics["per_category_AP"][name]
        assert (got is None) == (expected is None), name
        if expected is not None:
            assert abs(got - expected) <= TOL, name
    return metrics


# ------------------------------------------------------------------ exactness


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_pycocotools_default_params(tmp_path: Path, seed: int) -> None:
    gt, preds = random_coco(seed, 150)
    metrics = check_against_reference(make_workspace(tmp_path, gt, preds), gt, preds)
    assert metrics["mAP"] == metrics["coco_stats"][0]
    assert metrics["per_category_AP"]["cat8"] is None  # detections but no ground truth
    assert metrics["per_category_AP"]["cat7"] == 0.0  # ground truth but no detections


def test_equals_pycocotools_on_thousands_of_images(tmp_path: Path) -> None:
    gt, preds = random_coco(42, 2500)
    assert sum(a["iscrowd"] for a in gt["annotations"]) > 500
    check_against_reference(make_workspace(tmp_path, gt, preds), gt, preds)


@pytest.mark.parametrize(
    "params",
    [
        {"iou_thresholds": [0.0, 0.3, 0.5, 0.75, 1.0]},
        {"max_dets": [1, 3, 100]},
        {
            "area_ranges": {
                "all": [0, 1e10],
                "small": [0, 20],
                "medium": [20, 300],
                "large": [300, 1e10],
            }
        },
    ],
    ids=["iou", "max_dets", "areas"],
)
def test_equals_pycocotools_custom_params(tmp_path: Path, params: Doc) -> None:
    gt, preds = random_coco(7, 200)
    check_against_reference(make_workspace(tmp_path, gt, preds, params), gt, preds, params)


def test_small_max_dets_match_pycocotools_arrays(tmp_path: Path) -> None:
    """With max_dets (2, 5, 7) pycocotools' stats[0] looks for maxDets=100 literally and
    reports -1; we report AP at the largest max_dets, which equals its precision array."""
    params = {"max_dets": [2, 5, 7]}
    gt, preds = random_coco(3, 200)
    metrics = score(make_workspace(tmp_path, gt, preds, params)).metrics
    ev = reference(gt, preds, params)
    np.testing.assert_allclose(as_stats(metrics["coco_stats"])[1:], ev.stats[1:], atol=TOL)
    prec = ev.eval["precision"][:, :, :, 0, -1]
    assert abs(metrics["mAP"] - float(np.mean(prec[prec > -1]))) <= TOL
    assert set(metrics) >= {"AR@2", "AR@5", "AR@7"}


def test_iou_bit_identical_to_pycocotools() -> None:
    rng = np.random.default_rng(5)
    det = np.round(rng.uniform(0, 50, (400, 4)), 3)
    gt = np.round(rng.uniform(0, 50, (30, 4)), 3)
    crowd = rng.random(30) < 0.3
    from pycocotools import mask as mask_utils

    expected = mask_utils.iou(det.tolist(), gt.tolist(), crowd.astype(np.uint8).tolist())
    d_idx, g_idx = np.meshgrid(np.arange(400), np.arange(30), indexing="ij")
    got = iou_xywh(det[d_idx.ravel()], gt[g_idx.ravel()], crowd[g_idx.ravel()]).reshape(400, 30)
    assert np.array_equal(got, expected)


def test_empty_predictions_score_zero_with_warning(tmp_path: Path) -> None:
    gt, _ = random_coco(0, 50)
    result = score(make_workspace(tmp_path, gt, []))
    assert result.summary.score == 0.0
    assert result.metrics["AR@100"] == 0.0 and result.metrics["AP50"] == 0.0
    assert result.metrics["per_category_AP"]["cat8"] is None
    assert any("empty list" in w for w in result.warnings)


def test_result_metadata_and_artifacts(tmp_path: Path) -> None:
    gt, preds = random_coco(1, 80)
    result = score(make_workspace(tmp_path, gt, preds))
    assert result.metadata.data_size == 80 and result.metadata.num_classes == 8
    assert result.summary.rank is not None and result.versioning.scorer == "detection_map"
    csv_text = Path(result.artifacts["per_category_ap"].path).read_text()
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    by_name = {r["name"]: r for r in rows}
    for name, ap in result.metrics["per_category_AP"].items():
        assert (by_name[name]["AP"] == "") == (ap is None)
        if ap is not None:
            assert math.isclose(float(by_name[name]["AP"]), ap, abs_tol=TOL)
    curves = json.loads(Path(result.artifacts["pr_curves"].path).read_text())
    assert len(curves["recall_thresholds"]) == 101 and "cat8" not in curves["categories"]
    assert any("no non-crowd ground truth" in w for w in result.warnings)


def test_missing_area_falls_back_to_box_area(tmp_path: Path) -> None:
    gt, preds = random_coco(2, 60)
    for a in gt["annotations"]:
        a["area"] = a["bbox"][2] * a["bbox"][3]
    expected = score(make_workspace(tmp_path / "a", gt, preds)).metrics["coco_stats"]
    for a in gt["annotations"]:
        del a["area"]
    result = score(make_workspace(tmp_path / "b", gt, preds))
    assert result.metrics["coco_stats"] == expected
    assert any("no 'area'" in w for w in result.warnings)


def test_describe_metadata() -> None:
    info = get_scorer("detection_map").describe()
    assert info["output_format"]["primary_metric"] == "mAP"
    assert info["output_format"]["higher_is_better"] is True
    assert info["input_format"]["gt_file"] == "input/gt.json"
    assert info["parameters"]["max_dets"]["default"] == [1, 10, 100]
    assert info["parameters"]["area_ranges"]["default"]["all"] == [0, 1e10]
    assert len(info["parameters"]["iou_thresholds"]["default"]) == 10
    assert info["supported_formats"] == ["json"] and info["examples"]


# ------------------------------------------------------------------ bad input

GOOD_GT: Doc = {
    "images": [{"id": 1}, {"id": 2}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100},
        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 10], "area": 100},
    ],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
}


def _pred(**overrides: Any) -> list[Doc]:
    good = {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}
    return [dict(good), dict(good), {**good, **overrides}]


def _without(key: str) -> list[Doc]:
    preds = _pred()
    del preds[2][key]
    return preds


BAD_PREDS = [
    ("negative width", _pred(bbox=[0, 0, -3, 10]), "INVALID_VALUE", "[2].bbox"),
    ("negative height", _pred(bbox=[0, 0, 3, -1]), "INVALID_VALUE", "[2].bbox"),
    ("three numbers", _pred(bbox=[0, 0, 3]), "INVALID_VALUE", "[2].bbox"),
    ("string in bbox", _pred(bbox=[0, "0", 3, 3]), "INVALID_VALUE", "[2].bbox"),
    ("string score", _pred(score="high"), "INVALID_VALUE", "[2].score"),
    ("bool image id", _pred(image_id=True), "INVALID_VALUE", "[2].image_id"),
    ("unknown image", _pred(image_id=99), "UNKNOWN_ID", "[2].image_id"),
    ("unknown category", _pred(category_id=7), "UNKNOWN_ID", "[2].category_id"),
    ("huge image id", _pred(image_id=2**70), "INVALID_VALUE", "[2].image_id"),
    ("missing score", _without("score"), "MISSING_COLUMN", "[2]"),
    ("missing bbox", _without("bbox"), "MISSING_COLUMN", "[2]"),
    ("entry not an object", [*_pred()[:2], [1, 1, 0.5]], "INVALID_VALUE", "[2]"),
    ("not a list", {"annotations": _pred()}, "INVALID_VALUE", "top level"),
]


def _assert_fails_cleanly(ws: Path, code: str, *needles: str) -> AutoScorerError:
    result_path = ws / "output" / "result.json"
    result_path.write_text('{"previous": true}')
    with pytest.raises(AutoScorerError) as info:
        score(ws)
    err = info.value
    assert err.code == code, err.message
    for needle in needles:
        assert needle in err.message, err.message
    assert result_path.read_text() == '{"previous": true}'
    assert not (ws / "output" / "artifacts").exists()
    return err


@pytest.mark.parametrize(
    ("preds", "code", "where"), [c[1:] for c in BAD_PREDS], ids=[c[0] for c in BAD_PREDS]
)
def test_bad_predictions(tmp_path: Path, preds: Any, code: str, where: str) -> None:
    err = _assert_fails_cleanly(
        make_workspace(tmp_path, GOOD_GT, preds), code, "output/pred.json", where
    )
    assert err.details["file"] == "output/pred.json"


@pytest.mark.parametrize(
    ("raw", "code", "needle"),
    [
        (
            b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},',
            "PARSE_ERROR",
            "line 1",
        ),
        (
            b'[{"image_id": 1, "category_id": 1, "bbox": [0, NaN, 1, 1], "score": 0.5}]',
            "INVALID_VALUE",
            "[0].bbox",
        ),
        (
            b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": Infinity}]',
            "INVALID_VALUE",
            "[0].score",
        ),
        (b"", "EMPTY_FILE", "output/pred.json"),
    ],
    ids=["truncated", "nan", "inf", "empty file"],
)
def test_bad_prediction_files(tmp_path: Path, raw: bytes, code: str, needle: str) -> None:
    ws = make_workspace(tmp_path, GOOD_GT, None, raw_pred=raw)
    _assert_fails_cleanly(ws, code, "output/pred.json", needle)


def test_missing_prediction_file(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, GOOD_GT, [])
    (ws / "output" / "pred.json").unlink()
    _assert_fails_cleanly(ws, "MISSING_FILE", "output/pred.json")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    raw = "\ufeff".encode() + json.dumps(_pred()).encode()
    assert score(make_workspace(tmp_path, GOOD_GT, None, raw_pred=raw)).metrics["AP50"] is not None


def _gt_with(change: Any) -> Doc:
    gt = json.loads(json.dumps(GOOD_GT))
    change(gt)
    return gt


BAD_GT = [
    (
        "no annotations key",
        _gt_with(lambda g: g.pop("annotations")),
        "MISSING_COLUMN",
        "annotations",
    ),
    (
        "no annotations",
        _gt_with(lambda g: g.update(annotations=[])),
        "INVALID_VALUE",
        "annotations",
    ),
    (
        "duplicate image",
        _gt_with(lambda g: g["images"].append({"id": 1})),
        "DUPLICATE_ID",
        "images[2]",
    ),
    (
        "duplicate category",
        _gt_with(lambda g: g["categories"].append({"id": 2})),
        "DUPLICATE_ID",
        "categories[2]",
    ),
    (
        "negative box",
        _gt_with(lambda g: g["annotations"][1].update(bbox=[0, 0, 1, -2])),
        "INVALID_VALUE",
        "annotations[1].bbox",
    ),
    (
        "bad crowd",
        _gt_with(lambda g: g["annotations"][0].update(iscrowd=2)),
        "INVALID_VALUE",
        "annotations[0].iscrowd",
    ),
    (
        "string area",
        _gt_with(lambda g: g["annotations"][1].update(area="big")),
        "INVALID_VALUE",
        "annotations[1].area",
    ),
    (
        "unknown image",
        _gt_with(lambda g: g["annotations"][1].update(image_id=5)),
        "UNKNOWN_ID",
        "annotations[1].image_id",
    ),
    (
        "unknown category",
        _gt_with(lambda g: g["annotations"][0].update(category_id=9)),
        "UNKNOWN_ID",
        "annotations[0].category_id",
    ),
    (
        "only crowd",
        _gt_with(lambda g: [a.update(iscrowd=1) for a in g["annotations"]]),
        "INVALID_VALUE",
        "nothing to score",
    ),
    ("not an object", [1, 2], "INVALID_VALUE", "top level"),
]


@pytest.mark.parametrize(
    ("gt", "code", "where"), [c[1:] for c in BAD_GT], ids=[c[0] for c in BAD_GT]
)
def test_bad_ground_truth(tmp_path: Path, gt: Any, code: str, where: str) -> None:
    _assert_fails_cleanly(make_workspace(tmp_path, gt, _pred()[:2]), code, "input/gt.json", where)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"iou_thresholds": [0.5, 1.5]}, "iou_thresholds"),
        ({"iou_thresholds": []}, "iou_thresholds"),
        ({"iou_thresholds": "0.5"}, "iou_thresholds"),
        ({"max_dets": [0, 10]}, "max_dets"),
        ({"max_dets": [1.5]}, "max_dets"),
        ({"area_ranges": {"small": [0, 1024]}}, "area_ranges"),
        ({"area_ranges": {"all": [10, 1]}}, "area_ranges"),
        ({"area_ranges": {"all": [0, "big"]}}, "area_ranges"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_params(tmp_path: Path, params: Doc, field: str) -> None:
    ws = make_workspace(tmp_path, GOOD_GT, _pred()[:2], params)
    err = _assert_fails_cleanly(ws, "INVALID_PARAMETER", field)
    assert err.field == field


def test_annotation_id_zero_counts_as_a_match(tmp_path: Path) -> None:
    """pycocotools records matches by annotation id, so a match with id 0 counts as a false
    positive there; annotation ids play no part here (documented deviation)."""
    gt = _gt_with(lambda g: [a.update(id=i, iscrowd=0) for i, a in enumerate(g["annotations"])])
    preds = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 2, "category_id": 2, "bbox": [5, 5, 10, 10], "score": 0.8},
    ]
    per_category = score(make_workspace(tmp_path, gt, preds)).metrics["per_category_AP"]
    assert per_category == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}
    prec = reference(gt, preds).eval["precision"][:, :, :, 0, -1]
    assert prec[:, :, 0].max() == 0.0 and prec[:, :, 1].min() == pytest.approx(1.0)


@pytest.mark.parametrize("order", ["A-B", "B-A"])
def test_iou_tie_goes_to_the_later_ground_truth(tmp_path: Path, order: str) -> None:
    """The first detection has IoU 0.5 with both boxes; pycocotools gives it the later one.

    The second detection overlaps only B, so it is a TP only when the first took A.
    """
    boxes = {"A": [0, 0, 10, 20], "B": [0, 0, 20, 10]}
    anns = [
        {"id": i + 1, "image_id": 1, "category_id": 1, "bbox": boxes[name], "area": 200.0}
        for i, name in enumerate(order.split("-"))
    ]
    gt = {"images": [{"id": 1}], "annotations": anns, "categories": [{"id": 1, "name": "cat1"}]}
    for a in anns:
        a["iscrowd"] = 0
    preds = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [10, 0, 10, 10], "score": 0.8},
    ]
    metrics = check_against_reference(make_workspace(tmp_path, gt, preds), gt, preds)
    assert metrics["AR@100"] == pytest.approx(0.05 if order == "A-B" else 0.1)
