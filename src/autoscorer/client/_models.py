"""Typed views of the API's ``data`` objects.

Every model accepts fields it does not declare (``extra="allow"``): a newer
server may add fields and they stay readable as attributes. Nested objects the
contract leaves open (``metrics``, ``details``, ``config``) stay plain dicts.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

TERMINAL_STATES = frozenset({"completed", "failed", "cancelled"})


class Model(BaseModel):
    """Base of all SDK models: attribute access, dict access and ``to_dict()``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """The object as the server sent it (JSON types, original key names)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def __getitem__(self, key: str) -> Any:
        data = self.to_dict()
        if key not in data:
            raise KeyError(key)
        return getattr(self, "pass_" if key == "pass" else key, data[key])


class ErrorDetail(Model):
    code: str = "EXECUTION_FAILED"
    message: str = ""
    field: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Meta(Model):
    timestamp: str | None = None
    request_id: str | None = None
    api_version: str | None = None


class Response(Model, Generic[T]):
    """The whole envelope: ``success``, ``data``, ``meta``, ``errors``."""

    success: bool
    data: T | None = None
    meta: Meta | None = None
    errors: list[ErrorDetail] = Field(default_factory=list)


class Summary(Model):
    score: float | None = None
    rank: str | None = None
    pass_: bool | None = Field(None, alias="pass")
    message: str | None = None


class Artifact(Model):
    """A file a scorer wrote (``output/artifacts/``); download it with ``download_artifact``."""

    path: str
    size: int
    type: str


class ResultData(Model):
    """A job's ``result.json``: summary, metrics, artifacts, timing, ..."""

    summary: Summary = Field(default_factory=Summary)
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifacts: dict[str, Artifact] = Field(default_factory=dict)
    timing: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    versioning: dict[str, Any] = Field(default_factory=dict)
    error: ErrorDetail | None = None


class LogEntry(Model):
    timestamp: str | None = None
    level: str | None = None
    component: str | None = None
    message: str = ""


class Job(Model):
    """Answer to a submit: the result itself (sync) or an acknowledgement (async)."""

    job_id: str
    status: str | None = None
    message: str | None = None
    estimated_completion: str | None = None
    execution_time: float | None = None
    result: ResultData | None = None
    error: ErrorDetail | None = None


class JobStatus(Model):
    job_id: str
    status: str
    progress: float | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    estimated_completion: str | None = None
    executor: str | None = None
    resources: dict[str, Any] | None = None
    logs_available: bool | None = None
    error: ErrorDetail | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATES


class JobResult(Model):
    job_id: str
    status: str | None = None
    result: ResultData | None = None
    logs: list[LogEntry] | None = None


class JobLogs(Model):
    job_id: str | None = None
    logs: list[LogEntry] = Field(default_factory=list)
    total_lines: int | None = None
    has_more: bool | None = None


class CancelledJob(Model):
    job_id: str
    status: str | None = None
    cancelled_at: str | None = None
    reason: str | None = None


class JobSummary(Model):
    job_id: str
    status: str | None = None
    task_type: str | None = None
    scorer: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    execution_time: float | None = None
    score: float | None = None
    progress: float | None = None


class Pagination(Model):
    total: int | None = None
    limit: int = 50
    offset: int = 0
    has_next: bool = False
    has_prev: bool = False


class JobList(Model):
    jobs: list[JobSummary] = Field(default_factory=list)
    pagination: Pagination = Field(default_factory=Pagination)


class BatchJob(Model):
    job_id: str
    status: str | None = None
    error: Any = None


class BatchSubmitted(Model):
    batch_id: str | None = None
    submitted_jobs: int | None = None
    status: str | None = None
    jobs: list[BatchJob] = Field(default_factory=list)

    @property
    def job_ids(self) -> list[str]:
        return [j.job_id for j in self.jobs]


class BatchJobStatus(Model):
    job_id: str
    status: str | None = None
    progress: float | None = None
    score: float | None = None
    estimated_completion: str | None = None
    error: Any = None


class BatchStatus(Model):
    jobs: list[BatchJobStatus] = Field(default_factory=list)
    summary: dict[str, int] = Field(default_factory=dict)


class BatchCancelled(Model):
    cancelled_jobs: list[CancelledJob] = Field(default_factory=list)
    failed_cancellations: list[dict[str, Any]] = Field(default_factory=list)
    total_cancelled: int = 0


class ParamSpec(Model):
    type: str | None = None
    default: Any = None
    choices: list[Any] | None = None
    description: str | None = None
    required: bool | None = None


class ScorerInfo(Model):
    name: str
    version: str | None = None
    description: str | None = None
    task_type: str | None = None
    supported_formats: list[str] = Field(default_factory=list)
    parameters: dict[str, ParamSpec] = Field(default_factory=dict)


class ScorerTest(Model):
    scorer: str | None = None
    test_status: str | None = None
    execution_time: float | None = None
    result: ResultData | None = None
    validation: dict[str, Any] = Field(default_factory=dict)
    performance: dict[str, Any] | None = None
    error: ErrorDetail | None = None


class LoadedScorer(Model):
    name: str
    version: str | None = None
    file_path: str | None = None
    loaded_at: str | None = None


class ScorersLoaded(Model):
    loaded_scorers: list[LoadedScorer] = Field(default_factory=list)
    watch_enabled: bool | None = None
    total_loaded: int = 0


class ReloadedScorer(Model):
    name: str
    old_version: str | None = None
    new_version: str | None = None
    reloaded_at: str | None = None


class UnchangedScorer(Model):
    name: str
    version: str | None = None


class ScorersReloaded(Model):
    reloaded_scorers: list[ReloadedScorer] = Field(default_factory=list)
    total_reloaded: int = 0
    unchanged_scorers: list[UnchangedScorer] = Field(default_factory=list)
    message: str | None = None


class WatchStarted(Model):
    file_path: str
    watch_started: bool | None = None
    check_interval: float | None = None
    started_at: str | None = None


class WatchStopped(Model):
    file_path: str
    watch_stopped: bool | None = None
    stopped_at: str | None = None


class WatchedFile(Model):
    file_path: str
    check_interval: float | None = None
    started_at: str | None = None
    last_check: str | None = None
    total_reloads: int | None = None


class WatchStatus(Model):
    watched_files: list[WatchedFile] = Field(default_factory=list)
    total_watched: int = 0


class WorkspaceCheck(Model):
    status: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class WorkspaceValidation(Model):
    workspace_path: str | None = None
    validation_status: str | None = None
    checks: dict[str, WorkspaceCheck] = Field(default_factory=dict)
    warnings: list[Any] = Field(default_factory=list)
    errors: list[Any] = Field(default_factory=list)
    suggestions: list[Any] = Field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.validation_status == "valid"


class WorkspaceCreated(Model):
    workspace_path: str | None = None
    template_used: str | None = None
    created_files: list[str] = Field(default_factory=list)
    structure: dict[str, Any] = Field(default_factory=dict)
    next_steps: list[str] = Field(default_factory=list)


class SystemConfig(Model):
    """``GET /api/v1/config``: one attribute per section (plain dicts)."""


class ConfigUpdate(Model):
    updated_section: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    restart_required: bool | None = None
    updated_at: str | None = None


class Health(Model):
    status: str
    timestamp: str | None = None
    version: str | None = None
    uptime: str | None = None
    components: dict[str, Any] = Field(default_factory=dict)


class SystemStatus(Model):
    system: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)
    executors: dict[str, Any] = Field(default_factory=dict)
