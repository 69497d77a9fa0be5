"""Schemas of the job endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from autoscorer.api.schemas.common import ErrorPublic, Public, Request
from autoscorer.api.schemas.fields import ApiPath, FreeObject, JobId, Name, Text, Url
from autoscorer.api.schemas.results import (
    JobPublic,
    JobState,
    JobStatusPublic,
    LogEntryPublic,
    ResultPublic,
)

Executor = Literal["auto", "docker", "local", "kubernetes", "k8s"]


class ResourcesConfig(Request):
    """Resource limits; a submitter may only lower them below ``meta.json``'s."""

    cpu: float | None = Field(None, gt=0, le=1024, examples=[2.0])
    memory: Name | None = Field(None, examples=["4Gi"])
    gpus: int | None = Field(None, ge=0, le=64)
    pids: int | None = Field(None, ge=1, le=1_000_000)
    disk: Name | None = Field(None, examples=["1Gi"])


class JobConfig(Request):
    """Overrides of ``meta.json``. Unknown keys are refused (400). A submitter may only
    make limits stricter (lower ``time_limit``, fewer ``resources``); every other key and
    any raised limit needs the admin role (403 naming the field)."""

    time_limit: float | None = Field(None, gt=0, le=30 * 86_400, examples=[1800])
    resources: ResourcesConfig | None = Field(None, examples=[{"cpu": 2.0, "memory": "4Gi"}])
    scorer_params: FreeObject | None = Field(
        None, examples=[{"average": "macro"}], description="Admin only"
    )
    network_policy: Literal["none", "restricted", "bridge"] | None = Field(
        None, description="Admin only"
    )
    expose_gt: bool | None = Field(None, description="Admin only: mount the ground truth")
    env: dict[Name, Text] | None = Field(None, description="Admin only: sandbox environment")
    keep_container: bool | None = Field(None, description="Admin only")
    queue: Name | None = Field(None, description="Admin only: route to this queue")


class JobCreate(Request):
    job_id: JobId | None = Field(None, examples=["job-demo-001"])
    task_type: Name | None = Field(None, examples=["classification"])
    scorer: Name | None = Field(None, examples=["classification_f1"])
    workspace_path: ApiPath = Field(..., examples=["examples/classification"])
    executor: Executor | None = Field(None, description="Default: the server's executor")
    async_: bool = Field(False, alias="async", description="true: answer 202 at once")
    config: JobConfig | None = None
    callback_url: Url | None = Field(None, description="Signed webhook on state changes")


class JobBatchCreate(Request):
    jobs: list[JobCreate] = Field(..., min_length=1, max_length=1000)
    async_: bool = Field(True, alias="async")
    max_parallel: int | None = Field(None, ge=1, le=1000)


class JobIds(Request):
    job_ids: list[JobId] = Field(..., min_length=1, max_length=1000)
    include_progress: bool = True


class JobBatchCancel(Request):
    job_ids: list[JobId] = Field(..., min_length=1, max_length=1000)
    reason: Text = "User requested batch cancellation"


class JobResultPublic(Public):
    job_id: str = Field(..., examples=["job-demo-001"])
    status: JobState = Field(..., examples=["completed"])
    result: ResultPublic | None = Field(..., description="null when the job never scored")
    logs: list[LogEntryPublic] | None = Field(None, description="With include_logs=true")


class JobLogsPublic(Public):
    job_id: str
    logs: list[LogEntryPublic]
    total_lines: int = Field(..., ge=0)
    has_more: bool


class JobCancelled(Public):
    job_id: str
    status: JobState = Field(..., examples=["cancelled"])
    cancelled_at: str | None = Field(..., examples=["2024-08-24T10:05:00Z"])
    reason: str | None = Field(..., examples=["User requested cancellation"])


class PaginationPublic(Public):
    total: int = Field(..., ge=0)
    limit: int = Field(..., ge=1)
    offset: int = Field(..., ge=0)
    has_next: bool
    has_prev: bool


class JobsPublic(Public):
    jobs: list[JobStatusPublic]
    pagination: PaginationPublic


class BatchJobPublic(Public):
    job_id: str
    status: JobState


class BatchSubmitted(Public):
    batch_id: str = Field(..., examples=["batch-001"])
    submitted_jobs: int = Field(..., ge=0)
    status: Literal["processing"]
    max_parallel: int | None
    jobs: list[BatchJobPublic]


class BatchJobStatusPublic(JobStatusPublic):
    """A job record; ``progress`` is left out with include_progress=false."""

    progress: float = Field(None, ge=0, le=1)  # type: ignore[assignment]


class BatchJobMissing(Public):
    """A batch entry whose id names no job (or one this key may not see)."""

    job_id: str
    status: Literal["not_found"]
    error: ErrorPublic


class BatchSummaryPublic(Public):
    """How many of the entries are in each state."""

    total: int = Field(..., ge=0)
    submitted: int = Field(..., ge=0)
    queued: int = Field(..., ge=0)
    running: int = Field(..., ge=0)
    completed: int = Field(..., ge=0)
    failed: int = Field(..., ge=0)
    cancelled: int = Field(..., ge=0)
    not_found: int = Field(..., ge=0)


class BatchStatusPublic(Public):
    jobs: list[BatchJobStatusPublic | BatchJobMissing]
    summary: BatchSummaryPublic


class FailedCancellation(Public):
    job_id: str
    error: ErrorPublic


class BatchCancelled(Public):
    cancelled_jobs: list[JobCancelled]
    failed_cancellations: list[FailedCancellation]
    total_cancelled: int = Field(..., ge=0)


__all__ = [
    "BatchCancelled",
    "BatchStatusPublic",
    "BatchSubmitted",
    "JobBatchCancel",
    "JobBatchCreate",
    "JobCancelled",
    "JobCreate",
    "JobIds",
    "JobLogsPublic",
    "JobPublic",
    "JobResultPublic",
    "JobState",
    "JobStatusPublic",
    "JobsPublic",
]
