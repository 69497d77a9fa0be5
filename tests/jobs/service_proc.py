"""A job service (in-process queue) in its own process, for the fault tests.

python tests/jobs/service_proc.py restart <db_url> <root> <sleeper_ws> <n> <score_ws>...
    submits the sleeper, then n score-only jobs (3 s lease); prints their ids as one JSON line
    and waits to be killed.
python tests/jobs/service_proc.py client <db_url> <root> <ws> <n> <start_at>
    at the wall-clock time start_at submits n jobs of ws (30 s lease), prints their ids as one
    JSON line, and exits once every one of them is terminal.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from autoscorer.jobs.factory import build_service
from autoscorer.jobs.records import JobSubmission
from autoscorer.jobs.service import JobService
from autoscorer.settings import Settings


def service(db_url: str, root: str, concurrency: int, lease: float) -> JobService:
    settings: dict[str, Any] = {
        "database_url": db_url,
        "queue": "inprocess",
        "executor": "local",
        "queue_concurrency": concurrency,
        "job_lease_seconds": lease,
        "reaper_interval": 1.0,
        "workspace_roots": [root],
    }
    return build_service(Settings(**settings))


def restart(db_url: str, root: str, sleeper: str, n: str, *workspaces: str) -> None:
    svc = service(db_url, root, 1, 3.0)
    first = svc.submit(JobSubmission(workspace_path=sleeper, config={"queue": "slow"}))
    # the same lane as the sleeper, behind it: still queued when the service is killed
    ids = [
        svc.submit(
            JobSubmission(workspace_path=workspaces[i % len(workspaces)], config={"queue": "slow"})
        ).job_id
        for i in range(int(n))
    ]
    print(json.dumps({"sleeper": first.job_id, "jobs": ids}), flush=True)
    time.sleep(600)  # until killed


def client(db_url: str, root: str, ws: str, n: str, start_at: str) -> None:
    svc = service(db_url, root, 2, 30.0)
    time.sleep(max(0.0, float(start_at) - time.time()))
    ids = [svc.submit(JobSubmission(workspace_path=ws)).job_id for _ in range(int(n))]
    print(json.dumps(ids), flush=True)
    deadline = time.monotonic() + 240
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        pending &= set(svc.store.ids_with_status(["submitted", "queued", "running"]))
        time.sleep(0.2)
    svc.close()
    sys.exit(1 if pending else 0)


if __name__ == "__main__":
    {"restart": restart, "client": client}[sys.argv[1]](*sys.argv[2:])
