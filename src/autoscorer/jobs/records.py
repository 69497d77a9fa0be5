"""Job rows as the plain dicts the API and SDKs see (the contract's field names)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autoscorer.jobs.models import JobLogRow

STATES = ("submitted", "queued", "running", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
ACTIVE = frozenset({"submitted", "queued", "running"})


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    value = aware(value)
    if value is None:
        return None
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time as UTC (naive means UTC). Converted, not just labelled: SQLite
    stores times without their offset, so a comparison must use UTC on both sides."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def job_dict(row: Any, *, with_result: bool = True) -> dict[str, Any]:
    """Everything a job status, result or list entry needs (lists leave the result out)."""
    out = {
        "job_id": row.job_id,
        "status": row.status,
        "task_type": row.task_type,
        "scorer": row.scorer,
        "workspace_path": row.workspace_path,
        "executor": row.executor,
        "queue": row.queue,
        "config": row.config or {},
        "callback_url": row.callback_url,
        "request_id": row.request_id,
        "owner": row.owner,
        "batch_id": row.batch_id,
        "progress": round(row.progress or 0.0, 4),
        "stage": row.stage,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "started_at": iso(row.started_at),
        "completed_at": iso(row.completed_at),
        "cancelled_at": iso(row.cancelled_at),
        "reason": row.cancel_reason,
        "estimated_completion": iso(row.estimated_completion),
        "score": row.score,
        "result": row.result if with_result else None,
        "error": row.error,
        "execution_time": row.execution_time,
        "resources": row.resources,
        "worker_id": row.worker_id,
        "attempts": row.attempts,
        "logs_available": True,  # a "submitted" line is written with every job
    }
    if not with_result:
        del out["result"]
    return out


def log_dict(row: JobLogRow) -> dict[str, Any]:
    return {
        "timestamp": iso(row.timestamp),
        "level": row.level,
        "component": row.component,
        "message": row.message,
    }
