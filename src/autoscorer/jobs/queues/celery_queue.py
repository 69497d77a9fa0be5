"""The Celery queue backend (producer side): send a job id to its routing key."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from autoscorer.jobs.queues.base import JobQueue
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.jobs.celery")


def task_id(job: dict[str, Any]) -> str:
    """One message id per delivery attempt, so a revoke names them all."""
    return f"{job['job_id']}#{job.get('attempts', 0)}"


class CeleryQueue(JobQueue):
    name = "celery"

    def __init__(self, app: Celery) -> None:
        self.app = app

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryQueue:
        from autoscorer.jobs.queues.celery_app import make_app

        return cls(make_app(settings))

    def enqueue(self, job: dict[str, Any]) -> None:
        from autoscorer.jobs.queues.celery_app import TASK

        queue = job.get("queue") or "score"
        self.app.send_task(TASK, args=[job["job_id"]], queue=queue, task_id=task_id(job))

    def cancel(self, job_id: str, reason: str) -> None:
        """Revoke undelivered messages; a running job stops on its next heartbeat."""
        try:
            job = {"job_id": job_id}
            ids = [task_id({**job, "attempts": n}) for n in range(0, 4)]
            self.app.control.revoke(ids)
        except Exception as exc:  # revoke is an optimisation; the claim guard is the rule
            log.warning("revoking %s failed: %s", job_id, exc)

    def close(self) -> None:
        self.app.close()

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "broker": self.app.conf.broker_url.split("@")[-1]}
