"""The job service: what the API, CLI and SDKs talk to (implements the API's
``JobServicePort``). Submissions are checked up front (workspace, scorer) so a
bad request fails at once instead of as a job; everything else happens in a
worker through the queue backend.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any, Literal, overload

from autoscorer.errors import Cancelled, Conflict, ResourceNotFound, ServiceUnavailable
from autoscorer.jobs.eta import CachedDurations, DurationSource, expected
from autoscorer.jobs.events import JobEvent, publish, subscribe
from autoscorer.jobs.idempotency import IdempotencyKeys
from autoscorer.jobs.overrides import check_config
from autoscorer.jobs.queues.base import JobQueue, queue_name
from autoscorer.jobs.reaper import Reaper
from autoscorer.jobs.records import (
    WAITING,
    BatchSubmission,
    JobRecord,
    JobStatus,
    JobStatusView,
    JobSubmission,
    LogEntry,
    NewJob,
    now,
)
from autoscorer.jobs.stats import CachedStats
from autoscorer.jobs.store import JobStore
from autoscorer.pipeline.plan import plan_job
from autoscorer.pipeline.scoring import failure_result
from autoscorer.webhooks import check_url
from autoscorer.workspace.artifacts import OpenArtifact, open_artifact
from autoscorer.workspace.layout import Workspace

WAIT_STEPS = (0.02, 0.05, 0.1, 0.2, 0.25)  # polling back-off of wait(), seconds

Views = list[JobStatusView]  # module level: the classes shadow ``list``
QUEUED, FAILED, CANCELLED = JobStatus.QUEUED, JobStatus.FAILED, JobStatus.CANCELLED


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex[:16]}"


def prepare(
    job: JobSubmission,
    default_executor: str = "auto",
    durations: DurationSource | None = None,
    *,
    privileged: bool = True,
) -> NewJob:
    """Resolve the job's plan (meta.json + overrides, scorer) to refuse a bad job now rather
    than as a failed job later, pick its queue and estimate its end. Not ``privileged``
    (a submitter's request): ``config`` may only make limits stricter."""
    ws = Workspace.at(job.workspace_path)  # resolved now; the worker refuses any change
    config = dict(job.config)
    meta = ws.load_meta()
    check_config(config, meta, privileged=privileged)
    plan = plan_job(ws, scorer=job.scorer, overrides=config, meta=meta)
    executor = job.executor or default_executor
    executor = "kubernetes" if executor == "k8s" else executor
    recent = durations.recent_durations(plan.scorer.name) if durations is not None else ()
    seconds = expected(plan.meta.time_limit, plan.meta.container is not None, recent)
    return NewJob(
        job_id=job.job_id or new_job_id(),
        task_type=job.task_type or plan.meta.task_type,
        scorer=plan.scorer.name,
        workspace_path=str(ws.root),
        executor=executor,
        config=config,
        queue=queue_name(plan.meta, executor, config),
        callback_url=job.callback_url,
        request_id=job.request_id,
        owner=job.owner,
        estimated_completion=now() + timedelta(seconds=seconds),
    )


class JobService:
    """Submit, look up, cancel and count jobs over a store and a queue backend."""

    def __init__(self, store: JobStore, queue: JobQueue, *, reaper: Reaper | None = None) -> None:
        self.store, self.queue, self.reaper = store, queue, reaper
        self.default_executor = "auto"
        self.inline_reads = store.engine.dialect.name == "sqlite"
        self.allowed_callback_hosts: Callable[[], list[str]] | None = None
        self.on_close: list[Callable[[], None]] = []
        self.keys = IdempotencyKeys(store.session, store.reader)
        self.durations = CachedDurations(store)
        self.stats = CachedStats(store.scorer_stats)
        self._waiters: dict[str, list[threading.Event]] = {}
        self._waiters_lock = threading.Lock()
        self.on_close.append(subscribe(self._wake))
        self._purged_at = 0.0
        if reaper is not None:
            reaper.chores.append(self.purge_keys)

    def start(self, *, recover: bool = True) -> None:
        """Start the queue (and reaper); re-deliver jobs a previous process left queued."""
        self.queue.start()
        if recover:
            for job_id in self.store.ids_with_status(WAITING):
                self.queue.enqueue(self.store.get(job_id))
        if self.reaper is not None:
            self.reaper.start()

    def close(self) -> None:
        if self.reaper is not None:
            self.reaper.stop()
        self.queue.close()
        for hook in self.on_close:
            hook()
        self.store.close()

    # -- submit ---------------------------------------------------------------
    def submit(self, job: JobSubmission, *, privileged: bool = True) -> JobRecord:
        """One transaction stores the job as ``queued`` with its first log line.
        ``privileged`` False: the job's ``config`` may only make limits stricter."""
        record = self.store.add(self._prepare(job, privileged), status=QUEUED, log=True)
        return self._deliver(record)

    def _prepare(self, job: JobSubmission, privileged: bool) -> NewJob:
        """Checked fields of a new job; a callback URL outside the allow-list is refused."""
        if job.callback_url and self.allowed_callback_hosts is not None:
            check_url(job.callback_url, self.allowed_callback_hosts())
        return prepare(job, self.default_executor, self.durations, privileged=privileged)

    def submit_batch(
        self,
        jobs: Sequence[JobSubmission],
        *,
        max_parallel: int | None = None,
        privileged: bool = True,
    ) -> BatchSubmission:
        """All or nothing: every job is checked before any is stored."""
        batch_id = f"batch-{uuid.uuid4().hex[:12]}"
        prepared = [
            replace(
                self._prepare(j, privileged), batch_id=batch_id, batch_max_parallel=max_parallel
            )
            for j in jobs
        ]
        records = self.store.add_many(prepared, status=QUEUED, log=True)
        return BatchSubmission(batch_id, max_parallel, tuple(self._deliver(r) for r in records))

    def _deliver(self, record: JobRecord) -> JobRecord:
        publish(JobEvent(record.job_id, QUEUED, JobStatus.SUBMITTED, record))
        try:
            self.queue.enqueue(record)
        except Exception as exc:  # broker unreachable: fail the job now, never leave it queued
            raise self._undeliverable(record, exc) from exc
        return record

    def _undeliverable(self, record: JobRecord, cause: Exception) -> ServiceUnavailable:
        exc = ServiceUnavailable(
            f"the job queue ({self.queue.name}) did not accept job {record.job_id}: {cause}; "
            "check the broker and submit again",
            details={"component": "queue", "job_id": record.job_id},
        )
        stamp = now()
        failed = self.store.transition(
            record.job_id, FAILED, allowed_from=WAITING,
            completed_at=stamp, stage="failed", error=exc.to_dict(), error_code=exc.code,
            result=failure_result(exc, scorer=record.scorer).to_json_dict(),
        )  # fmt: skip
        self.store.add_log(record.job_id, "ERROR", "api", exc.message)
        if failed is not None:
            publish(JobEvent(record.job_id, FAILED, QUEUED, failed))
        return exc

    # -- read -------------------------------------------------------------------
    @overload
    def get(self, job_id: str, *, result: Literal[True] = True) -> JobRecord: ...

    @overload
    def get(self, job_id: str, *, result: bool) -> JobStatusView: ...

    def get(self, job_id: str, *, result: bool = True) -> JobStatusView:
        return self.store.get(job_id, result=result)

    def artifact(self, job_id: str, name: str) -> OpenArtifact:
        """One artifact the job's result lists, by its name or file name, opened for reading."""
        job = self.store.get(job_id)
        listed = (job.result or {}).get("artifacts") or {}
        for key, entry in listed.items():
            filename = PurePosixPath(str(entry.get("path", ""))).name
            if name in (key, filename):
                return open_artifact(Workspace.at(job.workspace_path), key, filename)
        raise ResourceNotFound(
            f"job {job_id} has no artifact {name!r}"
            + (f"; it has {', '.join(sorted(listed))}" if listed else ""),
            field="name",
            details={"job_id": job_id, "artifact": name, "available": sorted(listed)},
        )

    def wait(self, job_id: str, timeout: float) -> JobStatusView:
        """The job once terminal, or as it is when ``timeout`` seconds have passed. Jobs that
        end in this process wake the waiter at once; others are polled with a back-off."""
        done = threading.Event()
        with self._waiters_lock:
            self._waiters.setdefault(job_id, []).append(done)
        try:
            deadline, step = time.monotonic() + timeout, 0
            while True:
                job = self.store.get(job_id, result=False)
                left = deadline - time.monotonic()
                if job.terminal:
                    return self.store.get(job_id)
                if left <= 0:
                    return job
                done.wait(min(WAIT_STEPS[min(step, len(WAIT_STEPS) - 1)], left))
                step += 1
        finally:
            with self._waiters_lock:
                self._waiters[job_id].remove(done)
                if not self._waiters[job_id]:
                    del self._waiters[job_id]

    def _wake(self, event: JobEvent) -> None:
        if event.status.terminal:
            with self._waiters_lock:
                for done in self._waiters.get(event.job_id, ()):
                    done.set()

    def logs(
        self, job_id: str, *, level: str | None, since: str | None, tail: int | None
    ) -> tuple[list[LogEntry], int]:
        return self.store.logs(job_id, level=level, since=since, tail=tail)

    def list(self, **filters: Any) -> tuple[Views, int]:
        return self.store.list(**filters)

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def scorer_stats(self, max_age: float | None = None) -> dict[str, dict[str, Any]]:
        """Per-scorer usage, refreshed in the background once ``stats.STATS_TTL`` (2 s) old."""
        return self.stats.get(max_age)

    # -- Idempotency-Key ---------------------------------------------------------
    def idempotency_reserve(
        self, scope: str, key: str, digest: str
    ) -> tuple[int, dict[str, Any]] | None:
        return self.keys.reserve(scope, key, digest)

    def idempotency_complete(self, scope: str, key: str, status: int, data: dict[str, Any]) -> None:
        self.keys.complete(scope, key, status, data)

    def idempotency_release(self, scope: str, key: str) -> None:
        self.keys.release(scope, key)

    def purge_keys(self) -> None:
        """Forget expired idempotency keys, at most every ten minutes."""
        if time.monotonic() - self._purged_at > 600:
            self._purged_at = time.monotonic()
            self.keys.purge()

    # -- cancel -----------------------------------------------------------------
    def cancel(self, job_id: str, reason: str = "User requested cancellation") -> JobRecord:
        """Queued: never starts. Running: its sandbox is stopped within about a second.
        Finished: :class:`Conflict`."""
        job = self.store.get(job_id)
        exc = Cancelled(reason, details={"previous_status": job.status.value})
        stamp = now()
        done = self.store.transition(
            job_id,
            CANCELLED,
            allowed_from=(*WAITING, JobStatus.RUNNING),
            cancelled_at=stamp,
            completed_at=stamp,
            cancel_reason=reason,
            lease_until=None,
            stage="cancelled",
            error=exc.to_dict(),
            error_code=exc.code,
            result=failure_result(exc, scorer=job.scorer).to_json_dict(),
        )
        if done is None:
            raise _finished(self.store.get(job_id))
        self.queue.cancel(job_id, reason)
        self.store.add_log(job_id, "WARNING", "api", f"cancelled: {reason}")
        publish(JobEvent(job_id, CANCELLED, job.status, done))
        return done


def _finished(job: JobStatusView) -> Conflict:
    return Conflict(
        f"job {job.job_id} is already {job.status.value} and cannot be cancelled",
        field="job_id",
        details={"job_id": job.job_id, "status": job.status.value},
    )
