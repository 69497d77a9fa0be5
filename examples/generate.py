#!/usr/bin/env python3
"""Regenerate the example workspaces (seeded, byte-for-byte reproducible).

    python3 examples/generate.py            # rewrites examples/*/{meta.json,input,output}
    python3 examples/generate.py --out DIR  # writes them under DIR instead

Each example is a small, realistic score-only workspace for one built-in scorer.
The READMEs are written by hand and are not touched.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_records(path: Path, data: list[Any] | dict[str, Any]) -> None:
    """JSON with one record per line: diff-friendly and still easy to read."""

    def records(items: list[Any], indent: str) -> str:
        lines = ",\n".join(f"{indent}  {json.dumps(x, ensure_ascii=False)}" for x in items)
        return f"[\n{lines}\n{indent}]"

    if isinstance(data, list):
        text = records(data, "")
    else:
        parts = [
            f"  {json.dumps(k)}: {records(v, '  ') if isinstance(v, list) else json.dumps(v)}"
            for k, v in data.items()
        ]
        text = "{\n" + ",\n".join(parts) + "\n}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


FORMATS = {
    "csv": {"input_format": "csv", "output_format": "csv", "encoding": "utf-8", "has_header": True},
    "json": {"input_format": "json", "output_format": "json", "encoding": "utf-8"},
}


def write_meta(
    root: Path,
    task: str,
    scorer: str,
    description: str,
    fmt: str,
    params: dict[str, Any],
    **extra: Any,
) -> None:
    """``meta.json`` of a score-only workspace (no ``container``: predictions are present)."""
    meta = {
        "job_id": f"example-{root.name}",
        "task_type": task,
        "scorer": scorer,
        "version": "1.0",
        "description": description,
        "time_limit": 600,
        "resources": {"cpu": 1.0, "memory": "1Gi", "gpus": 0},
        "data": FORMATS[fmt],
        "scorer_params": params,
        **extra,
    }
    write_json(root / "meta.json", meta)


def label_rows(ids: list[Any], values: list[Any]) -> list[list[Any]]:
    return [[i, v] for i, v in zip(ids, values, strict=True)]


def softmax_predictions(
    rng: np.random.Generator, truth: np.ndarray, k: int, signal: float
) -> np.ndarray:
    """Class probabilities of a model that is right more often the larger ``signal`` is."""
    logits = rng.normal(size=(truth.size, k))
    logits[np.arange(truth.size), truth] += signal
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def probability_rows(
    ids: list[Any], probs: np.ndarray, labels: list[str], order: np.ndarray
) -> list[list[Any]]:
    """``id,label,prob_...`` rows, in ``order`` (submissions rarely keep the gt order)."""
    rows = []
    for i in order:
        label = labels[int(np.argmax(probs[i]))]
        rows.append([ids[i], label, *(f"{p:.6f}" for p in probs[i])])
    return rows


def classification(root: Path) -> None:
    rng = np.random.default_rng(20240801)
    labels = ["cat", "dog", "bird", "rabbit"]
    n = 240
    truth = rng.choice(len(labels), size=n, p=[0.4, 0.3, 0.2, 0.1])
    ids = [f"img_{i:04d}" for i in range(1, n + 1)]
    probs = softmax_predictions(rng, truth, len(labels), signal=2.4)
    write_csv(root / "input/gt.csv", ["id", "label"], label_rows(ids, [labels[t] for t in truth]))
    header = ["id", "label", *(f"prob_{c}" for c in labels)]
    rows = probability_rows(ids, probs, labels, rng.permutation(n))
    write_csv(root / "output/pred.csv", header, rows)
    description = "Pet photo classification (4 classes, imbalanced): macro F1"
    params = {"average": "macro", "zero_division": 0}
    write_meta(root, "classification", "classification_f1", description, "csv", params)


def classification_accuracy(root: Path) -> None:
    rng = np.random.default_rng(20240802)
    labels = ["airplane", "automobile", "bird", "cat", "deer"]
    labels += ["dog", "frog", "horse", "ship", "truck"]
    n = 500
    truth = rng.integers(0, len(labels), size=n)
    probs = softmax_predictions(rng, truth, len(labels), signal=1.6)
    ids = list(range(1, n + 1))
    write_csv(root / "input/gt.csv", ["id", "label"], label_rows(ids, [labels[t] for t in truth]))
    header = ["id", "label", *(f"prob_{c}" for c in labels)]
    write_csv(root / "output/pred.csv", header, probability_rows(ids, probs, labels, np.arange(n)))
    description = "CIFAR-10-style image classification: top-1 and top-3 accuracy"
    write_meta(root, "classification", "classification_accuracy", description, "csv", {"top_k": 3})


def regression(root: Path) -> None:
    rng = np.random.default_rng(20240803)
    n = 300
    area = rng.uniform(25, 140, size=n)  # m²
    rent = 350 + 14.5 * area + rng.normal(0, 90, size=n)
    predicted = rent + rng.normal(0, 110, size=n) + 0.8 * (area - 80)  # a biased model
    ids = [f"apt-{i:05d}" for i in range(1, n + 1)]
    write_csv(root / "input/gt.csv", ["id", "value"], label_rows(ids, [f"{v:.2f}" for v in rent]))
    order = rng.permutation(n)
    rows = [[ids[i], f"{predicted[i]:.2f}"] for i in order]
    write_csv(root / "output/pred.csv", ["id", "value"], rows)
    description = "Monthly apartment rent (EUR) from listing data: RMSE, lower is better"
    # RMSE has no natural scale: the host sets maximum RMSE (EUR) per rank
    thresholds = {"S": 60, "A": 90, "B": 120, "C": 160, "D": 200, "pass": 150}
    write_meta(root, "regression", "regression_rmse", description, "csv", {}, thresholds=thresholds)


DET_CATEGORIES = [
    {"id": 1, "name": "person", "supercategory": "human"},
    {"id": 2, "name": "car", "supercategory": "vehicle"},
    {"id": 3, "name": "dog", "supercategory": "animal"},
]
WIDTH, HEIGHT = 640, 480


def _random_box(rng: np.random.Generator) -> list[float]:
    # log-uniform sizes so small (< 32²), medium and large COCO objects all occur
    w, h = np.exp(rng.uniform(np.log(12), np.log(240), size=2))
    x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
    return [round(float(v), 1) for v in (x, y, w, h)]


def _detection(category: int, box: list[float], score: float) -> dict[str, Any]:
    return {"category_id": category, "bbox": box, "score": round(score, 3)}


def _detections_for(rng: np.random.Generator, ann: dict[str, Any]) -> list[dict[str, Any]]:
    """A hit with a jittered box (85%), sometimes with the wrong class, plus background noise."""
    out = []
    if rng.random() < 0.85:
        x, y, w, h = ann["bbox"]
        dx, dy, dw, dh = rng.normal(0, 0.06, size=4) * [w, h, w, h]
        box = [round(float(v), 1) for v in (x + dx, y + dy, w + dw, h + dh)]
        category = ann["category_id"] if rng.random() < 0.9 else int(rng.integers(1, 4))
        out.append(_detection(category, box, float(rng.uniform(0.45, 0.99))))
    if rng.random() < 0.3:
        box = _random_box(rng)
        out.append(_detection(int(rng.integers(1, 4)), box, float(rng.uniform(0.05, 0.5))))
    return [{"image_id": ann["image_id"], **d} for d in out]


def _annotations(rng: np.random.Generator, image_id: int, first_id: int) -> list[dict[str, Any]]:
    """1-5 objects; the first object of image 3 is a crowd region."""
    anns = []
    for n in range(int(rng.integers(1, 6))):
        box = _random_box(rng)
        anns.append({
            "id": first_id + n, "image_id": image_id, "category_id": int(rng.integers(1, 4)),
            "bbox": box, "area": round(box[2] * box[3], 2),
            "iscrowd": int(image_id == 3 and n == 0),
        })  # fmt: skip
    return anns


def detection(root: Path) -> None:
    rng = np.random.default_rng(20240804)
    images, annotations, predictions = [], [], []
    for image_id in range(1, 9):
        name = f"street_{image_id:03d}.jpg"
        images.append({"id": image_id, "width": WIDTH, "height": HEIGHT, "file_name": name})
        for ann in _annotations(rng, image_id, len(annotations) + 1):
            annotations.append(ann)
            predictions += [] if ann["iscrowd"] else _detections_for(rng, ann)
    gt = {"info": {"description": "AutoScorer detection example"}, "images": images}
    gt |= {"annotations": annotations, "categories": DET_CATEGORIES}
    write_records(root / "input/gt.json", gt)
    write_records(root / "output/pred.json", predictions)
    description = "Street-scene object detection (person, car, dog): COCO mAP@[.5:.95]"
    params = {"max_dets": [1, 10, 100]}
    write_meta(root, "detection", "detection_map", description, "json", params)


SEG_CATEGORIES = [
    {"id": 0, "name": "background"},
    {"id": 1, "name": "road"},
    {"id": 2, "name": "car"},
    {"id": 3, "name": "person"},
]
VOID = 255


def _scene(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Road below a horizon, a few cars on it, people beside; void around the cars."""
    mask = np.zeros((height, width), dtype=np.uint8)
    horizon = int(rng.integers(height // 3, height // 2))
    mask[horizon:, :] = 1
    for _ in range(int(rng.integers(1, 4))):
        h, w = int(rng.integers(6, 12)), int(rng.integers(10, 20))
        y, x = int(rng.integers(horizon, height - h)), int(rng.integers(0, width - w))
        mask[max(y - 1, 0) : y + h + 1, max(x - 1, 0) : x + w + 1] = VOID
        mask[y : y + h, x : x + w] = 2
    for _ in range(int(rng.integers(0, 3))):
        h, w = int(rng.integers(8, 14)), int(rng.integers(3, 6))
        y, x = int(rng.integers(horizon - h // 2, height - h)), int(rng.integers(0, width - w))
        mask[y : y + h, x : x + w] = 3
    return mask


def _predict(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    """A decent model: objects shifted by a pixel or two, void filled, some blobs wrong."""
    pred = np.roll(gt, shift=(int(rng.integers(-1, 2)), int(rng.integers(-2, 3))), axis=(0, 1))
    pred[pred == VOID] = 1
    for _ in range(3):
        y, x = int(rng.integers(0, gt.shape[0] - 6)), int(rng.integers(0, gt.shape[1] - 6))
        pred[y : y + 6, x : x + 6] = rng.integers(0, 4)
    return pred.astype(np.uint8)


def segmentation(root: Path) -> None:
    rng = np.random.default_rng(20240805)
    images, predictions = [], []
    for image_id in range(1, 7):
        height, width, name = 48, 64, f"frame_{image_id:04d}"
        mask_file = f"masks/{name}.png"
        gt = _scene(rng, height, width)
        Image.fromarray(gt).save(_mkdir(root / "input/masks") / f"{name}.png")
        Image.fromarray(_predict(rng, gt)).save(_mkdir(root / "output/masks") / f"{name}.png")
        images.append({"id": image_id, "width": width, "height": height,
                       "file_name": f"{name}.jpg", "mask_file": mask_file})  # fmt: skip
        predictions.append({"image_id": image_id, "mask_file": mask_file})
    write_records(root / "input/gt.json", {"images": images, "categories": SEG_CATEGORIES})
    write_records(root / "output/pred.json", predictions)
    description = "Street-scene semantic segmentation (4 classes, void 255): dataset mIoU"
    params = {"ignore_index": VOID, "reduction": "dataset"}
    write_meta(root, "segmentation", "segmentation_miou", description, "json", params)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


EXAMPLES: dict[str, Callable[[Path], None]] = {
    "classification": classification,
    "classification-accuracy": classification_accuracy,
    "regression": regression,
    "detection": detection,
    "segmentation": segmentation,
}


def generate(out: Path) -> list[Path]:
    """Write every example under ``out``; stale data (and old results) are removed first."""
    written = []
    for name, build in EXAMPLES.items():
        root = out / name
        for sub in ("input", "output"):
            shutil.rmtree(root / sub, ignore_errors=True)
        build(root)
        _mkdir(root / "logs").joinpath(".gitkeep").touch()
        written.append(root)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where to write (default: examples/)"
    )
    args = parser.parse_args()
    for root in generate(args.out):
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"{root}: {size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
