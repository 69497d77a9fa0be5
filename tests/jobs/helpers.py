"""Shared pieces of the job-system tests: workspaces, databases, brokers, worker processes.

Everything talks to 127.0.0.1 only. Imported as ``tests.jobs.helpers`` (like
``tests.api.conftest``); the subprocess scripts next to it import it the same way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import psutil

from autoscorer.jobs.records import JobRecord

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "classification"
RUN = uuid.uuid4().hex[:8]  # this test session: database, queue and worker names
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/9"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
LEASE_SECONDS = 3.0
TERMINAL = ("completed", "failed", "cancelled")
ORDER = ("submitted", "queued", "running", "completed", "failed", "cancelled")

T = TypeVar("T")
_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{RUN}-{next(_names)}"


# -- waiting ----------------------------------------------------------------------
def wait_for(probe: Callable[[], T | None], timeout: float, what: str, step: float = 0.05) -> T:
    """``probe()`` once it is truthy; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def wait_terminal(service: Any, job_id: str, timeout: float = 30) -> JobRecord:
    def probe() -> JobRecord | None:
        job: JobRecord = service.get(job_id)
        return job if job.status in TERMINAL else None

    return wait_for(probe, timeout, f"job {job_id} to finish")


def wait_all_terminal(service: Any, ids: Iterable[str], timeout: float = 60) -> list[JobRecord]:
    deadline = time.monotonic() + timeout
    return [wait_terminal(service, i, max(0.1, deadline - time.monotonic())) for i in ids]


# -- workspaces -------------------------------------------------------------------
def score_workspace(
    root: Path, name: str | None = None, *, broken: bool = False, accuracy: bool = False
) -> Path:
    """A copy of examples/classification (score-only); ``broken`` has no predictions;
    ``accuracy`` names classification_accuracy in meta.json (it takes no F1 parameters)."""
    ws = root / (name or unique("ws"))
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns("result.json", "artifacts"))
    if broken:
        (ws / "output" / "pred.csv").unlink()
    if accuracy:
        meta = json.loads((ws / "meta.json").read_text())
        meta.update(scorer="classification_accuracy", scorer_params={})
        (ws / "meta.json").write_text(json.dumps(meta))
    return ws


def sleeper_workspace(root: Path, seconds: float, name: str | None = None) -> tuple[Path, str]:
    """A workspace whose inference (local executor) sleeps, then writes a correct pred.csv.

    Returns (workspace, marker): the marker is the exact sleep argument, unique to this
    workspace, so the sandbox's processes can be found on the host."""
    ws = score_workspace(root, name)
    (ws / "output" / "pred.csv").rename(ws / "input" / "answer.csv")
    marker = f"{seconds:.0f}.{random.randrange(10**8, 10**9)}"
    cmd = f"sleep {marker}; cp /workspace/input/answer.csv /workspace/output/pred.csv"
    meta = json.loads((ws / "meta.json").read_text())
    meta["container"] = {"image": "local", "cmd": ["sh", "-c", cmd]}
    meta["time_limit"] = 120
    meta["resources"] = {"cpu": 1, "memory": "256Mi", "pids": 32}
    (ws / "meta.json").write_text(json.dumps(meta))
    return ws, marker


def sandbox_processes(marker: str) -> list[psutil.Process]:
    """Processes on this host whose command line holds ``marker`` (sleep, sh, bwrap)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and marker in " ".join(proc.info["cmdline"] or ()):
                found.append(proc)
    return found


def kill_sandboxes(marker: str) -> None:
    """Clean up after a test: the sandboxes it started (found by their unique marker)."""
    for proc in sandbox_processes(marker):
        with contextlib.suppress(psutil.Error):
            proc.kill()


# -- databases and brokers -----------------------------------------------------------
_DB_NUMBERS = itertools.count(1)  # shared by every PgDatabases: names never collide in a session


class PgDatabases:
    """Fresh PostgreSQL databases for this session, all dropped at its end."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def create(self) -> str:
        import psycopg

        name = f"autoscorer_test_{RUN}_{next(_DB_NUMBERS)}"
        with psycopg.connect(_plain(PG_ADMIN), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(_plain(PG_ADMIN), autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_plain(PG_ADMIN), connect_timeout=3):
            return True
    except Exception:
        return False


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()


def delete_amqp_queues(names: Iterable[str]) -> None:
    from kombu import Connection

    with Connection(AMQP_URL, connect_timeout=5) as conn:
        channel = conn.channel()
        for name in names:
            with contextlib.suppress(Exception):
                channel.queue_delete(name)
                channel.exchange_delete(name)
        channel.close()


BROKERS = {"redis": REDIS_URL, "rabbitmq": AMQP_URL}


class Brokers:
    """The session's broker use: Redis db 9 flushed before its first use, the RabbitMQ
    queues it declared deleted at the end."""

    def __init__(self) -> None:
        self.flushed = False
        self.amqp_queues: list[str] = []

    def use(self, broker: str, lane: str) -> str:
        if broker == "redis" and not self.flushed:
            flush_redis()
            self.flushed = True
        if broker == "rabbitmq":
            self.amqp_queues.append(lane)
        return BROKERS[broker]

    def cleanup(self) -> None:
        if self.amqp_queues:
            delete_amqp_queues(self.amqp_queues)


# -- worker processes ---------------------------------------------------------------
def worker_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env.update(
        AUTOSCORER_DATABASE_URL=database_url,
        AUTOSCORER_BROKER_URL=broker_url,
        AUTOSCORER_QUEUE="celery",
        AUTOSCORER_EXECUTOR="local",
        AUTOSCORER_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
        AUTOSCORER_REAPER_INTERVAL="1",
        AUTOSCORER_JOB_MAX_ATTEMPTS="3",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    )
    env.update(extra)
    return env


class Worker:
    """``autoscorer worker`` in its own process group, its output in a file."""

    def __init__(
        self,
        log_dir: Path,
        database_url: str,
        broker_url: str,
        queue: str,
        *,
        pool: str = "prefork",
        concurrency: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = unique("w")
        self.broker_url = broker_url
        self.log_path = log_dir / f"{self.name}.log"
        argv = [sys.executable, "-m", "autoscorer.cli.main", "worker", "-Q", queue]
        argv += ["-c", str(concurrency), "--pool", pool, "--hostname", f"{self.name}@%h"]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=worker_env(database_url, broker_url, **(env or {})),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: stopped as one, by its id
                cwd=str(log_dir),
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, app: Any, timeout: float = 60) -> None:
        """Until the worker answers a broadcast ping on the broker (its log format is not
        ours to rely on)."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited:\n{self.output()}")
            replies = app.control.ping(timeout=0.5) or []
            return any(name.startswith(f"{self.name}@") for r in replies for name in r)

        wait_for(ready, timeout, f"worker {self.name} to be ready", step=0.1)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> set[int]:
        """The worker and its pool children."""
        try:
            root = psutil.Process(self.proc.pid)
            return {root.pid, *(c.pid for c in root.children(recursive=True))}
        except psutil.Error:
            return set()

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, grace: float = 10) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # pool children left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def status_sequence_ok(seen: list[str]) -> bool:
    """Statuses observed by polling only ever move forward."""
    ranks = [ORDER.index(s) for s in seen]
    return ranks == sorted(ranks) and sum(s in TERMINAL for s in seen) <= 1
