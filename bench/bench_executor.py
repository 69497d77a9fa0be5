"""Docker executor overhead: ``autoscorer run`` vs a bare ``docker run --rm``.

Plain script (not pytest). Needs a Docker engine and the ``autoscorer-test/busybox``
image (``scripts/docker-setup``). A trivial container (busybox writing one line
to ``/workspace/output/pred.csv``) is run, alternately in one process run:

- ``docker run --rm`` with the same image, command and output bind mount (the anchor),
- ``autoscorer run WS --executor docker`` (the CLI, a new Python process each time),
- ``DockerExecutor.run(spec)`` in this process (what a job worker pays per run),

and two fixed costs of any new ``autoscorer`` process are timed to explain the CLI's
figure: the CLI's start-up alone (``autoscorer --version``) and a fresh interpreter that
only imports the Docker executor. The CLI is the console script next to this
interpreter (not a version-manager shim, which adds its own start-up). The new processes
cache bytecode in a private ``PYTHONPYCACHEPREFIX`` (as an installed package would; this
sandbox sets ``PYTHONDONTWRITEBYTECODE``, which makes every start compile the sources).

    python3 bench/bench_executor.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autoscorer.executors.docker import DockerExecutor
from autoscorer.executors.spec import build_spec
from autoscorer.workspace.layout import Workspace

IMAGE = "autoscorer-test/busybox"
COMMAND = ["sh", "-c", "echo id,label > /workspace/output/pred.csv"]


def make_workspace(root: Path) -> Path:
    (root / "output").mkdir(parents=True)
    meta = {
        "job_id": "bench",
        "time_limit": 60,
        "resources": {"cpu": 1, "memory": "256Mi"},
        "container": {"image": IMAGE, "cmd": COMMAND, "pull_policy": "never"},
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def timed(fn: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_checked(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    cli = _console_script()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # for the child processes
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pyc")
        ws_root = make_workspace(Path(tmp) / "ws")
        out = ws_root / "output"
        bare = ["docker", "run", "--rm", "--network", "none", "-v", f"{out}:/workspace/output"]
        bare += [IMAGE, *COMMAND]
        executor = DockerExecutor()
        ws = Workspace.at(ws_root)
        spec = build_spec(ws, ws.load_meta())
        cases: dict[str, Callable[[], None]] = {
            "docker run --rm (anchor)": lambda: run_checked(bare),
            "autoscorer run (CLI)": lambda: run_checked([cli, "run", str(ws_root), "-e", "docker"]),
            "DockerExecutor.run (in process)": lambda: _in_process(executor, spec),
            "autoscorer --version (CLI start-up)": lambda: run_checked([cli, "--version"]),
            "python -c 'import executors.docker'": lambda: run_checked(
                [sys.executable, "-c", "import autoscorer.executors.docker"]
            ),
        }
        for fn in cases.values():  # warm-up: page cache, engine, connection pool
            fn()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, fn in cases.items():  # alternated within each round
                times[name].append(timed(fn))
    report(times, args.rounds)


def _console_script() -> str:
    here = Path(sys.executable).parent / "autoscorer"
    return str(here) if here.exists() else shutil.which("autoscorer") or "autoscorer"


def _in_process(executor: DockerExecutor, spec: object) -> None:
    outcome = executor.run(spec)  # type: ignore[arg-type]
    if outcome.error is not None:
        raise SystemExit(f"in-process run failed: {outcome.error}")


def report(times: dict[str, list[float]], rounds: int) -> None:
    anchor = statistics.median(next(iter(times.values())))
    print(f"median of {rounds} alternated rounds (trivial busybox container), {_cores()} cores")
    print(f"{'case':<38} {'median':>9} {'min':>9} {'ratio':>7}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:<38} {med * 1000:7.0f}ms {min(values) * 1000:7.0f}ms {med / anchor:6.2f}x")
    cli = statistics.median(times["autoscorer run (CLI)"]) / anchor
    inproc = statistics.median(times["DockerExecutor.run (in process)"]) / anchor
    print(f"target <= 1.3x: CLI {cli:.2f}x -> {'met' if cli <= 1.3 else 'NOT met'}; ", end="")
    print(f"in-process {inproc:.2f}x -> {'met' if inproc <= 1.3 else 'NOT met'}")


def _cores() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
