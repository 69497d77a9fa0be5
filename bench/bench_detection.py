"""Benchmark: ``detection_map`` end-to-end vs pycocotools and faster-coco-eval.

Seeded synthetic COCO data (5,000 images, 80 categories, 500k detections, crowd
boxes, tied scores) is generated once and cached under ``bench/data/``. Each
contender runs in this process, side by side, from the JSON files on disk to
the 12 summary stats; the stats must be identical.

    python3 bench/bench_detection.py [--images 5000] [--dets-per-image 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autoscorer.pipeline.scoring import score

DATA = Path(__file__).resolve().parent / "data"
STAT_KEYS = [
    "mAP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR@1", "AR@10", "AR@100", "AR_small", "AR_medium", "AR_large",
]  # fmt: skip


def _boxes(rng: np.random.Generator, n: int, w: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``n`` random [x, y, w, h] boxes inside images of size (w, h), sizes spanning S/M/L."""
    side = np.exp(rng.uniform(np.log(6), np.log(300), size=(n, 2)))
    bw = np.minimum(side[:, 0], w - 1)
    bh = np.minimum(side[:, 1], h - 1)
    x = rng.uniform(0, 1, n) * (w - bw)
    y = rng.uniform(0, 1, n) * (h - bh)
    return np.round(np.stack([x, y, bw, bh], axis=1), 2)


def make_gt(rng: np.random.Generator, n_images: int, n_cats: int) -> dict[str, Any]:
    """COCO ground truth: ~7 boxes per image from a few categories, 3% crowd."""
    sizes = rng.integers(320, 641, size=(n_images, 2))
    counts = rng.poisson(6, n_images) + 1
    img = np.repeat(np.arange(n_images), counts)
    present = rng.integers(1, n_cats + 1, size=(n_images, 4))
    cats = present[img, rng.integers(0, 4, img.size)]
    boxes = _boxes(rng, img.size, sizes[img, 0], sizes[img, 1])
    area = np.round(boxes[:, 2] * boxes[:, 3] * rng.uniform(0.6, 1.0, img.size), 2)
    crowd = rng.random(img.size) < 0.03
    images = [
        {"id": int(i + 1), "width": int(s[0]), "height": int(s[1]), "file_name": f"{i + 1}.jpg"}
        for i, s in enumerate(sizes)
    ]
    anns = [
        {
            "id": k + 1,
            "image_id": int(img[k] + 1),
            "category_id": int(cats[k]),
            "bbox": boxes[k].tolist(),
            "area": float(area[k]),
            "iscrowd": int(crowd[k]),
        }
        for k in range(img.size)
    ]
    categories = [{"id": c, "name": f"class_{c}"} for c in range(1, n_cats + 1)]
    return {"images": images, "annotations": anns, "categories": categories}


def make_pred(
    rng: np.random.Generator, gt: dict[str, Any], n_cats: int, per_image: int
) -> list[dict[str, Any]]:
    """``per_image`` detections per image: jittered GT copies plus background boxes."""
    anns = gt["annotations"]
    sizes = np.array([[im["width"], im["height"]] for im in gt["images"]], dtype=float)
    g_img = np.array([a["image_id"] - 1 for a in anns])
    g_box = np.array([a["bbox"] for a in anns])
    g_cat = np.array([a["category_id"] for a in anns])
    copies = rng.integers(0, 6, g_img.size)
    copies = np.minimum(copies, per_image // max(1, np.bincount(g_img).max()))
    src = np.repeat(np.arange(g_img.size), copies)
    jitter = 1 + rng.normal(0, 0.15, size=(src.size, 4)) * np.array([0.3, 0.3, 1, 1])
    hit = g_box[src] * jitter
    hit[:, :2] = g_box[src, :2] + g_box[src, 2:] * rng.normal(0, 0.08, size=(src.size, 2))
    hit_cat = np.where(
        rng.random(src.size) < 0.9, g_cat[src], rng.integers(1, n_cats + 1, src.size)
    )
    per_img_hits = np.bincount(g_img[src], minlength=len(sizes))
    fill = per_image - per_img_hits
    bg_img = np.repeat(np.arange(len(sizes)), fill)
    bg = _boxes(rng, bg_img.size, sizes[bg_img, 0], sizes[bg_img, 1])
    bg_cat = rng.integers(1, n_cats + 1, bg_img.size)
    img = np.concatenate([g_img[src], bg_img])
    box = np.round(np.abs(np.concatenate([hit, bg])), 2)
    cat = np.concatenate([hit_cat, bg_cat])
    # 4-decimal scores: plenty of ties, which must be ordered as in the file
    sc = np.round(np.concatenate([rng.beta(4, 2, src.size), rng.beta(1, 4, bg_img.size)]), 4)
    order = rng.permutation(img.size)
    return [
        {
            "image_id": int(img[k] + 1),
            "category_id": int(cat[k]),
            "bbox": box[k].tolist(),
            "score": float(sc[k]),
        }
        for k in order
    ]


def prepare(n_images: int, per_image: int, n_cats: int = 80, seed: int = 0) -> Path:
    """A score-only workspace with cached gt.json / pred.json; returns its root."""
    ws = DATA / f"detection_{n_images}x{per_image}_s{seed}"
    gt_path, pred_path = ws / "input" / "gt.json", ws / "output" / "pred.json"
    if not (gt_path.is_file() and pred_path.is_file()):
        rng = np.random.default_rng(seed)
        gt = make_gt(rng, n_images, n_cats)
        pred = make_pred(rng, gt, n_cats, per_image)
        gt_path.parent.mkdir(parents=True, exist_ok=True)
        pred_path.parent.mkdir(parents=True, exist_ok=True)
        gt_path.write_text(json.dumps(gt))
        pred_path.write_text(json.dumps(pred))
    meta = {"job_id": "bench-detection", "task_type": "detection", "scorer": "detection_map"}
    (ws / "meta.json").write_text(json.dumps(meta))
    return ws


def run_pycocotools(ws: Path) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ws / "input" / "gt.json"))
        ev = COCOeval(gt, gt.loadRes(str(ws / "output" / "pred.json")), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats]


def run_faster_coco_eval(ws: Path) -> list[float]:
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ws / "input" / "gt.json"))
        dt = gt.loadRes(str(ws / "output" / "pred.json"))
        ev = COCOeval_faster(gt, dt, "bbox", print_function=lambda *a, **k: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats]


def run_autoscorer(ws: Path) -> list[float]:
    """The full pipeline step: load both JSON files, validate, evaluate, write result.json."""
    result = score(ws, write_artifacts=False)
    return [-1.0 if v is None else float(v) for v in result.metrics["coco_stats"]]


def timed(fn: Callable[[Path], list[float]], ws: Path, repeat: int) -> tuple[float, list[float]]:
    """Best wall time of ``repeat`` runs (each after a full garbage collection)."""
    best, stats = float("inf"), []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        stats = fn(ws)
        best = min(best, time.perf_counter() - t0)
    return best, stats


_RSS_PROBE = """
import contextlib, io, sys
sys.path.insert(0, sys.argv[3])
import bench_detection as b
from pathlib import Path
getattr(b, sys.argv[2])(Path(sys.argv[1]))
print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])
"""


def peak_rss_mib(ws: Path, runner: str) -> float:
    """Peak RSS (VmHWM) of a fresh interpreter that only runs ``runner`` on ``ws``."""
    here = str(Path(__file__).resolve().parent)
    argv = [sys.executable, "-c", _RSS_PROBE, str(ws), runner, here]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def interleaved(
    contenders: dict[str, Callable[[Path], list[float]]], ws: Path, repeat: int
) -> dict[str, tuple[float, list[float]]]:
    """Best wall time of each contender, the contenders alternated within each round."""
    best: dict[str, float] = dict.fromkeys(contenders, float("inf"))
    stats: dict[str, list[float]] = {}
    for _ in range(repeat):
        for name, fn in contenders.items():
            seconds, stats[name] = timed(fn, ws, 1)
            best[name] = min(best[name], seconds)
    return {name: (best[name], stats[name]) for name in contenders}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--dets-per-image", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3, help="runs per contender (best is kept)")
    ap.add_argument("--pycocotools-repeat", type=int, default=1, help="0: skip pycocotools")
    args = ap.parse_args()
    ws = prepare(args.images, args.dets_per_image)
    print(f"workspace {ws} (pred.json {(ws / 'output' / 'pred.json').stat().st_size / 1e6:.1f} MB)")
    runs = interleaved(
        {"faster-coco-eval": run_faster_coco_eval, "autoscorer score()": run_autoscorer},
        ws,
        args.repeat,
    )
    if args.pycocotools_repeat:
        runs["pycocotools"] = timed(run_pycocotools, ws, args.pycocotools_repeat)
    ours_time, ours = runs["autoscorer score()"]
    print(f"{'contender':<20} {'seconds':>8} {'autoscorer speed-up':>20}  max |stat diff|")
    for name, (sec, stats) in runs.items():
        diff = max(abs(a - b) for a, b in zip(stats, ours, strict=True))
        print(f"{name:<20} {sec:8.2f} {sec / ours_time:19.2f}x  {diff:.1e}")
    ref_name = "pycocotools" if args.pycocotools_repeat else "faster-coco-eval"
    ref = runs[ref_name][1]
    print(f"stats ({ref_name} order):")
    for key, a, b in zip(STAT_KEYS, ref, ours, strict=True):
        print(f"  {key:<10} {ref_name} {a:.15f}  autoscorer {b:.15f}")
    ours_rss = peak_rss_mib(ws, "run_autoscorer")
    theirs_rss = peak_rss_mib(ws, "run_faster_coco_eval")
    print(
        f"peak RSS of a process running only it: faster-coco-eval {theirs_rss:.0f} MiB, "
        f"score() {ours_rss:.0f} MiB ({ours_rss / theirs_rss:.2f}x; target <= 0.5x)"
    )
    same = all(a == b for a, b in zip(ref, ours, strict=True))
    print(f"identical to {ref_name} (bit for bit):", same)
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
