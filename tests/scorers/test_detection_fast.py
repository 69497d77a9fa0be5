"""The msgspec reader of ``pred.json`` gives exactly the general reader's arrays, or steps aside.

Every case is read both ways: where the fast reader answers, its columns must be equal
(same ids, same float64 boxes and scores, bit for bit); where the input is odd it must
answer None so that the general reader produces the detailed error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.scorers.builtin._detection_data import load_detections, load_ground_truth
from autoscorer.scorers.builtin._detection_fast import fast_detections

from .test_detection import random_coco

LIMIT = 1 << 30


def _read_both(tmp_path: Path, gt: Any, raw: bytes, encoding: str = "utf-8") -> tuple[Any, Any]:
    (tmp_path / "input").mkdir(exist_ok=True)
    (tmp_path / "output").mkdir(exist_ok=True)
    (tmp_path / "input" / "gt.json").write_text(json.dumps(gt))
    pred = tmp_path / "output" / "pred.json"
    pred.write_bytes(raw)
    truth = load_ground_truth(tmp_path / "input" / "gt.json", LIMIT, "utf-8")
    fast = fast_detections(pred, LIMIT, encoding, truth)
    try:
        general = load_detections(pred, LIMIT, encoding, truth)
    except AutoScorerError as exc:
        general = exc
    return fast, general


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fast_reader_equals_the_general_reader(tmp_path: Path, seed: int) -> None:
    gt, preds = random_coco(seed, n_images=40)
    rng = np.random.default_rng(seed)
    for p in preds:  # integers and long decimals in boxes, extra keys, exponents
        p["bbox"] = [int(v) if rng.random() < 0.3 else v + rng.random() for v in p["bbox"]]
        p["score"] = float(rng.random()) * 10 ** int(rng.integers(-8, 3))
        p["extra"] = {"nested": [1, 2]}
    fast, general = _read_both(tmp_path, gt, json.dumps(preds).encode())
    assert fast is not None
    for name in ("image", "category", "box", "score"):
        a, b = getattr(fast, name), getattr(general, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


ENTRY = '{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}'
ODD = {
    "bool id": ENTRY.replace('"image_id": 1', '"image_id": true'),
    "float id": ENTRY.replace('"image_id": 1', '"image_id": 1.0'),
    "huge id": ENTRY.replace('"image_id": 1', '"image_id": 99999999999999999999'),
    "unknown image": ENTRY.replace('"image_id": 1', '"image_id": 5'),
    "unknown category": ENTRY.replace('"category_id": 1', '"category_id": 9'),
    "string score": ENTRY.replace("0.5", '"0.5"'),
    "NaN score": ENTRY.replace("0.5", "NaN"),
    "overflowing score": ENTRY.replace("0.5", "1e400"),
    "3 numbers": ENTRY.replace("[0, 0, 1, 1]", "[0, 0, 1]"),
    "negative width": ENTRY.replace("[0, 0, 1, 1]", "[0, 0, -1, 1]"),
    "missing score": ENTRY.replace(', "score": 0.5', ""),
}


@pytest.mark.parametrize("case", sorted(ODD))
def test_fast_reader_steps_aside_on_odd_input(tmp_path: Path, case: str) -> None:
    gt = {
        "images": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
        "categories": [{"id": 1, "name": "a"}],
    }
    fast, general = _read_both(tmp_path, gt, f"[{ENTRY}, {ODD[case]}]".encode())
    assert fast is None
    assert isinstance(general, AutoScorerError) and "[1]" in general.message


def test_bom_and_other_encodings_go_to_the_general_reader(tmp_path: Path) -> None:
    gt = {
        "images": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}],
        "categories": [{"id": 1, "name": "a"}],
    }
    fast, general = _read_both(tmp_path, gt, b"\xef\xbb\xbf[" + ENTRY.encode() + b"]")
    assert fast is None and len(general.score) == 1
    fast, general = _read_both(tmp_path, gt, f"[{ENTRY}]".encode("utf-16"), encoding="utf-16")
    assert fast is None and len(general.score) == 1
