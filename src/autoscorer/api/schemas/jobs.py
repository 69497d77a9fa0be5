"""Schemas of the job endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from autoscorer.api.schemas.common import Public, Request
from autoscorer.api.schemas.fields import ApiPath, FreeObject, JobId, Name, Text, Url
from autoscorer.inputs import tree_problem

JobState = Literal["submitted", "queued", "running", "completed", "failed", "cancelled"]
Executor = Literal["auto", "docker", "local", "kubernetes", "k8s"]


MAX_TIME_LIMIT = 7 * 24 * 3600.0  # seconds


class JobConfig(Request):
    """Overrides of ``meta.json``: time_limit, resources, scorer_params, other keys of it."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_extra(self) -> JobConfig:
        problem = tree_problem(self.model_extra or {})
        if problem:
            raise ValueError(problem)
        return self

    time_limit: float | None = Field(None, gt=0, le=MAX_TIME_LIMIT, examples=[1800])
    resources: FreeObject | None = Field(None, examples=[{"cpu": 2.0, "memory": "4Gi"}])
    scorer_params: FreeObject | None = Field(None, examples=[{"average": "macro"}])


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
