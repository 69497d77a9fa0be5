"""A job service (in-process queue, webhooks on) in its own process, for the outbox tests.

python tests/jobs/outbox_proc.py submit <db_url> <root> <ws> <callback_url>
    submits one job of ws with the callback URL, prints its id once it is terminal, and
    waits to be killed (its drainer keeps retrying the deliveries meanwhile).
python tests/jobs/outbox_proc.py serve <db_url> <root>
    only runs the service (its drainer delivers what is due) until killed.
"""

from __future__ import annotations

import sys
import time

from autoscorer.jobs.factory import build_service
from autoscorer.jobs.records import JobSubmission
from autoscorer.jobs.service import JobService
from autoscorer.settings import Settings


def service(db_url: str, root: str) -> JobService:
    return build_service(
        Settings(
            database_url=db_url,
            queue="inprocess",
            executor="local",
            workspace_roots=[root],
            webhook_secret="whsec-test",
            webhook_allowed_hosts=["127.0.0.1"],
        )
    )


def submit(db_url: str, root: str, ws: str, url: str) -> None:
    svc = service(db_url, root)
    job = svc.submit(JobSubmission(workspace_path=ws, callback_url=url))
    svc.wait(job.job_id, 60)
    print(job.job_id, flush=True)
    time.sleep(600)  # until killed


def serve(db_url: str, root: str) -> None:
    service(db_url, root)
    time.sleep(600)  # until killed


if __name__ == "__main__":
    {"submit": submit, "serve": serve}[sys.argv[1]](*sys.argv[2:])
