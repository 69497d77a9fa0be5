"""Run one job in a worker: claim it, run the pipeline under a lease, store the outcome.

Used by every queue backend. The claim is a conditional UPDATE, so a job that is
delivered twice runs once; a heartbeat thread renews the lease, writes progress,
and notices a cancellation made elsewhere (the API) so the sandbox is stopped
within about a heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from enum import Enum
from typing import Any

from autoscorer.jobs.eta import Expected, estimate
from autoscorer.jobs.events import JobEvent, publish
from autoscorer.jobs.joblogs import Entry
from autoscorer.jobs.records import JobRecord, JobStatus, now
from autoscorer.jobs.store import JobStore
from autoscorer.logcontext import bind_context
from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_pipeline
from autoscorer.settings import Settings
from autoscorer.workspace.models import ResourceUsage, Result

log = logging.getLogger("autoscorer.jobs.runner")
QUEUE_KEYS = ("queue", "max_parallel")  # job config read by the queue, not the pipeline
QUEUED, RUNNING = JobStatus.QUEUED, JobStatus.RUNNING


class Outcome(Enum):
    DONE = "done"  # ran to a terminal state (or was cancelled while running)
    SKIPPED = "skipped"  # already finished or cancelled: nothing to do
    BUSY = "busy"  # held by another live worker or its batch is at max_parallel


def new_worker_id(kind: str = "worker") -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobRunner:
    """Runs jobs for one worker identity."""

    def __init__(
        self,
        store: JobStore,
        worker_id: str,
        *,
        lease_seconds: float = 30.0,
        settings: Settings | None = None,
    ) -> None:
        self.store, self.worker_id, self.lease = store, worker_id, lease_seconds
        self.settings = settings  # executors are built from it (None: the environment)
        self._tokens: dict[str, CancelToken] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def cancel_local(self, job_id: str, reason: str) -> bool:
        """Stop a job this process is running now (faster than waiting for a heartbeat)."""
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.cancel(reason)
        return token is not None

    def run(self, job_id: str) -> Outcome:
        job = self.store.claim(job_id, self.worker_id, self.lease)
        if job is None:
            return self._not_claimed(job_id)
        with bind_context(job_id=job_id, request_id=job.request_id):
            return self._run_claimed(job)

    def _run_claimed(self, job: JobRecord) -> Outcome:
        job_id = job.job_id
        publish(JobEvent(job_id, RUNNING, QUEUED, job))
        token = CancelToken()
        beat = Heartbeat(self, job, token)
        with self._lock:
            self._tokens[job_id] = token
        try:
            result = self._execute(job, beat)
        finally:
            with self._lock:
                self._tokens.pop(job_id, None)
        if self._stopping.is_set():
            self._hand_back(job, beat.drain())
        else:
            self._finish(job, result, beat.drain())
        return Outcome.DONE

    def stop(self, reason: str = "worker shutting down") -> None:
        """Stop every run of this process; their jobs go back to ``queued`` for the next start."""
        self._stopping.set()
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel(reason)

    def _hand_back(self, job: JobRecord, logs: list[Entry]) -> None:
        logs.append(("WARNING", "worker", "stopped by shutdown; requeued", now()))
        back = self.store.finish(
            job.job_id, self.worker_id, QUEUED, logs=logs, stage="requeued",
            progress=0.0, started_at=None,
        )  # fmt: skip
        if back is not None:
            publish(JobEvent(job.job_id, QUEUED, RUNNING, back))

    def _not_claimed(self, job_id: str) -> Outcome:
        try:
            job = self.store.get(job_id, result=False)
        except Exception:
            return Outcome.SKIPPED
        return Outcome.SKIPPED if job.terminal else Outcome.BUSY

    def _execute(self, job: JobRecord, beat: Heartbeat) -> Result:
        beat.start()
        try:
            return run_pipeline(
                _request(job),
                on_progress=beat.progress,
                on_log=beat.log,
                cancel=beat.token,
                on_usage=beat.usage,
                settings=self.settings,
            )
        finally:
            beat.stop()

    def _finish(self, job: JobRecord, result: Result, logs: list[Entry]) -> None:
        """Store the outcome and the job's last log lines in one transaction."""
        data = result.to_json_dict()
        error = data.get("error")
        status = JobStatus.FAILED if error else JobStatus.COMPLETED
        timing = data.get("timing") or {}
        message = status.value + (f": [{error['code']}] {error.get('message')}" if error else "")
        ended = now()
        logs.append(("ERROR" if error else "INFO", "worker", message, ended))
        done = self.store.finish(
            job.job_id,
            self.worker_id,
            status,
            logs=logs,
            progress=job.progress if error else 1.0,
            stage="failed" if error else "done",
            completed_at=ended,
            result=data,
            error=error,
            error_code=(error or {}).get("code"),
            score=(data.get("summary") or {}).get("score"),
            execution_time=timing.get("total_time"),
            inference_time=timing.get("inference_time"),
            scoring_time=timing.get("scoring_time"),
            resources=data.get("resources"),
            estimated_completion=None,
        )
        if done is not None:  # else cancelled (or reaped) while we ran: that state stands
            publish(JobEvent(job.job_id, status, RUNNING, done))


class Heartbeat:
    """Renews the lease, writes progress and log lines, and turns a stored cancel into the
    token. Progress and log lines are kept in memory and written on each beat (and by the
    finish), so a short job costs no writes between its claim and its end."""

    def __init__(self, runner: JobRunner, job: JobRecord, token: CancelToken) -> None:
        self.runner, self.job, self.token = runner, job, token
        self.interval = max(0.2, min(1.0, runner.lease / 3))
        self._stop = threading.Event()
        self._fields: dict[str, Any] = {}
        self._logs: list[Entry] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._expected: Expected | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def progress(self, stage: str, value: float) -> None:
        with self._lock:
            self._fields.update(stage=stage, progress=max(0.0, min(1.0, value)))

    def usage(self, usage: ResourceUsage) -> None:
        """The sandbox's live resource use: written to the job's ``resources`` on each beat."""
        with self._lock:
            self._fields["resources"] = usage.model_dump(mode="json", exclude_none=True)

    def log(self, level: str, component: str, message: str) -> None:
        with self._lock:
            self._logs.append((level, component, message, now()))

    def drain(self) -> list[Entry]:
        """The lines not written yet (the caller writes them)."""
        with self._lock:
            logs, self._logs = self._logs, []
        return logs

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()

    def _beat(self) -> None:
        if self._expected is None:  # only jobs that outlive one beat need an ETA
            self._expected = estimate(self.runner.store, self.job)
        with self._lock:
            fields = dict(self._fields)
        fields["estimated_completion"] = self._expected.eta(fields.get("progress", 0.0))
        logs, r = self.drain(), self.runner
        try:
            status = r.store.heartbeat(self.job.job_id, r.worker_id, r.lease, logs=logs, **fields)
        except Exception:  # the store is briefly unreachable: keep the lines, try again
            log.warning("heartbeat of %s failed", self.job.job_id, exc_info=True)
            with self._lock:
                self._logs[:0] = logs
            return
        if status != RUNNING and not self.token.cancelled:
            self.token.cancel(_stop_reason(status))


def _stop_reason(status: JobStatus | None) -> str:
    """Why a run stops when its job is no longer ``running`` (None: no longer ours)."""
    if status == JobStatus.CANCELLED:
        return "cancelled"
    return f"job is {None if status is None else status.value}"


def _request(job: JobRecord) -> PipelineRequest:
    config = {k: v for k, v in job.config.items() if k not in QUEUE_KEYS}
    return PipelineRequest(
        workspace=job.workspace_path,
        scorer=job.scorer,
        executor=job.executor or "auto",
        overrides=config,
        job_id=job.job_id,
        pinned=True,
    )
