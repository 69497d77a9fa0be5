"""Never stuck: a running job whose lease ran out lost its worker. Requeue it
(up to ``max_attempts`` runs in all), else fail it with ``WORKER_LOST``. A job queued
for longer than ``requeue_after`` seconds lost its queue message: publish it again.

Runs in the API process and in every Celery worker; the conditional update in
:meth:`JobStore.release` makes several reapers safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from autoscorer.errors import WorkerLost
from autoscorer.jobs.events import JobEvent, publish
from autoscorer.jobs.records import JobRecord, JobStatus, JobStatusView, now
from autoscorer.jobs.republish import stale_queued
from autoscorer.jobs.store import JobStore
from autoscorer.pipeline.scoring import failure_result

log = logging.getLogger("autoscorer.jobs.reaper")


class Reaper:
    def __init__(
        self,
        store: JobStore,
        requeue: Callable[[JobStatusView], None],
        *,
        max_attempts: int = 3,
        interval: float = 5.0,
        requeue_after: float = 0.0,
    ) -> None:
        self.store, self.requeue = store, requeue
        self.max_attempts, self.interval = max_attempts, interval
        self.requeue_after = requeue_after  # 0: never re-publish
        self.chores: list[Callable[[], Any]] = []  # other periodic housekeeping
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            for chore in [self.reap, self.republish, *self.chores]:
                try:
                    chore()
                except Exception:  # the store is briefly unreachable: look again later
                    log.warning("%s failed", getattr(chore, "__name__", chore), exc_info=True)

    def reap(self) -> list[str]:
        """One pass; returns the ids it moved."""
        moved = []
        at = now()
        for job in self.store.expired(at):
            if self._release(job, at):
                moved.append(job.job_id)
        return moved

    def republish(self) -> list[str]:
        """Publish jobs queued for longer than ``requeue_after`` again; returns their ids."""
        if self.requeue_after <= 0:
            return []
        at = now()
        jobs = stale_queued(self.store, at - timedelta(seconds=self.requeue_after), at)
        for job in jobs:
            try:
                self.requeue(job)
            except Exception:  # broker unreachable: the job stays queued, tried next period
                log.warning("re-publishing job %s failed", job.job_id, exc_info=True)
        return [job.job_id for job in jobs]

    def _release(self, job: JobRecord, at: datetime) -> bool:
        job_id, worker = job.job_id, job.worker_id
        if job.attempts < self.max_attempts:
            done = self.store.release(job_id, JobStatus.QUEUED, at, stage="requeued", progress=0.0)
            if done is None:
                return False
            self.store.add_log(job_id, "WARNING", "reaper", f"worker {worker} lost; requeued")
            publish(JobEvent(job_id, JobStatus.QUEUED, JobStatus.RUNNING, done))
            self.requeue(done)
            return True
        return self._fail(job, at)

    def _fail(self, job: JobRecord, at: datetime) -> bool:
        job_id = job.job_id
        exc = WorkerLost(
            f"the worker running this job vanished {job.attempts} time(s); giving up",
            details={"attempts": job.attempts, "worker_id": job.worker_id},
        )
        error = exc.to_dict()
        result = failure_result(exc, scorer=job.scorer).to_json_dict()
        fields = {"error": error, "error_code": exc.code, "completed_at": at, "result": result}
        done = self.store.release(job_id, JobStatus.FAILED, at, stage="failed", **fields)
        if done is None:
            return False
        self.store.add_log(job_id, "ERROR", "reaper", f"[WORKER_LOST] {error['message']}")
        publish(JobEvent(job_id, JobStatus.FAILED, JobStatus.RUNNING, done))
        return True
