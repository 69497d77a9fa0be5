"""Shutdown and broker outages: a stopped in-process service hands its running jobs back
to ``queued`` (the next start runs them again); a submit the broker refuses fails at once
with SERVICE_UNAVAILABLE instead of leaving a job ``queued`` forever."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.jobs.helpers import (
    kill_sandboxes,
    sandbox_processes,
    score_workspace,
    sleeper_workspace,
    wait_for,
    wait_terminal,
)

from autoscorer.errors import ServiceUnavailable
from autoscorer.jobs.factory import build_service
from autoscorer.jobs.records import JobSubmission
from autoscorer.settings import Settings


def _settings(tmp_path: Path, **kw: object) -> Settings:
    values = {"database_url": f"sqlite:///{tmp_path / 'jobs.db'}", "executor": "local",
              "workspace_roots": [str(tmp_path)], **kw}  # fmt: skip
    return Settings(**values)  # type: ignore[arg-type]


def test_close_stops_running_jobs_and_the_next_start_runs_them(tmp_path: Path) -> None:
    ws, marker = sleeper_workspace(tmp_path, 2)
    service = build_service(_settings(tmp_path))
    try:
        service.submit(JobSubmission(job_id="slow", workspace_path=str(ws)))
        wait_for(lambda: service.get("slow").stage == "inference" or None, 20, "inference")
        started = time.monotonic()
        service.close()
        assert time.monotonic() - started < 5  # does not wait for the run to end
        assert sandbox_processes(marker) == []
        restarted = build_service(_settings(tmp_path))
        try:
            job = wait_terminal(restarted, "slow", timeout=60)
            assert job.status == "completed" and job.attempts == 2
            logs, _ = restarted.logs("slow", level="warning", since=None, tail=None)
            assert any("requeued" in e.message for e in logs)
        finally:
            restarted.close()
    finally:
        kill_sandboxes(marker)


@pytest.mark.celery
def test_a_refused_enqueue_fails_the_job_at_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path, queue="celery", broker_url="redis://127.0.0.1:1/0")
    service = build_service(settings)
    try:
        ws = score_workspace(tmp_path)
        with pytest.raises(ServiceUnavailable) as info:
            service.submit(JobSubmission(job_id="nobroker", workspace_path=str(ws)))
        assert info.value.details["component"] == "queue"
        job = service.get("nobroker")
        assert job.status == "failed" and job.error["code"] == "SERVICE_UNAVAILABLE"
    finally:
        service.close()
