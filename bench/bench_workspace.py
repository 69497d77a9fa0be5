"""Workspace validation and scorer reloading, side by side with their anchors in one run.

    python3 bench/bench_workspace.py [--rows 2000000] [--classes 100] [--repeat 3] [--reloads 30]

validate (a classification workspace from bench_tabular's generator, in bench/data/tabular/),
interleaved, median of --repeat:
  - pandas.read_csv (C engine) of gt.csv + pred.csv  -- the anchor
  - validate(deep=False): layout, meta.json, scorer, params, CSV heads
  - validate(deep=True): the same plus the scorer run without writing
  - score(write=False): the scorer alone
Scorer files, median of --reloads:
  - a plain importlib import of the scorer file  -- the anchor
  - ScorerLoader.reload_file after an edit (hash, import, checks, swap)
  - hot reload: from the write to the new version serving, through Watcher (interval 0.05 s)
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from autoscorer.pipeline.scoring import score
from autoscorer.pipeline.validate import validate
from autoscorer.scorers.loader import ScorerLoader
from autoscorer.scorers.registry import Registry
from autoscorer.scorers.watcher import Watcher
from bench_tabular import make_workspace

SOURCE = """
from autoscorer.scorers.base import ScoreOutput, Scorer
from autoscorer.scorers.registry import register_scorer


@register_scorer
class BenchScorer(Scorer):
    name = "bench_scorer"
    version = "{version}"
    primary_metric = "m"

    def evaluate(self, ctx):
        return ScoreOutput(metrics={{"m": 1.0}})
"""


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_validate(rows: int, classes: int, repeat: int) -> None:
    ws = make_workspace("classification", rows, classes)
    cases: dict[str, Callable[[], object]] = {
        "pandas.read_csv gt + pred (anchor)": lambda: (
            pd.read_csv(ws / "input" / "gt.csv"),
            pd.read_csv(ws / "output" / "pred.csv"),
        ),
        "validate(deep=False)": lambda: validate(ws, deep=False),
        "validate(deep=True)": lambda: validate(ws),
        "score(write=False)": lambda: score(ws, write=False, write_artifacts=False),
    }
    assert validate(ws)["validation_status"] == "valid"
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    report(f"validate, {rows:,} rows, {classes} classes", times)


def plain_import(path: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"plain_{time.perf_counter_ns()}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        # the decorator would register into the default registry; a scratch one is fine
        from autoscorer.scorers.registry import collecting

        collecting(lambda: spec.loader.exec_module(module))  # type: ignore[union-attr]
    finally:
        sys.modules.pop(spec.name, None)


def hot_reload_latency(watcher: Watcher, path: Path, version: str) -> float:
    registry = watcher.loader.registry
    start = time.perf_counter()
    path.write_text(SOURCE.format(version=version))
    while registry.get("bench_scorer").version != version:
        time.sleep(0.002)
    return time.perf_counter() - start


def bench_reload(reloads: int) -> None:
    sys.dont_write_bytecode = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_scorer.py"
        path.write_text(SOURCE.format(version="0.0.0"))
        loader = ScorerLoader(Registry())
        loader.load_file(path)
        times: dict[str, list[float]] = {
            "importlib import of the file (anchor)": [],
            "reload_file after an edit": [],
            "hot reload: write -> new version serving": [],
        }
        for i in range(reloads):
            times["importlib import of the file (anchor)"].append(timed(lambda: plain_import(path)))
            path.write_text(SOURCE.format(version=f"1.0.{i}"))
            times["reload_file after an edit"].append(timed(lambda: loader.reload_file(path)))
        watcher = Watcher(loader)
        watcher.start(path, check_interval=0.05)
        time.sleep(0.3)
        try:
            for i in range(reloads):
                latency = hot_reload_latency(watcher, path, f"2.0.{i}")
                times["hot reload: write -> new version serving"].append(latency)
                time.sleep(0.1)
        finally:
            watcher.stop_all()
    report(f"scorer reload, {reloads} edits", times)


def report(title: str, times: dict[str, list[float]]) -> None:
    medians = {k: statistics.median(v) for k, v in times.items()}
    anchor = next(iter(medians.values()))
    print(f"\n{title}")
    for name, t in medians.items():
        print(f"  {name:<45} {t * 1000:10.2f} ms   x{t / anchor:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reloads", type=int, default=30)
    args = ap.parse_args()
    bench_validate(args.rows, args.classes, args.repeat)
    bench_reload(args.reloads)


if __name__ == "__main__":
    main()
