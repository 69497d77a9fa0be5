"""The job system's typed records: a job's state, the job as stored, its log lines, a
submission and a batch. Every module of the job path passes these, never a dict; the
API turns them into the contract's JSON once, at its edge (``api/ops/job_json.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the records stay importable without SQLAlchemy's models
    from autoscorer.jobs.models import JobLogRow


class JobStatus(StrEnum):
    """A job's state; a member equals its string, as stored and as the API shows it."""

    SUBMITTED = "submitted"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


STATES = tuple(JobStatus)  # in the contract's order
# terminal states, defined here only: no UPDATE moves a job out of them
TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE = frozenset(s for s in STATES if s not in TERMINAL)
WAITING = (JobStatus.SUBMITTED, JobStatus.QUEUED)  # stored, not started: a worker may claim it
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED)  # ran to an end (success rate, durations)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSubmission:
    """A job as a caller asks for it; unset fields come from the workspace and settings."""

    workspace_path: str
    job_id: str | None = None
    task_type: str | None = None
    scorer: str | None = None
    executor: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # meta.json overrides: free-form
    callback_url: str | None = None
    request_id: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewJob:
    """A checked submission, ready to store (see ``service.prepare``)."""

    job_id: str
    workspace_path: str
    executor: str
    task_type: str | None = None
    scorer: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    callback_url: str | None = None
    request_id: str | None = None
    owner: str | None = None
    estimated_completion: datetime | None = None
    batch_id: str | None = None
    batch_max_parallel: int | None = None

    def columns(self) -> dict[str, Any]:
        """The ``jobs`` table's column values (the store's insert)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStatusView:
    """A stored job without its result: state, progress, times, where it ran."""

    job_id: str
    status: JobStatus
    task_type: str | None
    scorer: str | None
    workspace_path: str
    executor: str
    queue: str
    config: dict[str, Any]
    callback_url: str | None
    request_id: str | None
    owner: str | None
    batch_id: str | None
    progress: float
    stage: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    reason: str | None  # why it was cancelled
    estimated_completion: datetime | None
    score: float | None
    error: dict[str, Any] | None  # the error object (code, message, field, details)
    execution_time: float | None
    resources: dict[str, Any] | None  # resource usage, keys as the executor knows them
    worker_id: str | None
    attempts: int

    @property
    def terminal(self) -> bool:
        return self.status.terminal


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRecord(JobStatusView):
    """A stored job with its result (``output/result.json``; None: it never scored)."""

    result: dict[str, Any] | None

    @property
    def result_score(self) -> float | None:
        """``summary.score`` of the result."""
        summary = (self.result or {}).get("summary") or {}
        score = summary.get("score")
        return score if isinstance(score, int | float) else None


def _columns(row: Any) -> dict[str, Any]:
    """A ``jobs`` row (ORM object or Core row) as the record's fields."""
    return {
        "job_id": row.job_id,
        "status": JobStatus(row.status),
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
        "created_at": aware(row.created_at),
        "updated_at": aware(row.updated_at),
        "started_at": aware(row.started_at),
        "completed_at": aware(row.completed_at),
        "cancelled_at": aware(row.cancelled_at),
        "reason": row.cancel_reason,
        "estimated_completion": aware(row.estimated_completion),
        "score": row.score,
        "error": row.error,
        "execution_time": row.execution_time,
        "resources": row.resources,
        "worker_id": row.worker_id,
        "attempts": row.attempts,
    }


def job_view(row: Any) -> JobStatusView:
    return JobStatusView(**_columns(row))


def job_record(row: Any) -> JobRecord:
    return JobRecord(**_columns(row), result=row.result)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a job's log."""

    timestamp: datetime
    level: str
    component: str
    message: str

    @classmethod
    def of(cls, row: JobLogRow) -> LogEntry:
        stamp = aware(row.timestamp)
        assert stamp is not None
        return cls(stamp, row.level, row.component, row.message)


@dataclass(frozen=True, slots=True)
class BatchSubmission:
    """Jobs submitted together: all stored and queued, or none."""

    batch_id: str
    max_parallel: int | None
    jobs: tuple[JobRecord, ...]
