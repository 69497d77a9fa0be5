"""``GET /jobs/{id}/logs?follow=true`` sends the lines written after the stream opened.

The job is a row put straight into the store as ``running`` (no executor): the test, not a
scorer, decides when lines arrive and when the job ends, so the order is certain. A line is
written only once the stream has read the job's first lines, and the job ends after that.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from autoscorer.jobs.records import JobStatus, NewJob


def _running_job(service: Any, job_id: str, ws: str) -> None:
    job = NewJob(
        job_id=job_id,
        task_type="classification",
        scorer="classification_f1",
        workspace_path=ws,
        executor="local",
        queue="score",
        config={},
    )
    service.store.add(job, status=JobStatus.RUNNING)
    service.store.add_log(job_id, "INFO", "test", "before the stream")


def _write_later(service: Any, job_id: str, opened: threading.Event) -> threading.Thread:
    def later() -> None:
        assert opened.wait(10), "the stream never read the job's logs"
        time.sleep(0.05)  # a later timestamp than the first line's
        service.store.add_log(job_id, "WARNING", "test", "after the stream opened")
        time.sleep(0.3)  # at least one more poll sees the job still running
        service.store.transition(job_id, JobStatus.COMPLETED, allowed_from=[JobStatus.RUNNING])

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    return thread


def _watch_first_read(service: Any, monkeypatch: Any) -> threading.Event:
    opened = threading.Event()
    logs = service.logs

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = logs(*args, **kwargs)
        opened.set()
        return out

    monkeypatch.setattr(service, "logs", spy)
    return opened


def _follow(client: Any, monkeypatch: Any, roots: Any, headers: dict[str, str]) -> str:
    service = client.app.state.runtime.service
    _running_job(service, "live", str(roots["workspaces"] / "cls"))
    thread = _write_later(service, "live", _watch_first_read(service, monkeypatch))
    text = client.get("/api/v1/jobs/live/logs?follow=true", headers=headers).text
    thread.join(10)
    return text


def test_ndjson_follow_sends_lines_written_after_it_opened(client, roots, monkeypatch) -> None:
    text = _follow(client, monkeypatch, roots, {})
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(e.get("level"), e.get("message")) for e in lines[:-1]] == [
        ("INFO", "before the stream"),
        ("WARNING", "after the stream opened"),
    ]
    assert lines[-1] == {"job_id": "live", "status": "completed"}


def test_sse_follow_sends_lines_written_after_it_opened(client, roots, monkeypatch) -> None:
    text = _follow(client, monkeypatch, roots, {"Accept": "text/event-stream"})
    events = [block.split("\n", 1) for block in text.strip().split("\n\n")]
    assert [name for name, _ in events] == ["event: log", "event: log", "event: end"]
    data = [json.loads(body.removeprefix("data: ")) for _, body in events]
    assert [d.get("message") for d in data[:2]] == ["before the stream", "after the stream opened"]
    assert data[2] == {"job_id": "live", "status": "completed"}
