"""Cold start of the ``autoscorer`` command and scoring many workspaces in one call.

Plain script (not pytest). Every case is a new process, alternated within each round in
one run, so the machine's load hits all of them alike:

- ``python -c pass`` (the interpreter's own start-up: the floor of any Python CLI),
- ``autoscorer --help`` and ``autoscorer --version``,
- ``python -c 'import numpy, pyarrow.csv, typer, PIL.ImageDraw; from pydantic import ...'``: the
  libraries ``score`` uses (the floor of ``score`` as long as it uses them),
- ``autoscorer score WS`` on ``examples/classification`` (240 rows, artifacts on, as a
  course's script would call it) and the same with ``--no-artifacts``,

then, with ``--many N``: N copies of that workspace scored by one call,
``autoscorer score -j 1 WS1 ... WSN`` (one process) against the default (one worker process
per usable core), and a shell-style loop of one ``autoscorer score WS`` process per
workspace over the first ``--loop`` of them (the anchor: what a script does today).
Results of the pooled call are compared with the one-process call (everything but the
clock readings must be equal).

    python3 bench/bench_cli.py [--rounds 7] [--many 500] [--loop 40] [--baseline SRC]

``--baseline /work/main/src`` also times ``--help`` and ``score WS`` with that code (the same
console script, ``PYTHONPATH`` pointing there), alternated in the same rounds.

Every process runs with bytecode caching on, in a private ``PYTHONPYCACHEPREFIX`` (this
sandbox sets ``PYTHONDONTWRITEBYTECODE``, which makes every start compile the package's
sources, unlike an installed package).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "classification"


def console_script() -> str:
    here = Path(sys.executable).parent / "autoscorer"
    return str(here) if here.exists() else shutil.which("autoscorer") or "autoscorer"


CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-cli-pyc-")
LIBRARIES = (
    "import numpy, pyarrow.csv, typer, PIL.ImageDraw; from pydantic import BaseModel, TypeAdapter"
)


def run(argv: list[str], label: str | None = None, env: dict[str, str] | None = None) -> float:
    """Wall time of one process; its CPU time (user + system) is kept under ``label``."""
    env = env or ENV
    c0, t0 = _children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    CPU.setdefault(label or argv[-1], []).append(_children_cpu() - c0)
    return wall


def cold_start(cli: str, root: Path, rounds: int, baseline: str | None) -> None:
    ws = str(shutil.copytree(EXAMPLE, root / "cold"))
    cases: dict[str, Callable[[], float]] = {
        "python -c pass (floor)": lambda: run([sys.executable, "-c", "pass"], "pass"),
        "autoscorer --help": lambda: run([cli, "--help"], "help"),
        "autoscorer --version": lambda: run([cli, "--version"], "version"),
        "libraries of score only": lambda: run([sys.executable, "-c", LIBRARIES], "libs"),
        "autoscorer score WS": lambda: run([cli, "score", ws], "score"),
        "autoscorer score --no-artifacts WS": lambda: run(
            [cli, "score", "--no-artifacts", ws], "score-na"
        ),
    }
    labels = dict(zip(cases, ("pass", "help", "version", "libs", "score", "score-na"), strict=True))
    if baseline:  # another checkout's code through the same console script, same rounds
        env = {**ENV, "PYTHONPATH": baseline}
        cases["baseline: autoscorer --help"] = lambda: run([cli, "--help"], "b-help", env)
        cases["baseline: autoscorer score WS"] = lambda: run([cli, "score", ws], "b-score", env)
        labels["baseline: autoscorer --help"] = "b-help"
        labels["baseline: autoscorer score WS"] = "b-score"
    for fn in cases.values():  # warm-up: page cache, .pyc files
        fn()
    CPU.clear()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            times[name].append(fn())
    floor = min(times["python -c pass (floor)"])
    print(f"cold start, {rounds} alternated rounds; goals: --help < 0.12 s, score < 0.25 s")
    print(f"{'case':<36} {'min':>8} {'median':>8} {'min - floor':>12} {'CPU min':>8}")
    for name, values in times.items():
        best, med = min(values), statistics.median(values)
        cpu = min(CPU[labels[name]])
        print(f"{name:<36} {best:7.3f}s {med:7.3f}s {best - floor:11.3f}s {cpu:7.3f}s")


def comparable(doc: dict) -> dict:
    doc = dict(doc)
    doc.pop("timing", None)
    doc["versioning"] = {k: v for k, v in doc["versioning"].items() if k != "timestamp"}
    return doc


def many(cli: str, root: Path, n: int, loop: int) -> None:
    workspaces = [str(shutil.copytree(EXAMPLE, root / f"ws{i:04d}")) for i in range(n)]
    results: dict[str, dict] = {}
    times: dict[str, float] = {}
    for label, jobs in (("-j 1 (one process)", "1"), ("default (pool)", "0")):
        out = root / f"results-{jobs}.json"
        argv = [cli, "score", "-j", jobs, "--json", "-o", str(out), *workspaces]
        times[label] = run(argv)
        results[label] = json.loads(out.read_text())
    t0 = time.perf_counter()
    for ws in workspaces[:loop]:
        subprocess.run([cli, "score", ws], check=True, stdout=subprocess.DEVNULL)
    per_process = (time.perf_counter() - t0) / loop
    one, pool = results.values()
    same = all(comparable(one[ws]["result"]) == comparable(pool[ws]["result"]) for ws in workspaces)
    print(f"\n{n} workspaces (examples/classification copies), one call each")
    print(f"{'run':<44} {'wall':>8} {'ws/s':>8} {'vs loop':>8}")
    print(
        f"{'loop: one autoscorer process per ws':<44} {per_process * n:7.2f}s "
        f"{1 / per_process:8.1f} {1.0:7.2f}x   (first {loop}, extrapolated)"
    )
    for label, wall in times.items():
        print(
            f"{'autoscorer score ' + label:<44} {wall:7.2f}s {n / wall:8.1f} "
            f"{per_process * n / wall:7.2f}x"
        )
    one_wall, pool_wall = times.values()
    print(f"pool / one process: {one_wall / pool_wall:.2f}x; results identical: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--many", type=int, default=0, help="also score N workspaces")
    parser.add_argument("--loop", type=int, default=40)
    parser.add_argument("--baseline", help="PYTHONPATH of other code to time alongside")
    args = parser.parse_args()
    cli = console_script()
    with tempfile.TemporaryDirectory() as tmp:
        cold_start(cli, Path(tmp), args.rounds, args.baseline)
        if args.many:
            many(cli, Path(tmp), args.many, min(args.loop, args.many))
    shutil.rmtree(ENV["PYTHONPYCACHEPREFIX"], ignore_errors=True)


if __name__ == "__main__":
    main()
