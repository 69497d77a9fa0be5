"""The job routes' helpers on exact values: a followed log polled against a scripted service
(which lines, in what order, asked with which ``since`` and ``level``), the stream's line
format, and the fields of ``POST /api/v1/jobs/batch/status`` entries."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.api.conftest import (
    api_keys,
    bearer,
    check_error,
    data_of,
    write_sleeper,
)

from autoscorer.api.ops.job_json import log_json
from autoscorer.api.routes import jobs as routes
from autoscorer.jobs.records import JobStatus, LogEntry
from autoscorer.settings import ApiKey, hash_key


def _entry(second: int, message: str, level: str = "INFO") -> LogEntry:
    return LogEntry(datetime(2026, 1, 2, 3, 4, second, 500, tzinfo=UTC), level, "worker", message)


@dataclass
class ScriptedService:
    """Each poll of ``_follow`` reads the status, then the lines since the last one seen."""

    polls: list[tuple[JobStatus, list[LogEntry]]]
    inline_reads: bool = True
    asked: list[dict[str, Any]] = field(default_factory=list)
    _lines: list[LogEntry] = field(default_factory=list)

    def get(self, job_id: str, *, result: bool = True) -> Any:
        assert job_id == "f-1" and result is False
        status, self._lines = self.polls.pop(0)
        return SimpleNamespace(status=status, terminal=status.terminal)

    def logs(self, job_id: str, *, level: Any, since: Any, tail: Any) -> Any:
        self.asked.append({"level": level, "since": since, "tail": tail})
        return self._lines, len(self._lines)


def _follow(service: ScriptedService, first: list[LogEntry], sse: bool, level: Any) -> list[bytes]:
    async def collect() -> list[bytes]:
        stream = routes._follow(service, "f-1", level, [log_json(e) for e in first], sse)
        return [chunk async for chunk in stream]

    return asyncio.run(collect())


@pytest.fixture(autouse=True)
def _no_poll_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "FOLLOW_POLL", 0)


E0, E1, E2 = _entry(1, "queued"), _entry(2, "running: 猫"), _entry(3, "scored")


def _stamp(entry: LogEntry) -> str:
    return str(log_json(entry)["timestamp"])


def test_follow_sends_each_line_once_and_asks_for_lines_after_the_last_sent() -> None:
    service = ScriptedService(
        [
            (JobStatus.RUNNING, [E1]),
            (JobStatus.RUNNING, []),
            (JobStatus.COMPLETED, [E2]),
        ]
    )
    chunks = _follow(service, [E0], sse=False, level="info")
    assert [json.loads(c) for c in chunks] == [
        log_json(E0),
        log_json(E1),
        log_json(E2),
        {"job_id": "f-1", "status": "completed"},
    ]
    assert all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks)
    assert service.asked == [
        {"level": "info", "since": _stamp(E0), "tail": None},
        {"level": "info", "since": _stamp(E1), "tail": None},
        {"level": "info", "since": _stamp(E1), "tail": None},
    ]
    assert service.polls == []


def test_follow_with_no_line_yet_asks_from_the_start() -> None:
    service = ScriptedService([(JobStatus.FAILED, [])])
    chunks = _follow(service, [], sse=False, level="error")
    assert chunks == [b'{"job_id": "f-1", "status": "failed"}\n']
    assert service.asked == [{"level": "error", "since": None, "tail": None}]


def test_follow_as_server_sent_events() -> None:
    service = ScriptedService([(JobStatus.RUNNING, [E1]), (JobStatus.CANCELLED, [])])
    chunks = _follow(service, [E0], sse=True, level=None)
    text = [json.dumps(log_json(e), ensure_ascii=False) for e in (E0, E1)]
    assert chunks == [
        f"event: log\ndata: {text[0]}\n\n".encode(),
        f"event: log\ndata: {text[1]}\n\n".encode(),
        b'event: end\ndata: {"job_id": "f-1", "status": "cancelled"}\n\n',
    ]
    assert [a["since"] for a in service.asked] == [_stamp(E0), _stamp(E1)]
    assert {a["level"] for a in service.asked} == {None}


def test_a_stream_line_is_utf8_json_and_never_fails_on_a_value() -> None:
    assert routes._line({"message": "猫 é"}, False) == '{"message": "猫 é"}\n'.encode()
    assert routes._line({"at": Path("/w/x")}, True, "end") == (
        b'event: end\ndata: {"at": "/w/x"}\n\n'
    )


def test_batch_status_entries_name_their_job_and_drop_progress_on_request(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    data_of(client.post("/api/v1/jobs", json={"job_id": "bs-1", "workspace_path": str(ws)}))
    url = "/api/v1/jobs/batch/status"
    body = {"job_ids": ["bs-1", "nope"]}
    with_progress = data_of(client.post(url, json=body))["jobs"]
    assert with_progress[0]["job_id"] == "bs-1" and with_progress[0]["progress"] == 1.0
    missing = with_progress[1]
    assert set(missing) == {"job_id", "status", "error"}
    assert missing["job_id"] == "nope" and missing["status"] == "not_found"
    assert missing["error"]["code"] == "RESOURCE_NOT_FOUND"
    plain = data_of(client.post(url, json={**body, "include_progress": False}))["jobs"]
    assert "progress" not in plain[0] and plain[0]["status"] == "completed"
    assert {k: v for k, v in with_progress[0].items() if k != "progress"} == plain[0]
    assert plain[1] == missing


# ------------------------------------------------- the route handlers (mutmut skips them)


def test_unfinished_submits_answer_202_with_the_contract_message(make_client, roots) -> None:
    client = make_client(sync_wait_seconds=0)
    ws = write_sleeper(roots["workspaces"] / "slow", 30)
    body = {"workspace_path": str(ws)}
    waited = data_of(client.post("/api/v1/jobs", json={**body, "job_id": "w-1"}), 202)
    assert waited["message"] == "Job still running"
    assert waited["status_url"] == "/api/v1/jobs/w-1/status"
    queued_body = {**body, "job_id": "w-2", "async": True}
    queued = data_of(client.post("/api/v1/jobs", json=queued_body), 202)
    assert queued["message"] == "Job submitted for async processing"
    assert queued["status_url"] == "/api/v1/jobs/w-2/status"
    ids = {"job_ids": ["w-1", "w-2"], "reason": "tidy up"}
    cancel = data_of(client.request("DELETE", "/api/v1/jobs/batch", json=ids))
    assert cancel["total_cancelled"] == 2 and cancel["failed_cancellations"] == []
    entries = cancel["cancelled_jobs"]
    assert [(e["job_id"], e["status"], e["reason"]) for e in entries] == [
        ("w-1", "cancelled", "tidy up"),
        ("w-2", "cancelled", "tidy up"),
    ]
    assert all(set(e) == {"job_id", "status", "cancelled_at", "reason"} for e in entries)
    assert all(e["cancelled_at"] for e in entries)


def test_list_pages_by_offset(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    for job_id in ("p-1", "p-2", "p-3"):
        data_of(client.post("/api/v1/jobs", json={"job_id": job_id, "workspace_path": str(ws)}))
    page = data_of(client.get("/api/v1/jobs?limit=1&offset=1&sort=job_id&order=asc"))
    assert [j["job_id"] for j in page["jobs"]] == ["p-2"]
    assert page["pagination"] == {
        "total": 3,
        "limit": 1,
        "offset": 1,
        "has_next": True,
        "has_prev": True,
    }
    last = data_of(client.get("/api/v1/jobs?limit=2&offset=2&sort=job_id&order=desc"))
    assert [j["job_id"] for j in last["jobs"]] == ["p-1"]
    assert last["pagination"]["has_next"] is False


def test_logs_filter_by_level_and_since_and_say_when_more_exist(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    data_of(client.post("/api/v1/jobs", json={"job_id": "l-1", "workspace_path": str(ws)}))
    everything = data_of(client.get("/api/v1/jobs/l-1/logs"))
    lines, total = everything["logs"], everything["total_lines"]
    assert total == len(lines) >= 4 and everything["has_more"] is False
    assert everything["job_id"] == "l-1"
    assert data_of(client.get(f"/api/v1/jobs/l-1/logs?tail={total}"))["has_more"] is False
    errors = data_of(client.get("/api/v1/jobs/l-1/logs?level=error"))  # a clean run
    assert errors["logs"] == [] and errors["total_lines"] == 0 and errors["has_more"] is False
    since = lines[1]["timestamp"]
    later = data_of(client.get("/api/v1/jobs/l-1/logs", params={"since": since}))
    assert later["logs"] == [e for e in lines if e["timestamp"] > since]
    assert 0 < len(later["logs"]) < total


def test_another_submitters_job_is_not_found_on_every_job_route(make_client, roots) -> None:
    keys = [*api_keys(), ApiKey(name="bob", sha256=hash_key("bob-secret"), role="submitter")]
    client = make_client(api_keys=keys)
    bob = {"Authorization": "Bearer bob-secret"}
    body = {"job_id": "own-1", "workspace_path": str(roots["workspaces"] / "cls")}
    job = data_of(client.post("/api/v1/jobs", json=body, headers=bearer("submitter")))
    assert job["status"] == "completed" and job["owner"] == "submitter"
    own = client.get("/api/v1/jobs/own-1/artifacts/per_class", headers=bearer("submitter"))
    assert own.status_code == 200, own.text
    for method, url in (
        ("GET", "/api/v1/jobs/own-1/status"),
        ("GET", "/api/v1/jobs/own-1/result"),
        ("GET", "/api/v1/jobs/own-1/logs"),
        ("GET", "/api/v1/jobs/own-1/artifacts/per_class"),
        ("DELETE", "/api/v1/jobs/own-1"),  # 409 (finished) if the job were visible
    ):
        check_error(client.request(method, url, headers=bob), 404, "RESOURCE_NOT_FOUND", "job_id")
    listed = data_of(client.get("/api/v1/jobs", headers=bob))
    assert listed["jobs"] == [] and listed["pagination"]["total"] == 0
    listed = data_of(client.get("/api/v1/jobs", headers=bearer("reader")))
    assert [j["job_id"] for j in listed["jobs"]] == ["own-1"]
