"""The REST API under load from ``wrk``: job status and async submits, SQLite and Celery.

    python3 bench/bench_wrk.py [--duration 5] [--connections 32] [--backends sqlite,celery]

Bounded runs on 127.0.0.1 only. For each back end one ``autoscorer serve`` process:

- ``sqlite``: zero configuration (a SQLite file, the in-process queue with 2 job threads);
- ``celery``: a fresh PostgreSQL database and Celery over Redis (db ``--redis-db``, flushed
  before and after), jobs routed to a lane of their own and run by one ``autoscorer worker
  -c 2`` (two prefork worker processes).

Then ``wrk -t2 -cN -dDs --latency``: ``GET /api/v1/jobs/{id}/status`` of a finished job,
and asynchronous ``POST /api/v1/jobs`` with unique ids from ``bench/wrk_submit.lua``.
The backlog the submits leave is not waited for (the server and worker are stopped).
Goals: status p99 < 50 ms; async submits >= 500/s with p99 < 100 ms on SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from bench_api import ANCHOR_APP, EXAMPLE, free_port, start, wrk

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk_submit.lua"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _serve(tmp: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "autoscorer.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        start_wait(base, proc)
    except BaseException:
        _stop(proc)
        raise
    return base, proc


def start_wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.get(f"{base}/health", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def measure(base: str, workspace: Path, lane: str | None, args: argparse.Namespace) -> list[str]:
    body: dict[str, object] = {"workspace_path": str(workspace)}
    if lane:
        body["config"] = {"queue": lane}
    first = httpx.post(f"{base}/api/v1/jobs", json=body, timeout=120)  # sync: runs it
    first.raise_for_status()
    job_id = first.json()["data"]["job_id"]
    status = wrk(f"{base}/api/v1/jobs/{job_id}/status", args.duration, args.connections)
    os.environ["BENCH_WORKSPACE"] = str(workspace)
    os.environ["BENCH_QUEUE"] = lane or ""
    submit = wrk(base, args.duration, args.connections, LUA)
    return [
        _row("GET /api/v1/jobs/{id}/status", status, p99_goal=50.0),
        _row("POST /api/v1/jobs async (accepted/s)", submit, p99_goal=100.0, rps_goal=500.0),
    ]


def _row(name: str, r: dict, p99_goal: float, rps_goal: float | None = None) -> str:
    ok = r["p99"] < p99_goal and (rps_goal is None or r["rps"] >= rps_goal)
    goal = f"p99 < {p99_goal:g} ms" + (f", >= {rps_goal:g}/s" if rps_goal else "")
    return (
        f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | "
        f"{goal}: {'met' if ok else 'NOT met'} |"
    )


def sqlite_backend(tmp: Path, args: argparse.Namespace) -> list[str]:
    workspace = shutil.copytree(EXAMPLE, tmp / "ws")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env.update(
        AUTOSCORER_WORKSPACE_ROOTS=json.dumps([str(tmp)]),
        AUTOSCORER_DATABASE_URL=f"sqlite:///{tmp / 'jobs.db'}",
        AUTOSCORER_EXECUTOR="local",
    )
    base, server = _serve(tmp, env)
    try:
        return measure(base, workspace, None, args)
    finally:
        _stop(server)


def celery_backend(tmp: Path, args: argparse.Namespace) -> list[str]:
    workspace = shutil.copytree(EXAMPLE, tmp / "ws")
    db = f"autoscorer_wrk_{uuid.uuid4().hex[:10]}"
    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    lane = f"wrk-{uuid.uuid4().hex[:8]}"
    _pg(f'CREATE DATABASE "{db}"')
    _flush_redis(broker)
    cleanup: list[Callable[[], None]] = [
        lambda: _pg(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'),
        lambda: _flush_redis(broker),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env.update(
        AUTOSCORER_WORKSPACE_ROOTS=json.dumps([str(tmp)]),
        AUTOSCORER_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
        AUTOSCORER_BROKER_URL=broker,
        AUTOSCORER_QUEUE="celery",
        AUTOSCORER_EXECUTOR="local",
    )
    try:
        base, server = _serve(tmp, env)
        cleanup.insert(0, lambda: _stop(server))
        with (tmp / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "autoscorer.cli.main", "worker", "-Q", lane, "-c", "2"],
                cwd=tmp,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cleanup.insert(0, lambda: _stop(worker))
        return measure(base, workspace, lane, args)
    finally:
        for step in cleanup:
            step()


def anchor(tmp: Path, args: argparse.Namespace) -> dict:
    """``wrk`` on a bare ASGI app returning a same-sized JSON body, under the same uvicorn."""
    (tmp / "anchor.py").write_text(ANCHOR_APP)
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "anchor:app", "--app-dir", str(tmp)]
    cmd += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = start(cmd, tmp, dict(os.environ), f"http://127.0.0.1:{port}/")
    try:
        return wrk(f"http://127.0.0.1:{port}/", args.duration, args.connections)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--backends", default="sqlite,celery")
    ap.add_argument("--redis-db", type=int, default=12)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    backends = {"sqlite": sqlite_backend, "celery": celery_backend}
    with tempfile.TemporaryDirectory(prefix="bench-wrk-anchor-") as tmp:
        a = anchor(Path(tmp), args)
    print(
        f"anchor (bare ASGI JSON app, same uvicorn): {a['rps']:,.0f} req/s, p50 {a['p50']:.2f} ms, "
        f"p99 {a['p99']:.2f} ms: how fast this machine serves HTTP right now"
    )
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-wrk-{name}-") as tmp:
            rows = backends[name](Path(tmp), args)
        print(f"\n{name}: wrk -t2 -c{args.connections} -d{args.duration:g}s, 1 server process")
        print("| request | req/s | p50 ms | p99 ms | non-2xx | goal |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
