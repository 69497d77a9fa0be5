"""Job queues: throughput and per-job overhead of score-only jobs, side by side in one run.

    python3 bench/bench_queue.py [--jobs 200] [--repeat 1] [--celery-store postgresql|sqlite]
                                 [--redis-db 11] [--no-pg] [--no-celery]

Every job scores its own copy of examples/classification (so no two jobs write the same
``output/``). Measured in this run, interleaved when ``--repeat`` > 1 (median reported):

- anchor: ``autoscorer.pipeline.scoring.score()`` called directly, N times in a row
  (artifacts on, as in a job) -> seconds per job ``d``;
- reference: the same calls in a pool of 2 processes (no queue, no store) -> what
  2 cores give for this work without any job machinery;
- in-process queue: ``build_service(Settings(queue="inprocess", queue_concurrency=2,
  database_url=<SQLite temp file>))``, N jobs submitted, then waited for; the same on a
  fresh PostgreSQL database (separates the store's cost from the queue's; ``--no-pg``
  skips it);
- Celery + Redis: the same service with ``queue="celery"`` (broker
  ``redis://127.0.0.1:6379/<--redis-db>``, flushed before and after) and one
  ``autoscorer worker -Q <unique queue> -c 2`` subprocess (2 prefork processes) on a
  fresh PostgreSQL database (``--celery-store sqlite`` for the SQLite file instead).

Wall time runs from the first submit to the moment the client has seen every job
terminal (``JobService.wait`` on each id in submission order). With concurrency c,
a job occupies a slot for ``wall * c / N`` seconds; the per-job overhead is that minus
``d``. It counts everything that keeps a slot from scoring: store writes, heartbeats,
delivery, and for the in-process queue the GIL (its c threads share one interpreter),
and, for every backend, sharing 2 cores with the submitting process, the broker and
the database. On a machine where other work takes CPU, 2 slots do not give 2x even
without a queue; the last column therefore also compares each backend with the 2-process
pool measured in the same round: ``(wall - pool wall) * 2 / N``. Everything talks to
127.0.0.1 only; each backend run is bounded (--timeout, 120 s).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from autoscorer.jobs.factory import build_service
from autoscorer.jobs.records import JobSubmission
from autoscorer.jobs.service import JobService
from autoscorer.pipeline.scoring import score
from autoscorer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "classification"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CONCURRENCY = 2


# -- workspaces ------------------------------------------------------------------
def copy_workspaces(root: Path, n: int, prefix: str) -> list[Path]:
    """N score-only copies of the example, without its previous outputs."""
    ignore = shutil.ignore_patterns("result.json", "artifacts")
    out = []
    for i in range(n):
        ws = root / f"{prefix}-{i:04d}"
        shutil.copytree(EXAMPLE, ws, ignore=ignore)
        out.append(ws)
    return out


# -- anchor and reference -----------------------------------------------------------
def direct(workspaces: list[Path]) -> float:
    """Seconds per job of score() called in a row in this process."""
    t0 = time.perf_counter()
    for ws in workspaces:
        score(ws)
    return (time.perf_counter() - t0) / len(workspaces)


def _warm(path: str) -> None:
    score(path)


def _score_one(path: str) -> float | None:
    return score(path).summary.score


def process_pool(pool: ProcessPoolExecutor, workspaces: list[Path]) -> float:
    """Wall seconds of score() on every workspace in an already warm process pool."""
    t0 = time.perf_counter()
    list(pool.map(_score_one, [str(w) for w in workspaces], chunksize=1))
    return time.perf_counter() - t0


# -- queue backends -----------------------------------------------------------------
def _stamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def run_jobs(service: JobService, workspaces: list[Path], lane: str, timeout: float) -> dict:
    """Submit one job per workspace, wait for all; wall clock and stored timings."""
    start_wall, t0 = time.time(), time.perf_counter()
    ids = [
        service.submit(JobSubmission(workspace_path=str(ws), config={"queue": lane})).job_id
        for ws in workspaces
    ]
    submitted = time.perf_counter() - t0
    deadline = time.monotonic() + timeout
    jobs = [service.wait(i, max(0.0, deadline - time.monotonic())) for i in ids]
    wall = time.perf_counter() - t0
    bad = [j for j in jobs if j.status != "completed"]
    if bad:
        j = bad[0]
        raise SystemExit(f"{len(bad)} job(s) not completed, e.g. {j.job_id}: {j.status} {j.error}")
    ends = [_stamp(j.completed_at) or 0.0 for j in jobs]
    in_slot = [(_stamp(j.completed_at) or 0) - (_stamp(j.started_at) or 0) for j in jobs]
    return {
        "wall": wall,
        "submit": submitted,
        "stored_wall": max(ends) - start_wall,
        "in_slot": statistics.median(in_slot),
        "pipeline": statistics.median(j.execution_time for j in jobs),
        "workers": len({j.worker_id for j in jobs}),
    }


def warm_service(service: JobService, workspaces: list[Path], lane: str, want: int) -> int:
    """Untimed warm-up: ``want`` jobs at a time until ``want`` distinct workers ran one
    (each Celery pool process opens its store and imports the scorer on its first job)."""
    seen: set[str] = set()
    for start in range(0, len(workspaces) - want + 1, want):
        ids = [
            service.submit(JobSubmission(workspace_path=str(ws), config={"queue": lane})).job_id
            for ws in workspaces[start : start + want]
        ]
        for job_id in ids:
            job = service.wait(job_id, 60)
            if job.status != "completed":
                raise SystemExit(f"warm-up job {job_id} ended {job.status}: {job.error}")
            seen.add(job.worker_id)
        if len(seen) >= want:
            break
    return len(seen)


def flush_redis(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = int(client.dbsize())
        client.flushdb()
        return keys
    finally:
        client.close()


class PgDatabase:
    """A fresh PostgreSQL database, dropped at the end."""

    def __init__(self) -> None:
        import psycopg

        self.name = f"autoscorer_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class WorkerProcess:
    """``autoscorer worker -Q <lane> -c 2`` in its own process group, output to a file."""

    def __init__(self, tmp: Path, env: dict[str, str], lane: str) -> None:
        self.log = tmp / "worker.log"
        argv = [sys.executable, "-m", "autoscorer.cli.main", "worker", "-Q", lane]
        argv += ["-c", str(CONCURRENCY), "--hostname", f"{lane}@%h"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=tmp,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def check(self) -> None:
        """Fail with the worker's output if it has exited."""
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"worker exited with {self.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # pool children left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


# -- report ------------------------------------------------------------------------
def fmt_row(name: str, wall: float, n: int, slots: int, d: float, pool_wall: float) -> str:
    """jobs/s, slot time ``wall * slots / n``, overhead against ``d`` and against the pool."""
    rate = n / wall
    per_slot = wall * slots / n
    vs_pool = (wall - pool_wall) * CONCURRENCY / n
    return (
        f"| {name} | {slots} | {wall:.2f} s | {rate:.1f} | x{rate * d:.2f} | "
        f"{per_slot * 1e3:.1f} ms | {(per_slot - d) * 1e3:+.1f} ms | {vs_pool * 1e3:+.1f} ms |"
    )


def med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=200, help="jobs per backend per round")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds (median)")
    ap.add_argument("--celery-store", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--redis-db", type=int, default=11, help="Redis db owned by the bench")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per backend run")
    ap.add_argument("--no-celery", action="store_true", help="skip Celery (no Redis needed)")
    ap.add_argument(
        "--no-pg", action="store_true", help="no PostgreSQL: skip in-process+PostgreSQL"
    )
    args = ap.parse_args()
    if args.no_pg and args.celery_store == "postgresql" and not args.no_celery:
        ap.error("--no-pg needs --celery-store sqlite or --no-celery")
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        run(Path(tmp), args)


class Backend:
    """One started job service, the routing key its jobs use, and its measured runs."""

    def __init__(self, name: str, service: JobService, lane: str, store: str) -> None:
        self.name, self.service, self.lane, self.store = name, service, lane, store
        self.runs: list[dict[str, Any]] = []


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run(tmp: Path, args: argparse.Namespace) -> None:
    n, started, tag = args.jobs, time.perf_counter(), uuid.uuid4().hex[:8]
    load_before = loadavg()
    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    warm = copy_workspaces(tmp, 8, "warm")
    score(warm[0])  # imports, font cache: not part of any figure
    base: dict[str, Any] = {"workspace_roots": [str(tmp)], "executor": "local"}
    cleanup: list[Callable[[], object]] = []
    backends: list[Backend] = []
    d_runs: list[float] = []
    p_runs: list[float] = []

    def pg_url() -> str:
        db = PgDatabase()
        cleanup.append(db.drop)
        return db.url

    def inprocess(name: str, url: str, store: str) -> None:
        settings = Settings(
            **base, database_url=url, queue="inprocess", queue_concurrency=CONCURRENCY
        )
        service = build_service(settings)
        cleanup.append(service.close)
        backend = Backend(name, service, f"bench-{tag}-{len(backends)}", store)
        warm_service(service, warm, backend.lane, 1)
        backends.append(backend)

    try:
        # forked before any service starts a thread or opens a connection
        pool = ProcessPoolExecutor(
            CONCURRENCY,
            mp_context=get_context("fork"),
            initializer=_warm,
            initargs=(str(warm[1]),),
        )
        cleanup.append(lambda: pool.shutdown(wait=True))
        list(pool.map(_score_one, [str(w) for w in warm[:4]]))

        inprocess("in-process queue, SQLite", f"sqlite:///{tmp / 'inprocess.db'}", "SQLite file")
        if not args.no_pg:
            inprocess("in-process queue, PostgreSQL", pg_url(), "fresh PostgreSQL database")
        if not args.no_celery:
            had = flush_redis(broker)
            cleanup.append(lambda: flush_redis(broker))
            if had:
                print(f"note: Redis db {args.redis_db} held {had} keys; flushed")
            if args.celery_store == "postgresql":
                url, store = pg_url(), "fresh PostgreSQL database"
            else:
                url, store = f"sqlite:///{tmp / 'celery.db'}", "SQLite file"
            settings = Settings(**base, database_url=url, queue="celery", broker_url=broker)
            service = build_service(settings)
            cleanup.append(service.close)
            lane = f"bench-{tag}-celery"
            env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
            env.update(
                AUTOSCORER_DATABASE_URL=url,
                AUTOSCORER_BROKER_URL=broker,
                AUTOSCORER_QUEUE="celery",
                AUTOSCORER_EXECUTOR="local",
                AUTOSCORER_WORKSPACE_ROOTS=json.dumps([str(tmp)]),
            )
            worker = WorkerProcess(tmp, env, lane)
            cleanup.append(worker.stop)
            # ready = it ran the warm-up jobs (its log level does not show Celery's "ready.")
            try:
                got = warm_service(service, warm, lane, CONCURRENCY)
            except SystemExit:
                worker.check()
                raise
            if got < CONCURRENCY:
                print(f"note: warm-up reached {got} of {CONCURRENCY} worker processes")
            name = f"Celery + Redis, 1 `autoscorer worker -c 2`, {args.celery_store}"
            backends.append(Backend(name, service, lane, store))

        for r in range(args.repeat):
            wss = copy_workspaces(tmp, n, f"r{r}")
            d_runs.append(direct(wss))
            p_runs.append(process_pool(pool, wss))
            for b in backends:
                b.runs.append(run_jobs(b.service, wss, b.lane, args.timeout))
            for ws in wss:
                shutil.rmtree(ws)
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as exc:  # keep cleaning up
                print(f"cleanup: {type(exc).__name__}: {exc}", file=sys.stderr)
    loads = f"load average {load_before} before, {loadavg()} after"
    report(args, n, d_runs, p_runs, backends, time.perf_counter() - started, broker, loads)


def report(
    args: argparse.Namespace,
    n: int,
    d_runs: list[float],
    p_runs: list[float],
    backends: list[Backend],
    total: float,
    broker: str,
    loads: str,
) -> None:
    d = statistics.median(d_runs)
    print(
        f"{n} score-only jobs per run (examples/classification, 240 rows, artifacts on), "
        f"{args.repeat} round(s), median; {os.cpu_count()} CPUs; whole run {total:.0f} s; {loads}"
    )
    print(f"d = direct score() per job = {d * 1e3:.1f} ms ({1 / d:.1f} jobs/s)")
    print("slot time per job = wall * slots / N; overhead = slot time - d;")
    print("overhead vs pool = (wall - wall of the 2-process pool) * 2 / N")
    print()
    print(
        "| run | slots | wall | jobs/s | jobs/s vs direct | slot time per job "
        "| overhead per job | overhead vs pool |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    pool_wall = statistics.median(p_runs)
    print(
        f"| `score()` direct, one process (anchor) | 1 | {d * n:.2f} s | {1 / d:.1f} | x1.00 | "
        f"{d * 1e3:.1f} ms | +0.0 ms | |"
    )
    pool_name = "`score()` in a 2-process pool, no queue"
    print(fmt_row(pool_name, pool_wall, n, CONCURRENCY, d, pool_wall))
    for b in backends:
        print(fmt_row(b.name, med(b.runs, "wall"), n, CONCURRENCY, d, pool_wall))
    print()
    print(
        "| run | submitting N | accepted/s while running | last completed_at - first submit "
        "| claim -> completed_at per job | pipeline total_time per job | workers |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for b in backends:
        runs = b.runs
        print(
            f"| {b.name} | {med(runs, 'submit'):.2f} s | {n / med(runs, 'submit'):.0f} | "
            f"{med(runs, 'stored_wall'):.2f} s | {med(runs, 'in_slot') * 1e3:.1f} ms | "
            f"{med(runs, 'pipeline') * 1e3:.1f} ms | {int(med(runs, 'workers'))} |"
        )
    print()
    for b in backends:
        print(f"{b.name}: store = {b.store}")
    if not args.no_celery:
        print(f"broker {broker} (flushed before and after)")
    rounds = {
        "direct_ms": [round(x * 1e3, 2) for x in d_runs],
        "pool_s": [round(x, 3) for x in p_runs],
    }
    rounds.update({b.name: [round(r["wall"], 3) for r in b.runs] for b in backends})
    print("rounds (wall s):", json.dumps(rounds))


if __name__ == "__main__":
    main()
