"""The Celery queue backend (producer side): send a job id to its routing key."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from autoscorer.jobs.queues.base import SCORE_QUEUE, Delivery, JobQueue, task_id
from autoscorer.jobs.records import JobStatusView
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.jobs.celery")


class CeleryQueue(JobQueue):
    name = "celery"

    def __init__(self, app: Celery) -> None:
        self.app = app

    @classmethod
    def from_settings(cls, settings: Settings) -> CeleryQueue:
        from autoscorer.jobs.queues.celery_app import make_app

        return cls(make_app(settings))

    def enqueue(self, job: JobStatusView) -> None:
        from autoscorer.jobs.queues.celery_app import TASK

        sent = Delivery.of(job, SCORE_QUEUE)
        # the message is the job id alone, as workers of earlier releases expect it
        self.app.send_task(TASK, args=[sent.job_id], queue=sent.queue, task_id=sent.task_id)

    def cancel(self, job_id: str, reason: str) -> None:
        """Revoke undelivered messages; a running job stops on its next heartbeat."""
        try:
            self.app.control.revoke([task_id(job_id, n) for n in range(0, 4)])
        except Exception as exc:  # revoke is an optimisation; the claim guard is the rule
            log.warning("revoking %s failed: %s", job_id, exc)

    def close(self) -> None:
        self.app.close()

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "broker": self.app.conf.broker_url.split("@")[-1]}
