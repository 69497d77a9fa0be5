"""The user's path end to end: a live ``uvicorn`` server, the SDKs, real sandboxes.

Every assertion is on what the user receives: API answers, SDK objects, downloaded bytes
(compared with the files the job wrote), and -- for cancel -- the Docker engine's own list
of containers. The first two tests run the same body on each executor (``server`` is
parametrized: docker, local/bwrap, kubernetes against the fake API server); the rest need
a container engine and run on Docker.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.e2e.helpers import Server, api, data, solve_cmd, wait_until

from autoscorer.client import AsyncAutoScorerClient, AutoScorerClient

NAMES = {"confusion_matrix", "confusion_matrix_json", "per_class", "error_cases"}


def client(server: Server) -> AutoScorerClient:
    return AutoScorerClient(server.url, api_key=server.key)


def test_health_is_healthy(server: Server) -> None:
    with client(server) as sdk:
        health = sdk.health()
    assert health.status == "healthy", health
    assert data(api(server, "GET", "/health"))["status"] == "healthy"


def test_container_job_completes_and_its_artifacts_download(server: Server, tmp_path) -> None:
    ws = server.workspace(f"ok-{server.executor}", solve_cmd())
    with client(server) as sdk:
        job = sdk.submit_job(workspace_path=str(ws), async_=True)
        assert job.status in ("queued", "running")
        seen: list[str] = []
        done = sdk.wait_for_completion(job.job_id, timeout=90, poll_interval=0.1,
                                       on_status=lambda s: seen.append(s.status))  # fmt: skip
        assert done.success, done.errors
        assert done.data.result.summary.score == 1.0
        assert seen[-1] == "completed"
        assert sdk.get_job_status(job.job_id).executor == server.executor
        listed = sdk.get_job_result(job.job_id, include_artifacts=True).result.artifacts
        assert set(listed) == NAMES
        written = ws / "output" / "artifacts"
        for name, entry in listed.items():
            on_disk = (written / Path(entry.path).name).read_bytes()
            assert entry.size == len(on_disk) > 0
            assert sdk.download_artifact(job.job_id, name) == on_disk
            saved = sdk.download_artifact(job.job_id, name, tmp_path)
            assert saved.read_bytes() == on_disk
        messages = [e.message for e in sdk.get_job_logs(job.job_id).logs]
    assert "predicting 12 ids" in messages  # the container's own output, through the API

    async def with_async() -> None:
        async with AsyncAutoScorerClient(server.url, api_key=server.key) as aclient:
            answer = await aclient.wait_for_completion(job.job_id, timeout=10)
            assert answer.success and answer.data.result.summary.score == 1.0
            for name, entry in listed.items():
                on_disk = (written / Path(entry.path).name).read_bytes()
                assert await aclient.download_artifact(job.job_id, name) == on_disk

    asyncio.run(with_async())


def test_failing_container_reports_exit_nonzero(server: Server) -> None:
    cmd = ["python3", "-c", "import sys; print('giving up', flush=True); sys.exit(3)"]
    ws = server.workspace(f"fail-{server.executor}", cmd)
    with client(server) as sdk:
        job = sdk.submit_job(workspace_path=str(ws), async_=True)
        answer = sdk.wait_for_completion(job.job_id, timeout=90, poll_interval=0.1)
        status = sdk.get_job_status(job.job_id)
    assert not answer.success
    assert status.status == "failed"
    assert status.error is not None and status.error.code == "EXIT_NONZERO", status.error
    assert status.error.details["fault"] == "participant"
    assert status.error.details["exit_code"] == 3


# -- Docker only: things only a container engine shows ------------------------------


def containers(job_id: str) -> list[str]:
    """The engine's own list (running or not) of the job's containers."""
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=autoscorer.job_id={job_id}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.split()


def test_cancel_a_running_container(docker_server: Server) -> None:
    cmd = ["sh", "-c", "echo started; sleep 60"]
    ws = docker_server.workspace("cancel-me", cmd, time_limit=120)
    with client(docker_server) as sdk:
        job = sdk.submit_job(workspace_path=str(ws), async_=True)
        wait_until(
            lambda: sdk.get_job_status(job.job_id).status == "running" and containers(job.job_id),
            30, "the job to run in a container",
        )  # fmt: skip
        cancelled = sdk.cancel_job(job.job_id)
        assert cancelled.status == "cancelled"
        t0 = time.monotonic()
        wait_until(lambda: not containers(job.job_id), 5, "the container to be removed")
        gone_after = time.monotonic() - t0
        time.sleep(1.5)  # the run's end must not overwrite the cancel
        status = sdk.get_job_status(job.job_id)
    assert gone_after < 5
    assert status.status == "cancelled", status
    assert containers(job.job_id) == []


def test_followed_log_streams_lines_while_the_container_runs(docker_server: Server) -> None:
    cmd = ["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 1; done"]
    ws = docker_server.workspace("follow-me", cmd)
    arrivals: list[tuple[str, str]] = []  # (line, the job's status when it arrived)
    with client(docker_server) as sdk:
        job = sdk.submit_job(workspace_path=str(ws), async_=True)
        for entry in sdk.stream_logs(job.job_id, timeout=60):
            if entry.message.startswith("tick "):
                arrivals.append((entry.message, sdk.get_job_status(job.job_id).status))
        final = sdk.get_job_status(job.job_id)
    assert [line for line, _ in arrivals] == ["tick 1", "tick 2", "tick 3"]
    # the first two lines arrive while the container is still printing (the job runs)
    assert arrivals[0][1] == "running" and arrivals[1][1] == "running", arrivals
    assert final.status == "failed"  # the container printed but wrote no predictions
    assert final.error is not None and final.error.code != "EXIT_NONZERO"


def test_async_sdk_follows_a_running_container(docker_server: Server) -> None:
    cmd = ["sh", "-c", "for i in 1 2; do echo tick $i; sleep 1; done"]
    ws = docker_server.workspace("follow-async", cmd)

    async def body() -> list[tuple[str, str]]:
        got: list[tuple[str, str]] = []
        async with AsyncAutoScorerClient(docker_server.url, api_key=docker_server.key) as sdk:
            job = await sdk.submit_job(workspace_path=str(ws), async_=True)
            async for entry in sdk.stream_logs(job.job_id, timeout=60):
                if entry.message.startswith("tick "):
                    got.append((entry.message, (await sdk.get_job_status(job.job_id)).status))
        return got

    arrivals = asyncio.run(body())
    assert [line for line, _ in arrivals] == ["tick 1", "tick 2"]
    assert arrivals[0][1] == "running", arrivals


def _intervals(statuses) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(s.started_at), datetime.fromisoformat(s.completed_at))
        for s in statuses
    ]


def _most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running = most = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_batch_never_runs_more_than_max_parallel(docker_server: Server) -> None:
    cmd = ["sh", "-c", "sleep 1.2; exit 0"]
    paths = [str(docker_server.workspace(f"batch-{i}", cmd)) for i in range(4)]
    most_seen = 0
    with client(docker_server) as sdk:
        batch = sdk.submit_batch([{"workspace_path": p} for p in paths], async_=True,
                                 max_parallel=2)  # fmt: skip
        assert len(batch.job_ids) == 4
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            # one list query is one snapshot; per-job reads are not (a job read as running
            # may have finished, and the next one started, before the last read)
            running = sdk.list_jobs(status="running", limit=100).jobs
            most_seen = max(most_seen, sum(j.job_id in batch.job_ids for j in running))
            snapshot = sdk.batch_status(batch.job_ids)
            if all(j.status in ("completed", "failed", "cancelled") for j in snapshot.jobs):
                break
            time.sleep(0.05)
        statuses = [sdk.get_job_status(j) for j in batch.job_ids]
    assert all(s.done for s in statuses), statuses
    assert most_seen <= 2
    spans = _intervals(statuses)
    assert _most_at_once(spans) == 2, spans  # two at a time: limited, and still parallel


def test_a_container_over_its_time_limit_fails_with_timeout(docker_server: Server) -> None:
    ws = docker_server.workspace("too-slow", ["sh", "-c", "echo working; sleep 30"], time_limit=1)
    with client(docker_server) as sdk:
        job = sdk.submit_job(workspace_path=str(ws), async_=True)
        answer = sdk.wait_for_completion(job.job_id, timeout=30, poll_interval=0.1)
        status = sdk.get_job_status(job.job_id)
    assert not answer.success and status.status == "failed"
    assert status.error is not None and status.error.code == "TIMEOUT_ERROR", status.error
    assert status.error.details["fault"] == "participant"
    assert containers(job.job_id) == []
