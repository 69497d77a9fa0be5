"""The job result (``output/result.json``) and the job record, as the API sends them.

Every field listed is always sent (``required``); ``| None`` marks the ones that may be
null. Maps stay free-form only where their keys are data: ``metrics`` (metric names,
per-class tables) and ``artifacts`` (artifact names).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from autoscorer.api.schemas.common import ErrorPublic, Public
from autoscorer.jobs.records import JobStatus

if TYPE_CHECKING:
    JobState = JobStatus
else:
    # JobStatus under the name the published OpenAPI document (and the clients generated
    # from it) gives the schema; its members are JobStatus's, not a second list of states
    JobState = StrEnum("JobState", [(s.name, s.value) for s in JobStatus], module=__name__)
    JobState.__doc__ = "A job's state; completed, failed and cancelled are final."


class SummaryPublic(Public):
    score: float | None = Field(..., description="The primary metric; null when scoring failed")
    rank: str | None = Field(..., examples=["A"], description="S/A/B/C/D from the thresholds")
    pass_: bool | None = Field(..., alias="pass", description="Score above the pass threshold")
    message: str = Field(..., examples=["Evaluation completed successfully"])


class ArtifactPublic(Public):
    path: str = Field(..., examples=["/workspace/output/artifacts/confusion_matrix.png"])
    size: int = Field(..., ge=0, examples=[1024])
    type: str = Field(..., examples=["image/png"])


class TimingPublic(Public):
    total_time: float = Field(..., examples=[45.6])
    data_loading: float = Field(..., examples=[1.2])
    inference_time: float = Field(..., examples=[42.1])
    scoring_time: float = Field(..., examples=[3.5])


class ResourceUsagePublic(Public):
    peak_cpu: float | None = Field(..., examples=[1.95])
    peak_memory: str | None = Field(..., examples=["3.8Gi"])
    total_disk_io: str | None = Field(..., examples=["50MB"])
    cpu_usage: float | None = Field(..., examples=[1.8], description="Cores in use (last sample)")
    memory_usage: str | None = Field(..., examples=["3.2Gi"])
    gpu_usage: int | None = Field(..., examples=[0])


class VersioningPublic(Public):
    scorer: str | None = Field(..., examples=["classification_f1"])
    version: str | None = Field(..., examples=["2.0.0"])
    autoscorer_version: str = Field(..., examples=["0.1.0"])
    timestamp: str = Field(..., examples=["2024-08-24T10:00:00Z"])


class ResultMetadataPublic(Public):
    job_id: str | None
    task_type: str | None
    data_size: int | None = Field(..., description="Rows or samples scored")
    num_classes: int | None


class ProvenancePublic(Public):
    gt_sha256: str | None
    pred_sha256: str | None
    scorer_source_sha256: str | None
    image_digest: str | None


class ResultPublic(Public):
    """``output/result.json``: what a scoring run produced (also when it failed)."""

    summary: SummaryPublic
    metrics: dict[str, Any] = Field(
        ...,
        description="Metric name -> value (numbers, per-class tables, matrices)",
        examples=[{"f1_macro": 0.85, "accuracy": 0.88, "confusion_matrix": [[45, 5], [8, 42]]}],
    )
    artifacts: dict[str, ArtifactPublic] = Field(
        default_factory=dict,
        description="Artifact name -> file (left out with include_artifacts=false)",
    )
    timing: TimingPublic
    resources: ResourceUsagePublic
    versioning: VersioningPublic
    metadata: ResultMetadataPublic
    provenance: ProvenancePublic
    warnings: list[str]
    error: ErrorPublic | None = Field(..., description="Why scoring failed; null on success")


class LogEntryPublic(Public):
    timestamp: str = Field(..., examples=["2024-08-24T10:00:30Z"])
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(..., examples=["INFO"])
    component: str | None = Field(None, examples=["worker"], description="api, worker, scorer")
    message: str = Field(..., examples=["Starting evaluation process"])


class JobResourcesPublic(Public):
    """What the job used (from the executor) or uses now; keys present as known."""

    peak_cpu: float | None = None
    peak_memory: str | None = None
    total_disk_io: str | None = None
    cpu_usage: float | None = None
    memory_usage: str | None = None
    gpu_usage: float | None = None


class JobConfigPublic(Public):
    """The overrides the job was submitted with (``config`` of the request, any meta key)."""

    model_config = ConfigDict(extra="allow")

    time_limit: float | None = None
    resources: dict[str, Any] | None = None
    scorer_params: dict[str, Any] | None = None


class JobStatusPublic(Public):
    """The job record without its result: state, progress, times, where it ran."""

    job_id: str = Field(..., examples=["job-demo-001"])
    status: JobState = Field(..., examples=["running"])
    owner: str | None = Field(..., description="Name of the API key that submitted the job")
    task_type: str | None = Field(..., examples=["classification"])
    scorer: str | None = Field(..., examples=["classification_f1"])
    workspace_path: str = Field(..., description="Resolved on the server")
    executor: str = Field(..., examples=["docker"])
    queue: str | None = Field(..., examples=["score"])
    config: JobConfigPublic
    callback_url: str | None = Field(..., description="Shown without its query string")
    request_id: str | None
    batch_id: str | None
    progress: float = Field(..., ge=0, le=1, examples=[0.75])
    stage: str | None = Field(..., examples=["scoring"])
    created_at: str = Field(..., examples=["2024-08-24T10:00:00Z"])
    updated_at: str
    started_at: str | None = Field(..., examples=["2024-08-24T10:00:30Z"])
    completed_at: str | None
    cancelled_at: str | None
    reason: str | None = Field(..., description="Why it was cancelled")
    estimated_completion: str | None = Field(..., examples=["2024-08-24T10:15:00Z"])
    score: float | None = Field(..., description="summary.score once completed")
    error: ErrorPublic | None
    execution_time: float | None = Field(..., description="Seconds, once finished")
    resources: JobResourcesPublic | None
    worker_id: str | None
    attempts: int = Field(..., ge=0)
    logs_available: bool


class JobPublic(JobStatusPublic):
    """Answer 200 to a submit: the finished job with its result (null if it never scored)."""

    result: ResultPublic | None


class JobAccepted(JobStatusPublic):
    """Answer 202 to a submit: the job is queued or still running; follow ``status_url``."""

    result: ResultPublic | None = Field(None, description="Not yet: null or left out")
    message: str = Field(..., examples=["Job submitted for async processing"])
    status_url: str = Field(..., examples=["/api/v1/jobs/job-demo-001/status"])
