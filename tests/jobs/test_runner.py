"""jobs.runner on a real SQLite store with the pipeline replaced: what a run stores.

The pipeline stand-in reports progress and a log line and returns a known result, so
each stored field (status, stage, progress, score, timings, error code, log lines) is
checked against a known value, as are the claim outcomes and the heartbeat's rules.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.jobs.helpers import unique

from autoscorer.jobs import runner as R
from autoscorer.jobs.eta import Expected
from autoscorer.jobs.events import JobEvent, subscribe
from autoscorer.jobs.models import JobRow
from autoscorer.jobs.records import JobRecord, JobStatus, NewJob, now
from autoscorer.jobs.store import JobStore
from autoscorer.logcontext import current_context
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
# OK's resources as the result stores them (every field, unset ones None)
OK_RESOURCES = {"peak_cpu": 0.5, "peak_memory": None, "total_disk_io": None, "cpu_usage": None,
                "memory_usage": None, "gpu_usage": None}  # fmt: skip
LIVE = ResourceUsage(peak_cpu=0.25, memory_usage="1.5 GiB")  # what the stand-in reports


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


@pytest.fixture()
def events() -> Iterator[list[JobEvent]]:
    """The job events published while the test runs, in order."""
    seen: list[JobEvent] = []
    unsubscribe = subscribe(seen.append)
    yield seen
    unsubscribe()


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


@dataclass
class Call:
    """One call of the pipeline stand-in: the request, its hooks, the bound log context."""

    request: PipelineRequest
    hooks: dict[str, Any]
    context: dict[str, str | None]


def fake_pipeline(
    monkeypatch: pytest.MonkeyPatch, result: dict[str, Any], during: Callable[[], None] = print
) -> list[Call]:
    seen: list[Call] = []

    def run(request: PipelineRequest, **hooks: Any) -> Result:
        seen.append(Call(request, hooks, current_context()))
        hooks["on_progress"]("inference", 0.5)
        hooks["on_log"]("INFO", "pipeline", "halfway")
        hooks["on_usage"](LIVE)
        during()
        return Result.model_validate(result)

    monkeypatch.setattr(R, "run_pipeline", run)
    return seen


def columns(store: JobStore, job_id: str) -> tuple[Any, ...]:
    """Stored columns the job record does not show: error code and the two timings."""
    with store.reader() as s:
        row = s.get(JobRow, job_id)
        return (row.error_code, row.inference_time, row.scoring_time)


def lease(store: JobStore, job_id: str) -> timedelta:
    """How long the job's lease runs from its start (the claim stamps both at once)."""
    with store.reader() as s:
        row = s.get(JobRow, job_id)
        return row.lease_until - row.started_at


def cancel(store: JobStore, job_id: str) -> None:
    """What the API's cancel does to the stored row."""
    assert store.transition(job_id, "cancelled", allowed_from=["running"]) is not None


def messages(store: JobStore, job_id: str) -> list[tuple[str, str]]:
    logs, _total = store.logs(job_id)
    return [(e.level, e.message) for e in logs]


def lines(store: JobStore, job_id: str) -> list[tuple[str, str, str]]:
    logs, _total = store.logs(job_id)
    return [(e.level, e.component, e.message) for e in logs]


def after_a_beat(store: JobStore, job_id: str, seen: list[JobRecord]) -> Callable[[], None]:
    """A ``during`` that waits (at most 10 s) for the heartbeat to write the live
    resources, and keeps the job as that beat left it."""

    def wait() -> None:
        deadline = time.monotonic() + 10
        while (job := store.get(job_id)).resources is None:
            assert time.monotonic() < deadline, "no heartbeat within 10 s"
            time.sleep(0.02)
        seen.append(job)

    return wait


def test_a_completed_run_stores_its_result(
    store: JobStore, monkeypatch: pytest.MonkeyPatch, events: list[JobEvent]
) -> None:
    job_id = add_job(store)
    leases: list[timedelta] = []
    seen = fake_pipeline(monkeypatch, OK, lambda: leases.append(lease(store, job_id)))
    marker: Any = object()  # the settings the executors are built from
    assert R.JobRunner(store, "w1", settings=marker).run(job_id) is R.Outcome.DONE
    job = store.get(job_id)
    assert (job.status, job.stage, job.progress) == ("completed", "done", 1.0)
    assert (job.score, job.error, job.execution_time) == (0.875, None, 3.5)
    assert columns(store, job_id) == (None, 2.0, 1.25)
    assert job.completed_at and job.estimated_completion is None
    assert job.result["summary"]["score"] == 0.875
    assert job.resources == OK_RESOURCES
    logs, _ = store.logs(job_id)
    assert [(e.level, e.component, e.message) for e in logs] == [
        ("INFO", "worker", "started on w1 (attempt 1)"),
        ("INFO", "pipeline", "halfway"),
        ("INFO", "worker", "completed"),
    ]
    assert logs[-1].timestamp == job.completed_at  # the finish line is stamped with the end
    (call,) = seen
    request = call.request
    assert (request.workspace, request.scorer, request.executor) == (
        "/ws/a",
        "classification_f1",
        "local",
    )
    assert (request.job_id, request.pinned, request.overrides) == (job_id, True, {"time_limit": 5})
    assert call.hooks["settings"] is marker
    assert call.context == {"request_id": "req-1", "job_id": job_id}
    assert current_context() == {"request_id": None, "job_id": None}
    assert [(e.job_id, e.status, e.previous) for e in events] == [
        (job_id, "running", "queued"),
        (job_id, "completed", "running"),
    ]
    start, end = events
    assert (start.job.status, start.job.worker_id, start.job.attempts, start.job.stage) == (
        "running",
        "w1",
        1,
        "starting",
    )
    assert leases == [timedelta(seconds=30)]  # the default lease, as claimed
    assert end.job == job


def test_a_failed_run_keeps_its_progress_and_names_the_error(
    store: JobStore, monkeypatch: pytest.MonkeyPatch, events: list[JobEvent]
) -> None:
    job_id = add_job(store, executor="")
    seen = fake_pipeline(monkeypatch, FAILED)
    R.JobRunner(store, "w1").run(job_id)
    job = store.get(job_id)
    assert (job.status, job.stage, job.score) == ("failed", "failed", None)
    assert columns(store, job_id) == ("EXIT_NONZERO", 0.0, 0.0)
    assert job.error["message"] == "inference exited with code 3"
    assert job.progress == 0.0  # the progress the job had, not 1.0
    assert lines(store, job_id)[-1] == (
        "ERROR",
        "worker",
        "failed: [EXIT_NONZERO] inference exited with code 3",
    )
    assert seen[0].request.executor == "auto"
    assert [(e.job_id, e.status, e.previous) for e in events] == [
        (job_id, "running", "queued"),
        (job_id, "failed", "running"),
    ]
    assert events[-1].job == job


def test_a_run_that_outlives_a_beat_shows_its_progress_live(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lease 0.6 s: a beat every 0.2 s writes stage, progress, log lines, the live
    resources and an ETA (the job's 5 s time limit, no history); the finish replaces
    the resources with the result's and clears the ETA."""
    job_id = add_job(store)
    live: list[JobRecord] = []
    fake_pipeline(monkeypatch, OK, after_a_beat(store, job_id, live))
    R.JobRunner(store, "w1", lease_seconds=0.6).run(job_id)
    (beat,) = live
    assert (beat.status, beat.stage, beat.progress) == ("running", "inference", 0.5)
    assert beat.resources == {"peak_cpu": 0.25, "memory_usage": "1.5 GiB"}
    assert beat.started_at is not None and beat.estimated_completion is not None
    ahead = (beat.estimated_completion - beat.started_at).total_seconds()
    assert 5.0 <= ahead <= 5.0 + (beat.updated_at - beat.started_at).total_seconds()
    assert ("INFO", "halfway") in messages(store, job_id)
    job = store.get(job_id)
    assert (job.status, job.progress, job.estimated_completion) == ("completed", 1.0, None)
    assert job.resources == OK_RESOURCES


def test_a_job_cancelled_while_running_stays_cancelled(
    store: JobStore, monkeypatch: pytest.MonkeyPatch, events: list[JobEvent]
) -> None:
    job_id = add_job(store)
    fake_pipeline(monkeypatch, OK, lambda: cancel(store, job_id))
    R.JobRunner(store, "w1").run(job_id)
    assert store.get(job_id).status == "cancelled"
    # the API publishes the cancel; the runner only its start
    assert [(e.job_id, e.status, e.previous) for e in events] == [(job_id, "running", "queued")]
    assert messages(store, job_id)[-1] == ("INFO", "completed")  # written anyway


def test_a_stopping_worker_hands_the_job_back(
    store: JobStore, monkeypatch: pytest.MonkeyPatch, events: list[JobEvent]
) -> None:
    job_id = add_job(store)
    runner = R.JobRunner(store, "w1", lease_seconds=0.6)
    live: list[JobRecord] = []
    wait = after_a_beat(store, job_id, live)

    def stop_after_a_beat() -> None:
        wait()
        runner.stop()

    calls = fake_pipeline(monkeypatch, OK, stop_after_a_beat)
    assert runner.run(job_id) is R.Outcome.DONE
    assert live[0].progress == 0.5
    job = store.get(job_id)
    assert (job.status, job.stage, job.progress, job.started_at) == (
        "queued",
        "requeued",
        0.0,
        None,
    )
    assert lines(store, job_id)[-1] == ("WARNING", "worker", "stopped by shutdown; requeued")
    token = calls[0].hooks["cancel"]
    assert (token.cancelled, token.reason) == (True, "worker shutting down")
    assert [(e.job_id, e.status, e.previous) for e in events] == [
        (job_id, "running", "queued"),
        (job_id, "queued", "running"),
    ]
    assert events[-1].job == job


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
    calls = fake_pipeline(
        monkeypatch, OK, lambda: answers.append(runner.cancel_local(job_id, "stop"))
    )
    runner.run(job_id)
    assert answers == [True]
    token = calls[0].hooks["cancel"]  # the token the pipeline polls
    assert (token.cancelled, token.reason) == (True, "stop")
    assert runner.cancel_local(job_id, "stop") is False


def test_the_heartbeat_clamps_progress_and_keeps_lines_it_could_not_write(
    store: JobStore, caplog: pytest.LogCaptureFixture
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
        beat.log("INFO", "c", "meanwhile")  # said while the write was failing
        raise OSError("store down")

    beat.runner.store = type(
        "Down", (), {"heartbeat": broken, "recent_durations": store.recent_durations}
    )()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="autoscorer.jobs.runner"):
        beat._beat()
    (record,) = [r for r in caplog.records if r.name == "autoscorer.jobs.runner"]
    assert (record.levelname, record.getMessage()) == ("WARNING", f"heartbeat of {job_id} failed")
    assert record.exc_info is not None and repr(record.exc_info[1]) == "OSError('store down')"
    # the unwritten line goes back before the one said meanwhile
    assert monkey_fail.is_set() and [e[2] for e in beat.drain()] == ["one", "meanwhile"]
    beat.log("INFO", "c", "two")
    beat.runner.store = store
    beat._beat()
    got = store.get(job_id)
    assert (got.stage, got.progress) == ("inference", 1.0)
    assert messages(store, job_id)[-1] == ("INFO", "two")
    assert not beat.token.cancelled
    beat.progress("scoring", -0.5)
    beat._beat()
    got = store.get(job_id)
    assert (got.stage, got.progress) == ("scoring", 0.0)


def _overdue_beat(store: JobStore, progress: float | None) -> tuple[float, float]:
    """Beat a job 100 s past its expected end; (seconds from the beat's start to the stored
    ETA, from its end to the ETA)."""
    job_id = add_job(store)
    job = store.claim(job_id, "w1", 30)
    assert job is not None
    beat = R.Heartbeat(R.JobRunner(store, "w1"), job, R.CancelToken())
    beat._expected = Expected(seconds=0.0, started=now() - timedelta(seconds=100))
    if progress is not None:
        beat.progress("inference", progress)
    before = now()
    beat._beat()
    after = now()
    eta = store.get(job_id).estimated_completion
    assert eta is not None
    return (eta - before).total_seconds(), (eta - after).total_seconds()


def test_an_overdue_heartbeat_projects_the_eta_from_progress(store: JobStore) -> None:
    # half done after 100 s: 100 s more
    from_start, from_end = _overdue_beat(store, 0.5)
    assert from_start >= 100.0 and from_end <= 101.0
    # no progress reported yet: nothing to project from, the ETA is the beat's moment
    from_start, from_end = _overdue_beat(store, None)
    assert from_start >= 0.0 and from_end <= 0.0


def test_the_heartbeat_thread_is_a_daemon_named_heartbeat_and_stop_waits_5_s(
    store: JobStore,
) -> None:
    job_id = add_job(store)
    job = store.claim(job_id, "w1", 30)
    assert job is not None
    beat = R.Heartbeat(R.JobRunner(store, "w1"), job, R.CancelToken())
    assert (beat._thread.name, beat._thread.daemon) == ("heartbeat", True)
    joins: list[float | None] = []

    class Thread:  # a beat stuck on the store: stop() gives it 5 s, then returns
        def join(self, timeout: float | None = None) -> None:
            joins.append(timeout)

    beat._thread = Thread()  # type: ignore[assignment]
    beat.stop()
    assert beat._stop.is_set() and joins == [5]


@pytest.mark.parametrize(
    ("status", "reason"),
    [("cancelled", "cancelled"), ("failed", "job is failed"), ("lost", "job is None")],
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
    elif status == "failed":
        store.finish(job_id, "w1", "failed")
    else:  # another worker holds it now
        beat = R.Heartbeat(R.JobRunner(store, "w2"), job, R.CancelToken())
    beat._beat()
    assert (beat.token.cancelled, beat.token.reason) == (True, reason)


def test_worker_ids_name_kind_host_and_process() -> None:
    wid = R.new_worker_id("celery")
    kind, rest = wid.split("@")
    host, pid, tag = rest.split(":")
    assert kind == "celery" and host and pid.isdigit() and len(tag) == 6
    assert R.new_worker_id().startswith("worker@")
