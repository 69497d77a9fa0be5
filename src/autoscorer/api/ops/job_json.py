"""The job system's records as the API's JSON: the contract's field names, in its order.

Converted here only, once per answer; the routes never read a record's dict form."""

from __future__ import annotations

from typing import Any

from autoscorer.jobs.records import (
    BatchSubmission,
    JobRecord,
    JobStatusView,
    LogEntry,
    iso,
)


def job_json(job: JobStatusView) -> dict[str, Any]:
    """A job status, list entry or (for a :class:`JobRecord`) the job with its result."""
    out: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status.value,
        "task_type": job.task_type,
        "scorer": job.scorer,
        "workspace_path": job.workspace_path,
        "executor": job.executor,
        "queue": job.queue,
        "config": job.config,
        "callback_url": job.callback_url,
        "request_id": job.request_id,
        "owner": job.owner,
        "batch_id": job.batch_id,
        "progress": job.progress,
        "stage": job.stage,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "cancelled_at": iso(job.cancelled_at),
        "reason": job.reason,
        "estimated_completion": iso(job.estimated_completion),
        "score": job.score,
    }
    if isinstance(job, JobRecord):
        out["result"] = job.result
    out.update(
        error=job.error,
        execution_time=job.execution_time,
        resources=job.resources,
        worker_id=job.worker_id,
        attempts=job.attempts,
        logs_available=True,  # a "submitted" line is written with every job
    )
    return out


def cancelled_json(job: JobStatusView) -> dict[str, Any]:
    """The answer to a cancel."""
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "cancelled_at": iso(job.cancelled_at),
        "reason": job.reason,
    }


def batch_json(batch: BatchSubmission) -> dict[str, Any]:
    """The answer to a batch submit."""
    return {
        "batch_id": batch.batch_id,
        "submitted_jobs": len(batch.jobs),
        "status": "processing",
        "max_parallel": batch.max_parallel,
        "jobs": [{"job_id": j.job_id, "status": j.status.value} for j in batch.jobs],
    }


def log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "timestamp": iso(entry.timestamp),
        "level": entry.level,
        "component": entry.component,
        "message": entry.message,
    }
