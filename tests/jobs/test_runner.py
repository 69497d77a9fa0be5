"""jobs.runner on a real SQLite store with the pipeline replaced: what a run stores.

The pipeline stand-in reports progress and a log line and returns a known result, so
each stored field (status, stage, progress, score, timings, error code, log lines) is
checked against a known value, as are the claim outcomes and the heartbeat's rules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.jobs.helpers import unique

from autoscorer.jobs import runner as R
from autoscorer.jobs.models import JobRow
from autoscorer.jobs.records import JobStatus, NewJob
from autoscorer.jobs.store import JobStore
from autoscorer.pipeline.run import PipelineRequest
from autoscorer.workspace.models import ResourceUsage, Result

OK = {
    "summary": {"score": 0.875, "rank": "A", "pass": True, "message": ""},
    "timing": {"total_time": 3.5, "inference_time": 2.0, "scoring_time": 1.25},
    "resources": {"peak_cpu": 0.5},
    "versioning": {"autoscorer_version": "0", "timestamp": "t"},
}
FAILED = {
    "versioning": {"autoscorer_version": "0", "timestamp": "t"},
    "error": {"code": "EXIT_NONZERO", "message": "inference exited with code 3"},
}


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


def add_job(store: JobStore, **extra: Any) -> str:
    job_id = unique("run")
    fields = {
        "job_id": job_id,
        "task_type": "classification",
        "scorer": "classification_f1",
        "workspace_path": "/ws/a",
        "executor": "local",
        "queue": "score",
        "config": {"time_limit": 5, "queue": "fast", "max_parallel": 2},
        "request_id": "req-1",
        **extra,
    }
    store.add(NewJob(**fields), status=JobStatus.QUEUED)
    return job_id


def fake_pipeline(
    monkeypatch: pytest.MonkeyPatch, result: dict[str, Any], during: Callable[[], None] = print
) -> list[PipelineRequest]:
    seen: list[PipelineRequest] = []

    def run(request: PipelineRequest, **hooks: Any) -> Result:
        seen.append(request)
        hooks["on_progress"]("inference", 0.5)
        hooks["on_log"]("INFO", "pipeline", "halfway")
        hooks["on_usage"](ResourceUsage(peak_cpu=0.25))
        during()
        return Result.model_validate(result)

    monkeypatch.setattr(R, "run_pipeline", run)
    return seen


def columns(store: JobStore, job_id: str) -> tuple[Any, ...]:
    """Stored columns the job record does not show: error code and the two timings."""
    with store.reader() as s:
        row = s.get(JobRow, job_id)
        return (row.error_code, row.inference_time, row.scoring_time)


def cancel(store: JobStore, job_id: str) -> None:
    """What the API's cancel does to the stored row."""
    assert store.transition(job_id, "cancelled", allowed_from=["running"]) is not None


def messages(store: JobStore, job_id: str) -> list[tuple[str, str]]:
    logs, _total = store.logs(job_id)
    return [(e.level, e.message) for e in logs]


def test_a_completed_run_stores_its_result(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = add_job(store)
    seen = fake_pipeline(monkeypatch, OK)
    assert R.JobRunner(store, "w1").run(job_id) is R.Outcome.DONE
    job = store.get(job_id)
    assert (job.status, job.stage, job.progress) == ("completed", "done", 1.0)
    assert (job.score, job.error, job.execution_time) == (0.875, None, 3.5)
    assert columns(store, job_id) == (None, 2.0, 1.25)
    assert job.completed_at and job.estimated_completion is None
    assert job.result["summary"]["score"] == 0.875
    assert messages(store, job_id)[-2:] == [("INFO", "halfway"), ("INFO", "completed")]
    (request,) = seen
    assert (request.workspace, request.scorer, request.executor) == (
        "/ws/a",
        "classification_f1",
        "local",
    )
    assert (request.job_id, request.pinned, request.overrides) == (job_id, True, {"time_limit": 5})


def test_a_failed_run_keeps_its_progress_and_names_the_error(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = add_job(store, executor="")
    seen = fake_pipeline(monkeypatch, FAILED)
    R.JobRunner(store, "w1").run(job_id)
    job = store.get(job_id)
    assert (job.status, job.stage, job.score) == ("failed", "failed", None)
    assert columns(store, job_id) == ("EXIT_NONZERO", 0.0, 0.0)
    assert job.error["message"] == "inference exited with code 3"
    assert job.progress == 0.0  # the progress the job had, not 1.0
    assert messages(store, job_id)[-1] == (
        "ERROR",
        "failed: [EXIT_NONZERO] inference exited with code 3",
    )
    assert seen[0].executor == "auto"


def test_a_job_cancelled_while_running_stays_cancelled(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = add_job(store)
    fake_pipeline(monkeypatch, OK, lambda: cancel(store, job_id))
    R.JobRunner(store, "w1").run(job_id)
    assert store.get(job_id).status == "cancelled"


def test_a_stopping_worker_hands_the_job_back(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = add_job(store)
    runner = R.JobRunner(store, "w1")
    fake_pipeline(monkeypatch, OK, runner.stop)
    assert runner.run(job_id) is R.Outcome.DONE
    job = store.get(job_id)
    assert (job.status, job.stage, job.progress, job.started_at) == (
        "queued",
        "requeued",
        0.0,
        None,
    )
    assert messages(store, job_id)[-1] == ("WARNING", "stopped by shutdown; requeued")


def test_claims_that_fail(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pipeline(monkeypatch, OK)
    held = add_job(store)
    assert store.claim(held, "other", 30) is not None
    runner = R.JobRunner(store, "w1")
    assert runner.run(held) is R.Outcome.BUSY  # running elsewhere
    queued = add_job(store, batch_id="b", batch_max_parallel=1)
    assert runner.run(queued) is R.Outcome.DONE
    assert runner.run(queued) is R.Outcome.SKIPPED  # finished
    assert runner.run("no-such-job") is R.Outcome.SKIPPED


def test_cancel_local_reaches_only_a_running_job(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = add_job(store)
    runner = R.JobRunner(store, "w1")
    answers: list[bool] = []
    fake_pipeline(monkeypatch, OK, lambda: answers.append(runner.cancel_local(job_id, "stop")))
    runner.run(job_id)
    assert answers == [True]
    assert runner.cancel_local(job_id, "stop") is False


def test_the_heartbeat_clamps_progress_and_keeps_lines_it_could_not_write(
    store: JobStore,
) -> None:
    job_id = add_job(store)
    job = store.claim(job_id, "w1", 30)
    assert job is not None
    runner = R.JobRunner(store, "w1", lease_seconds=1.5)
    beat = R.Heartbeat(runner, job, R.CancelToken())
    assert beat.interval == 0.5
    assert (
        R.Heartbeat(R.JobRunner(store, "w", lease_seconds=0.3), job, R.CancelToken()).interval
        == 0.2
    )
    assert (
        R.Heartbeat(R.JobRunner(store, "w", lease_seconds=9), job, R.CancelToken()).interval == 1.0
    )
    beat.progress("inference", 1.5)
    beat.log("INFO", "c", "one")
    monkey_fail = threading.Event()

    def broken(*_: Any, **__: Any) -> str:
        monkey_fail.set()
        raise OSError("store down")

    beat.runner.store = type(
        "Down", (), {"heartbeat": broken, "recent_durations": store.recent_durations}
    )()  # type: ignore[assignment]
    beat._beat()
    assert monkey_fail.is_set() and [e[2] for e in beat.drain()] == ["one"]
    beat.log("INFO", "c", "two")
    beat.runner.store = store
    beat._beat()
    got = store.get(job_id)
    assert (got.stage, got.progress) == ("inference", 1.0)
    assert messages(store, job_id)[-1] == ("INFO", "two")
    assert not beat.token.cancelled


@pytest.mark.parametrize(
    ("status", "reason"), [("cancelled", "cancelled"), ("failed", "job is failed")]
)
def test_the_heartbeat_turns_a_stored_end_into_a_cancel(
    store: JobStore, status: str, reason: str
) -> None:
    job_id = add_job(store)
    job = store.claim(job_id, "w1", 30)
    assert job is not None
    beat = R.Heartbeat(R.JobRunner(store, "w1"), job, R.CancelToken())
    if status == "cancelled":
        cancel(store, job_id)
    else:
        store.finish(job_id, "w1", "failed")
    beat._beat()
    assert (beat.token.cancelled, beat.token.reason) == (True, reason)


def test_worker_ids_name_kind_host_and_process() -> None:
    wid = R.new_worker_id("celery")
    kind, rest = wid.split("@")
    host, pid, tag = rest.split(":")
    assert kind == "celery" and host and pid.isdigit() and len(tag) == 6
    assert R.new_worker_id().startswith("worker@")
