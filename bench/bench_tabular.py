"""Tabular scorers at 10M rows, side by side with their anchors in one run.

    python3 bench/bench_tabular.py [--rows 10000000] [--classes 100] [--repeat 3]

Data is generated once into bench/data/tabular/ (gitignored). Timed in this
process, interleaved, median of --repeat runs:
  - pandas.read_csv (C engine) of gt.csv + pred.csv  -- the anchor
  - autoscorer.pipeline.scoring.score() (load, align ids, all metrics, sha256 of
    both files, result.json; artifacts off)
  - pandas + scikit-learn computing the same metric set (once; it is slow)
Peak RSS of a fresh process that only runs score() is measured in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
from sklearn import metrics as skm

from autoscorer.pipeline.scoring import score

DATA = Path(__file__).parent / "data" / "tabular"
AVERAGES = ("macro", "micro", "weighted")


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pcsv.write_csv(pa.table(columns), tmp, pcsv.WriteOptions(quoting_style="none"))
    tmp.replace(path)


def make_workspace(kind: str, rows: int, classes: int, shuffled: bool = False) -> Path:
    """A score-only workspace; reused when it exists with the same shape."""
    tag = f"{kind}-{rows}-{classes}" + ("-shuffled" if shuffled else "")
    ws = DATA / tag
    if (ws / "meta.json").is_file():
        return ws
    rng = np.random.default_rng(0)
    ids = np.arange(rows)
    if kind == "classification":
        truth = rng.integers(0, classes, rows)
        guess = np.where(rng.random(rows) < 0.8, truth, rng.integers(0, classes, rows))
        scorer, col = "classification_f1", "label"
    else:
        truth = np.round(rng.normal(10.0, 3.0, rows), 4)
        guess = np.round(truth + rng.normal(0.0, 1.0, rows), 4)
        scorer, col = "regression_rmse", "value"
    _write(ws / "input" / "gt.csv", {"id": ids, col: truth})
    perm = rng.permutation(rows) if shuffled else ids
    _write(ws / "output" / "pred.csv", {"id": ids[perm], col: guess[perm]})
    meta = {"job_id": tag, "task_type": kind, "scorer": scorer}
    (ws / "meta.json").write_text(json.dumps(meta))
    return ws


def pandas_parse(ws: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(ws / "input" / "gt.csv"), pd.read_csv(ws / "output" / "pred.csv")


def pandas_sklearn_classification(ws: Path) -> dict[str, Any]:
    """The classification_f1 metric set the plain way: pandas merge + sklearn calls."""
    gt, pred = pandas_parse(ws)
    both = gt.merge(pred, on="id", how="left", suffixes=("_true", "_pred"), validate="1:1")
    y, p = both["label_true"].to_numpy(), both["label_pred"].to_numpy()
    out: dict[str, Any] = {"accuracy": skm.accuracy_score(y, p)}
    for avg in AVERAGES:
        prf = skm.precision_recall_fscore_support(y, p, average=avg, zero_division=0)
        out.update({f"precision_{avg}": prf[0], f"recall_{avg}": prf[1], f"f1_{avg}": prf[2]})
    out["per_class"] = skm.precision_recall_fscore_support(y, p, zero_division=0)
    out["confusion_matrix"] = skm.confusion_matrix(y, p)
    return out


def pandas_sklearn_regression(ws: Path) -> dict[str, Any]:
    gt, pred = pandas_parse(ws)
    both = gt.merge(pred, on="id", how="left", suffixes=("_true", "_pred"), validate="1:1")
    y, p = both["value_true"].to_numpy(), both["value_pred"].to_numpy()
    return {
        "rmse": skm.root_mean_squared_error(y, p),
        "mse": skm.mean_squared_error(y, p),
        "mae": skm.mean_absolute_error(y, p),
        "r2": skm.r2_score(y, p),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median_times(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median seconds of each function, the runs interleaved so load noise hits all alike."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            runs[name].append(timed(fn)[0])
    return {name: statistics.median(times) for name, times in runs.items()}


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the forking
# parent (this benchmark holds pandas frames), VmHWM belongs to the new process image.
_RSS_CHILD = """
import json, re, sys, time
from pathlib import Path
from autoscorer.pipeline.scoring import score
t = time.perf_counter()
score(sys.argv[1], write_artifacts=False)
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": int(hwm.group(1)) / 1024}))
"""


def peak_rss(ws: Path) -> dict[str, float]:
    """Peak RSS (MiB) of a fresh interpreter that only runs score() on ``ws``."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(ws)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_same(ours: dict[str, Any], ref: dict[str, Any], names: list[str]) -> float:
    return max(abs(float(ours[n]) - float(ref[n])) for n in names)


def bench_classification(rows: int, classes: int, repeat: int) -> None:
    ws = make_workspace("classification", rows, classes)
    size = sum(p.stat().st_size for p in (ws / "input" / "gt.csv", ws / "output" / "pred.csv"))
    print(f"\n## classification: {rows:,} rows, {classes} classes, {size / 1e6:.0f} MB total")
    fns = {
        "pandas.read_csv x2": lambda: pandas_parse(ws),
        "score()": lambda: score(ws, write_artifacts=False),
    }
    t = median_times(fns, repeat)
    t_sk, ref = timed(lambda: pandas_sklearn_classification(ws))
    ours = score(ws, write_artifacts=False).metrics
    names = [f"{m}_{a}" for m in ("f1", "precision", "recall") for a in AVERAGES]
    diff = check_same(ours, ref, [*names, "accuracy"])
    shuffled = make_workspace("classification", rows, classes, shuffled=True)
    t_shuf = median_times({"s": lambda: score(shuffled, write_artifacts=False)}, 1)["s"]
    rss = peak_rss(ws)
    _report(t, t_sk, diff, sklearn_target=8.0)
    parse = t["pandas.read_csv x2"]
    print(
        f"score(), pred rows shuffled: {t_shuf:.2f} s = "
        f"{t_shuf / parse:.2f}x parse (no target; shown for reference)"
    )
    _verdict("peak RSS, process running only score()", rss["peak_rss_mb"], "MiB", 1536, "<")


def bench_regression(rows: int, repeat: int) -> None:
    ws = make_workspace("regression", rows, 0)
    size = sum(p.stat().st_size for p in (ws / "input" / "gt.csv", ws / "output" / "pred.csv"))
    print(f"\n## regression: {rows:,} rows, {size / 1e6:.0f} MB total")
    fns = {
        "pandas.read_csv x2": lambda: pandas_parse(ws),
        "score()": lambda: score(ws, write_artifacts=False),
    }
    t = median_times(fns, repeat)
    t_sk, ref = timed(lambda: pandas_sklearn_regression(ws))
    diff = check_same(score(ws, write_artifacts=False).metrics, ref, ["rmse", "mse", "mae", "r2"])
    rss = peak_rss(ws)
    _report(t, t_sk, diff, sklearn_target=None)
    print(f"peak RSS, process running only score(): {rss['peak_rss_mb']:.0f} MiB (no target)")


def _verdict(what: str, value: float, unit: str, limit: float, sense: str) -> None:
    ok = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[sense]
    print(
        f"{what:44s}: {value:8.2f} {unit:6s} target {sense} {limit:g}  {'MET' if ok else 'MISSED'}"
    )


def _report(t: dict[str, float], t_sk: float, diff: float, sklearn_target: float | None) -> None:
    parse, ours = t["pandas.read_csv x2"], t["score()"]
    print(f"pandas.read_csv (C engine), both files      : {parse:6.2f} s")
    print(f"score() in-process, artifacts off           : {ours:6.2f} s")
    print(f"pandas + scikit-learn, same metrics         : {t_sk:6.2f} s")
    _verdict("score() / parse time", ours / parse, "x", 2.0, "<=")
    if sklearn_target is not None:
        _verdict("pandas+sklearn / score()", t_sk / ours, "x", sklearn_target, ">=")
    else:
        print(f"pandas+sklearn / score()                    : {t_sk / ours:8.2f} x")
    print(f"max |score() - sklearn| over the metrics    : {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("classification", "regression"))
    args = ap.parse_args()
    if args.only != "regression":
        bench_classification(args.rows, args.classes, args.repeat)
    if args.only != "classification":
        bench_regression(args.rows, args.repeat)


if __name__ == "__main__":
    main()
