"""Schemas of the job endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from autoscorer.api.schemas.common import Public, Request

JobState = Literal["submitted", "queued", "running", "completed", "failed", "cancelled"]
Executor = Literal["auto", "docker", "local", "kubernetes", "k8s"]


class ResourcesConfig(Request):
    """Resource limits; a submitter may only lower them below ``meta.json``'s."""

    cpu: float | None = Field(None, gt=0, le=1024, examples=[2.0])
    memory: str | None = Field(None, examples=["4Gi"])
    gpus: int | None = Field(None, ge=0, le=64)
    pids: int | None = Field(None, ge=1, le=1_000_000)
    disk: str | None = Field(None, examples=["1Gi"])


class JobConfig(Request):
    """Overrides of ``meta.json``. Unknown keys are refused (400). A submitter may only
    make limits stricter (lower ``time_limit``, fewer ``resources``); every other key and
    any raised limit needs the admin role (403 naming the field)."""

    time_limit: float | None = Field(None, gt=0, le=30 * 86_400, examples=[1800])
    resources: ResourcesConfig | None = Field(None, examples=[{"cpu": 2.0, "memory": "4Gi"}])
    scorer_params: dict[str, Any] | None = Field(
        None, examples=[{"average": "macro"}], description="Admin only"
    )
    network_policy: Literal["none", "restricted", "bridge"] | None = Field(
        None, description="Admin only"
    )
    expose_gt: bool | None = Field(None, description="Admin only: mount the ground truth")
    env: dict[str, str] | None = Field(None, description="Admin only: sandbox environment")
    keep_container: bool | None = Field(None, description="Admin only")
    queue: str | None = Field(None, description="Admin only: route to this queue")


class JobCreate(Request):
    job_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", examples=["job-demo-001"]
    )
    task_type: str | None = Field(None, examples=["classification"])
    scorer: str | None = Field(None, examples=["classification_f1"])
    workspace_path: str = Field(..., examples=["examples/classification"])
    executor: Executor | None = Field(None, description="Default: the server's executor")
    async_: bool = Field(False, alias="async", description="true: answer 202 at once")
    config: JobConfig | None = None
    callback_url: str | None = Field(None, description="Signed webhook on state changes")


class JobBatchCreate(Request):
    jobs: list[JobCreate] = Field(..., min_length=1, max_length=1000)
    async_: bool = Field(True, alias="async")
    max_parallel: int | None = Field(None, ge=1, le=1000)


class JobIds(Request):
    job_ids: list[str] = Field(..., min_length=1, max_length=1000)
    include_progress: bool = True


class JobBatchCancel(Request):
    job_ids: list[str] = Field(..., min_length=1, max_length=1000)
    reason: str = "User requested batch cancellation"


class JobPublic(Public):
    """Answer to a submit: the result (sync) or an acknowledgement (async / still running)."""

    job_id: str
    status: JobState
    message: str | None = None
    estimated_completion: str | None = None
    execution_time: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    status_url: str | None = None


class JobStatusPublic(Public):
    job_id: str
    status: JobState
    owner: str | None = Field(None, description="Name of the API key that submitted the job")
    progress: float = Field(..., ge=0, le=1)
    stage: str | None = None
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    estimated_completion: str | None = None
    executor: str | None = None
    resources: dict[str, Any] | None = None
    logs_available: bool
    error: dict[str, Any] | None = None


class JobResultPublic(Public):
    job_id: str
    status: JobState
    result: dict[str, Any]
    logs: list[dict[str, Any]] | None = None


class JobLogsPublic(Public):
    job_id: str
    logs: list[dict[str, Any]]
    total_lines: int
    has_more: bool


class JobCancelled(Public):
    job_id: str
    status: JobState
    cancelled_at: str | None = None
    reason: str | None = None


class PaginationPublic(Public):
    total: int
    limit: int
    offset: int
    has_next: bool
    has_prev: bool


class JobsPublic(Public):
    jobs: list[dict[str, Any]]
    pagination: PaginationPublic


class BatchSubmitted(Public):
    batch_id: str
    submitted_jobs: int
    status: str
    jobs: list[dict[str, Any]]


class BatchStatusPublic(Public):
    jobs: list[dict[str, Any]]
    summary: dict[str, int]


class BatchCancelled(Public):
    cancelled_jobs: list[JobCancelled]
    failed_cancellations: list[dict[str, Any]]
    total_cancelled: int
