"""Benchmark: ``segmentation_miou`` end to end vs decoding the PNGs alone.

Seeded synthetic Cityscapes-like data is generated once under ``bench/data/``: N image
pairs (default 300) of 512x1024 class-index masks, 19 classes, void 255 in the ground
truth, PNG (mode L). Masks are piecewise constant (regions of a coarse random layout,
with jagged borders), and predictions are the ground truth with part of the regions
relabelled and noisy borders, so the files compress like real label maps.

In one process, alternated, best of ``--repeat``:

- decode only: every PNG opened with Pillow and turned into a numpy array, one core
  (the anchor: the least any scorer reading these files on one core must spend),
- numpy reference: the same decoding plus a plain ``np.bincount`` confusion matrix per
  image, one core,
- ``score()``: the whole scorer (JSON, path checks, decoding on a thread per core,
  range checks, counts, metrics, ``result.json``; artifacts off).

mIoU and every per-class IoU must equal the numpy reference's. Each case's CPU time (this
process, all threads) is printed next to its wall time: on a loaded machine the threads of
``score()`` do not get a second core, and the CPU column shows what they would need.

    python3 bench/bench_segmentation.py [--images 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from autoscorer.pipeline.scoring import score

DATA = Path(__file__).resolve().parent / "data"
K, VOID, H, W = 19, 255, 512, 1024


def _layout(rng: np.random.Generator) -> np.ndarray:
    """A coarse random label layout upsampled to H x W, borders made jagged."""
    coarse = rng.integers(0, K, size=(H // 32, W // 32), dtype=np.uint8)
    mask = np.kron(coarse, np.ones((32, 32), dtype=np.uint8))
    shift = rng.integers(-3, 4, size=H)
    rows = np.arange(H)[:, None]
    cols = (np.arange(W)[None, :] + shift[:, None]) % W
    return mask[rows, cols]


def make_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    gt = _layout(rng)
    gt[rng.random((H // 16, W // 16)).repeat(16, 0).repeat(16, 1) < 0.05] = VOID
    pred = gt.copy()
    relabel = rng.integers(0, K, size=K, dtype=np.uint8)
    swap = rng.random((H // 32, W // 32)).repeat(32, 0).repeat(32, 1) < 0.15
    pred[swap] = relabel[np.minimum(gt[swap], K - 1)]
    noise = rng.random((H, W)) < 0.01
    pred[noise] = rng.integers(0, K, size=int(noise.sum()), dtype=np.uint8)
    pred[pred == VOID] = rng.integers(0, K)  # predictions never say void
    return gt, pred


def make_workspace(n: int) -> Path:
    root = DATA / f"segmentation_{n}x{H}x{W}_s0"
    if (root / "output" / "pred.json").exists():
        return root
    rng = np.random.default_rng(0)
    for sub in ("input/masks", "output/masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    images, preds = [], []
    for i in range(n):
        gt, pred = make_pair(rng)
        Image.fromarray(gt, "L").save(root / "input" / "masks" / f"{i}.png")
        Image.fromarray(pred, "L").save(root / "output" / "masks" / f"{i}.png")
        images.append({"id": i, "width": W, "height": H, "mask_file": f"masks/{i}.png"})
        preds.append({"image_id": i, "mask_file": f"masks/{i}.png"})
    categories = [{"id": c, "name": f"class_{c}"} for c in range(K)]
    (root / "input" / "gt.json").write_text(
        json.dumps({"images": images, "categories": categories})
    )
    (root / "output" / "pred.json").write_text(json.dumps(preds))
    meta = {"job_id": "bench-seg", "scorer": "segmentation_miou", "scorer_params": {}}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def decode_only(root: Path, n: int) -> None:
    for i in range(n):
        _decode(root / "input" / "masks" / f"{i}.png")
        _decode(root / "output" / "masks" / f"{i}.png")


def numpy_reference(root: Path, n: int) -> tuple[float, np.ndarray]:
    cm = np.zeros((K, K), dtype=np.int64)
    for i in range(n):
        gt = _decode(root / "input" / "masks" / f"{i}.png").reshape(-1)
        pred = _decode(root / "output" / "masks" / f"{i}.png").reshape(-1)
        keep = gt != VOID
        cm += np.bincount(gt[keep].astype(np.int64) * K + pred[keep], minlength=K * K).reshape(K, K)
    tp = np.diag(cm).astype(np.float64)
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    return float(np.nanmean(iou)), iou


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Wall time, this process's CPU time (all threads), and the result of ``fn()``."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = make_workspace(args.images)
    n = args.images
    cases: dict[str, Callable[[], object]] = {
        "decode only, 1 core (anchor)": lambda: decode_only(root, n),
        "numpy bincount reference, 1 core": lambda: numpy_reference(root, n),
        "score() (threads)": lambda: score(root, write_artifacts=False),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    outputs: dict[str, object] = {}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            seconds, used, outputs[name] = timed(fn)
            times[name].append(seconds)
            cpu[name].append(used)
    anchor = min(times["decode only, 1 core (anchor)"])
    cpu_anchor = min(cpu["decode only, 1 core (anchor)"])
    print(f"{n} image pairs {H}x{W}, {K} classes, void {VOID}; best of {args.repeat}")
    print(f"{'case':<36} {'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6}")
    for name, values in times.items():
        best, used = min(values), min(cpu[name])
        print(
            f"{name:<36} {best:7.3f}s x{best / anchor:5.2f} {used:7.3f}s x{used / cpu_anchor:5.2f}"
        )
    ref_miou, ref_iou = outputs["numpy bincount reference, 1 core"]  # type: ignore[misc]
    metrics = outputs["score() (threads)"].metrics  # type: ignore[attr-defined]
    ours = np.array([metrics["per_class_iou"][f"class_{c}"] for c in range(K)], dtype=float)
    print(
        f"mIoU {metrics['mIoU']!r} vs reference {ref_miou!r}; max per-class IoU difference "
        f"{float(np.max(np.abs(ours - ref_iou))):.3g}; identical: "
        f"{metrics['mIoU'] == ref_miou and bool(np.array_equal(ours, ref_iou))}"
    )


if __name__ == "__main__":
    main()
