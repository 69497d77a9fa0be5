"""The API edge: job records become the contract's JSON in one place, with every field
the schemas promise, and the OpenAPI state enum is the job system's own."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from autoscorer.api.ops.job_json import batch_json, cancelled_json, job_json, log_json
from autoscorer.api.ops.jobs import batch_summary
from autoscorer.api.schemas.jobs import BatchSummaryPublic, JobCancelled
from autoscorer.api.schemas.results import JobPublic, JobState, JobStatusPublic
from autoscorer.jobs.records import (
    BatchSubmission,
    JobRecord,
    JobStatus,
    JobStatusView,
    LogEntry,
)

STAMP = datetime(2024, 8, 24, 10, 0, 0, 123456, tzinfo=UTC)


def _record(**fields: object) -> JobRecord:
    base: dict[str, object] = dict(
        job_id="job-1", status=JobStatus.RUNNING, task_type="classification",
        scorer="classification_f1", workspace_path="/w", executor="local", queue="score",
        config={"time_limit": 60}, callback_url=None, request_id="req-1", owner="team-a",
        batch_id=None, progress=0.5, stage="inference", created_at=STAMP, updated_at=STAMP,
        started_at=STAMP, completed_at=None, cancelled_at=None, reason=None,
        estimated_completion=STAMP, score=None, error=None, execution_time=None,
        resources=None, worker_id="w1", attempts=1, result=None,
    )  # fmt: skip
    return JobRecord(**{**base, **fields})  # type: ignore[arg-type]


def _view(job: JobRecord) -> JobStatusView:
    fields = {k: getattr(job, k) for k in JobStatusView.__dataclass_fields__}
    return JobStatusView(**fields)


def test_a_status_has_every_schema_field_and_no_result() -> None:
    data = job_json(_view(_record()))
    assert set(data) == set(JobStatusPublic.model_fields)
    assert data["status"] == "running" and type(data["status"]) is str
    assert data["created_at"] == "2024-08-24T10:00:00.123456Z" and data["completed_at"] is None
    JobStatusPublic.model_validate(data)


def test_a_record_carries_its_result_where_the_contract_shows_it() -> None:
    data = job_json(_record(status=JobStatus.COMPLETED, result=None))
    assert set(data) == set(JobPublic.model_fields)
    keys = list(data)
    assert keys[keys.index("score") + 1] == "result" and keys[-1] == "logs_available"
    JobPublic.model_validate(data)


def test_cancel_batch_and_log_answers() -> None:
    done = _record(status=JobStatus.CANCELLED, cancelled_at=STAMP, reason="no longer needed")
    assert JobCancelled.model_validate(cancelled_json(done)).reason == "no longer needed"
    batch = batch_json(BatchSubmission("batch-1", 2, (_record(status=JobStatus.QUEUED),) * 2))
    assert batch["submitted_jobs"] == 2 and batch["status"] == "processing"
    assert batch["jobs"] == [{"job_id": "job-1", "status": "queued"}] * 2
    line = log_json(LogEntry(STAMP, "INFO", "api", "submitted to queue score"))
    assert list(line) == ["timestamp", "level", "component", "message"]
    assert line["timestamp"] == "2024-08-24T10:00:00.123456Z"


def test_batch_summary_counts_every_state_and_the_missing() -> None:
    summary = batch_summary([JobStatus.QUEUED, None, JobStatus.QUEUED, JobStatus.FAILED])
    assert set(summary) == set(BatchSummaryPublic.model_fields)
    assert (summary["total"], summary["queued"], summary["failed"]) == (4, 2, 1)
    assert (summary["not_found"], summary["running"]) == (1, 0)


def test_the_openapi_state_enum_is_the_job_status() -> None:
    assert JobState.__name__ == "JobState"
    assert [(s.name, s.value) for s in JobState] == [(s.name, s.value) for s in JobStatus]
    assert JobState("failed") == JobStatus.FAILED
    assert replace(_record(), status=JobStatus.FAILED).terminal
