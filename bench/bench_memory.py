"""Peak memory and time of string-keyed classification against pandas parsing the same files.

    python3 bench/bench_memory.py [--rows 10000000] [--classes 100] [--repeat 3]

Data (generated once into bench/data/tabular/, gitignored): ``id`` is ``img_<n>``, ``label``
is ``class_<k>`` (100 classes), predictions right ~80% of the time and in a different row
order (a random permutation). At 10M rows each CSV is about 219 MB.

Each case runs in a fresh interpreter (so its peak RSS, ``VmHWM``, is its own), the cases
alternated within each round: pandas ``read_csv`` of both files (C engine, the anchor) and
``autoscorer.pipeline.scoring.score()`` (artifacts off, ``result.json`` written). Times
are measured inside the child (start-up excluded), the best of ``--repeat`` kept, with the
child's CPU time (all threads; less sensitive to other work on the machine than wall time).
The metrics are checked against a pandas reference (merge on id, confusion matrix by
``np.bincount``): accuracy, macro F1 and the confusion matrix must be equal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

DATA = Path(__file__).parent / "data" / "tabular"

_CHILD = """
import json, re, sys, time
from pathlib import Path
ws, case = Path(sys.argv[1]), sys.argv[2]
if case == "pandas":
    import pandas as pd
    c, t = time.process_time(), time.perf_counter()
    gt, pred = pd.read_csv(ws / "input" / "gt.csv"), pd.read_csv(ws / "output" / "pred.csv")
    out = {"rows": len(gt) + len(pred)}
else:
    from autoscorer.pipeline.scoring import score
    c, t = time.process_time(), time.perf_counter()
    res = score(ws, write_artifacts=False)
    out = {"accuracy": res.metrics["accuracy"], "f1_macro": res.metrics["f1_macro"]}
out["seconds"] = time.perf_counter() - t
out["cpu"] = time.process_time() - c
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())
out["peak_mib"] = int(hwm.group(1)) / 1024
print(json.dumps(out))
"""


def _texts(prefix: str, values: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")


def make_workspace(rows: int, classes: int) -> Path:
    ws = DATA / f"classification-strings-{rows}-{classes}"
    if (ws / "meta.json").is_file():
        return ws
    rng = np.random.default_rng(0)
    truth = rng.integers(0, classes, rows)
    guess = np.where(rng.random(rows) < 0.8, truth, rng.integers(0, classes, rows))
    perm = rng.permutation(rows)
    ids = np.arange(rows)
    for path, order in ((ws / "input" / "gt.csv", ids), (ws / "output" / "pred.csv", perm)):
        labels = truth if path.parent.name == "input" else guess
        table = pa.table(
            {"id": _texts("img_", ids[order]), "label": _texts("class_", labels[order])}
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="none"))
    meta = {"job_id": ws.name, "task_type": "classification", "scorer": "classification_f1"}
    (ws / "meta.json").write_text(json.dumps(meta))
    return ws


def child(ws: Path, case: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ws), case], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def reference(ws: Path) -> dict[str, float]:
    """Accuracy and macro F1 the plain way (pandas merge, numpy confusion matrix)."""
    import pandas as pd

    gt, pred = pd.read_csv(ws / "input" / "gt.csv"), pd.read_csv(ws / "output" / "pred.csv")
    both = gt.merge(pred, on="id", how="left", suffixes=("_t", "_p"), validate="1:1")
    codes, names = pd.factorize(pd.concat([both["label_t"], both["label_p"]]), sort=True)
    y, p = codes[: len(both)], codes[len(both) :]
    k = len(names)
    cm = np.bincount(y * k + p, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    prec = np.divide(tp, cm.sum(0), out=np.zeros(k), where=cm.sum(0) > 0)
    rec = np.divide(tp, cm.sum(1), out=np.zeros(k), where=cm.sum(1) > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
    return {"accuracy": float(tp.sum() / cm.sum()), "f1_macro": float(f1.mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    ws = make_workspace(args.rows, args.classes)
    size = (ws / "input" / "gt.csv").stat().st_size / 1e6
    print(f"{args.rows:,} rows, {args.classes} classes, string ids and labels, {size:.0f} MB/CSV")
    runs: dict[str, list[dict[str, float]]] = {"pandas": [], "score": []}
    for _ in range(args.repeat):
        for case, results in runs.items():
            results.append(child(ws, case))
    best = {case: min(r["seconds"] for r in rs) for case, rs in runs.items()}
    cpu = {case: min(r["cpu"] for r in rs) for case, rs in runs.items()}
    peak = {case: max(r["peak_mib"] for r in rs) for case, rs in runs.items()}
    print(f"{'case':<28} {'best s':>8} {'CPU s':>8} {'peak MiB (max)':>15}")
    for case in runs:
        print(f"{case:<28} {best[case]:8.2f} {cpu[case]:8.2f} {peak[case]:15.0f}")
    print(
        f"score/pandas: time {best['score'] / best['pandas']:.2f}x (target <= 1.0x), "
        f"CPU {cpu['score'] / cpu['pandas']:.2f}x, "
        f"peak RSS {peak['score'] / peak['pandas']:.2f}x (target <= 1.0x)"
    )
    if not args.no_reference:
        ref, ours = reference(ws), runs["score"][-1]
        same = all(ref[k] == ours[k] for k in ref)
        print(f"metrics vs pandas/numpy reference: {ref} vs {ours} -> identical: {same}")


if __name__ == "__main__":
    main()
