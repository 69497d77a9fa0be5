"""Each SDK method against the contract's own examples, over real HTTP (scripted server).

For every operation: the request the SDK sends (method, path, query, body) is the
one the contract documents, and the contract's example answer parses into the
typed model with the fields readable as attributes. Runs without the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from autoscorer.client import AutoScorerClient

RESULT = {
    "summary": {"score": 0.85, "rank": "A", "pass": True},
    "metrics": {"f1_macro": 0.85, "accuracy": 0.88},
    "timing": {"total_time": 45.6},
}
LOG = {
    "timestamp": "2024-08-24T10:00:30Z",
    "level": "INFO",
    "component": "executor",
    "message": "Starting container execution",
}

# (name, call, method, path, query, body, answer data, check)
CASES: list[
    tuple[str, Callable[[AutoScorerClient], Any], str, str, dict, Any, Any, Callable[[Any], Any]]
] = [
    (
        "submit sync",
        lambda c: c.submit_job(
            job_id="job-demo-001",
            task_type="classification",
            scorer="classification_f1",
            workspace_path="/w",
            config={"time_limit": 1800},
        ),
        "POST",
        "/api/v1/jobs",
        {},
        {
            "job_id": "job-demo-001",
            "task_type": "classification",
            "scorer": "classification_f1",
            "workspace_path": "/w",
            "config": {"time_limit": 1800},
        },
        {"job_id": "job-demo-001", "status": "completed", "execution_time": 45.6, "result": RESULT},
        lambda r: r.result.summary.score == 0.85 and r.result.summary.pass_ is True,
    ),
    (
        "submit async",
        lambda c: c.submit_job({"workspace_path": "/w"}, async_=True),
        "POST",
        "/api/v1/jobs",
        {},
        {"workspace_path": "/w", "async": True},
        {"job_id": "j", "status": "submitted", "estimated_completion": "2024-08-24T10:15:00Z"},
        lambda r: r.job_id == "j" and r.status == "submitted",
    ),
    (
        "batch",
        lambda c: c.submit_batch(
            [{"job_id": "a", "workspace_path": "/a"}], async_=True, max_parallel=5
        ),
        "POST",
        "/api/v1/jobs/batch",
        {},
        {"jobs": [{"job_id": "a", "workspace_path": "/a"}], "async": True, "max_parallel": 5},
        {
            "batch_id": "batch-001",
            "submitted_jobs": 1,
            "status": "processing",
            "jobs": [{"job_id": "a", "status": "submitted"}],
        },
        lambda r: r.job_ids == ["a"] and r.batch_id == "batch-001",
    ),
    (
        "status",
        lambda c: c.get_job_status("job/1"),
        "GET",
        "/api/v1/jobs/job%2F1/status",
        {},
        None,
        {
            "job_id": "job/1",
            "status": "running",
            "progress": 0.75,
            "executor": "docker",
            "resources": {"cpu_usage": 1.8},
            "logs_available": True,
        },
        lambda r: r.progress == 0.75 and not r.done and r.resources["cpu_usage"] == 1.8,
    ),
    (
        "result",
        lambda c: c.get_job_result("j", include_artifacts=True, include_logs=False),
        "GET",
        "/api/v1/jobs/j/result",
        {"include_artifacts": ["true"], "include_logs": ["false"]},
        None,
        {"job_id": "j", "status": "completed", "result": RESULT, "logs": [LOG]},
        lambda r: r.result.metrics["f1_macro"] == 0.85 and r.logs[0].component == "executor",
    ),
    (
        "logs",
        lambda c: c.get_job_logs("j", level="info", tail=3),
        "GET",
        "/api/v1/jobs/j/logs",
        {"level": ["info"], "tail": ["3"]},
        None,
        {"job_id": "j", "logs": [LOG], "total_lines": 156, "has_more": True},
        lambda r: r.total_lines == 156 and r.logs[0].message.startswith("Starting"),
    ),
    (
        "cancel",
        lambda c: c.cancel_job("j"),
        "DELETE",
        "/api/v1/jobs/j",
        {},
        None,
        {"job_id": "j", "status": "cancelled", "cancelled_at": "t", "reason": "User requested"},
        lambda r: r.status == "cancelled" and r.reason == "User requested",
    ),
    (
        "cancel batch",
        lambda c: c.cancel_batch(["a", "b"], reason="r"),
        "DELETE",
        "/api/v1/jobs/batch",
        {},
        {"job_ids": ["a", "b"], "reason": "r"},
        {
            "cancelled_jobs": [{"job_id": "a", "status": "cancelled"}],
            "failed_cancellations": [{"job_id": "b", "reason": "already completed"}],
            "total_cancelled": 1,
        },
        lambda r: r.total_cancelled == 1 and r.failed_cancellations[0]["job_id"] == "b",
    ),
    (
        "batch status",
        lambda c: c.batch_status(["a"], include_progress=True),
        "POST",
        "/api/v1/jobs/batch/status",
        {},
        {"job_ids": ["a"], "include_progress": True},
        {
            "jobs": [{"job_id": "a", "status": "completed", "progress": 1.0, "score": 0.85}],
            "summary": {"total": 1, "completed": 1},
        },
        lambda r: r.jobs[0].score == 0.85 and r.summary["completed"] == 1,
    ),
    (
        "list",
        lambda c: c.list_jobs(
            status="completed",
            task_type="classification",
            limit=2,
            offset=4,
            sort="created_at",
            order="desc",
        ),
        "GET",
        "/api/v1/jobs",
        {
            "status": ["completed"],
            "task_type": ["classification"],
            "limit": ["2"],
            "offset": ["4"],
            "sort": ["created_at"],
            "order": ["desc"],
        },
        None,
        {
            "jobs": [{"job_id": "a", "status": "completed", "score": 0.85}],
            "pagination": {
                "total": 5,
                "limit": 2,
                "offset": 4,
                "has_next": False,
                "has_prev": True,
            },
        },
        lambda r: r.pagination.has_prev and r.jobs[0].score == 0.85,
    ),
    (
        "scorers",
        lambda c: c.scorers.list(task_type="classification"),
        "GET",
        "/api/v1/scorers",
        {"task_type": ["classification"]},
        None,
        [
            {
                "name": "classification_f1",
                "version": "2.0.0",
                "task_type": "classification",
                "parameters": {
                    "average": {"type": "string", "default": "macro", "choices": ["macro", "micro"]}
                },
                "usage_count": 1205,
            }
        ],
        lambda r: r[0].parameters["average"].choices == ["macro", "micro"] and r[0].usage_count,
    ),
    (
        "scorer",
        lambda c: c.scorers.get("classification_f1", version="2.0.0"),
        "GET",
        "/api/v1/scorers/classification_f1",
        {"version": ["2.0.0"]},
        None,
        {"name": "classification_f1", "version": "2.0.0", "input_format": {"gt_file": "x"}},
        lambda r: r.input_format["gt_file"] == "x",
    ),
    (
        "scorer test",
        lambda c: c.scorers.test("f1", "/w", parameters={"average": "macro"}, validate_only=False),
        "POST",
        "/api/v1/scorers/f1/test",
        {},
        {"workspace_path": "/w", "parameters": {"average": "macro"}, "validate_only": False},
        {
            "scorer": "f1",
            "test_status": "passed",
            "execution_time": 0.45,
            "result": RESULT,
            "validation": {"workspace_valid": True},
            "performance": {"cpu_time": 0.42},
        },
        lambda r: r.result.summary.score == 0.85 and r.validation["workspace_valid"],
    ),
    (
        "load",
        lambda c: c.scorers.load("/s.py", auto_watch=True, check_interval=1.0),
        "POST",
        "/api/v1/scorers/load",
        {},
        {"file_path": "/s.py", "auto_watch": True, "check_interval": 1.0},
        {
            "loaded_scorers": [{"name": "custom", "version": "1.0.0", "file_path": "/s.py"}],
            "watch_enabled": True,
            "total_loaded": 1,
        },
        lambda r: r.loaded_scorers[0].name == "custom" and r.watch_enabled,
    ),
    (
        "reload",
        lambda c: c.scorers.reload("/s.py", scorer_name="custom"),
        "POST",
        "/api/v1/scorers/reload",
        {},
        {"file_path": "/s.py", "scorer_name": "custom"},
        {
            "reloaded_scorers": [
                {"name": "custom", "old_version": "1.0.0", "new_version": "1.1.0"}
            ],
            "total_reloaded": 1,
        },
        lambda r: r.reloaded_scorers[0].new_version == "1.1.0",
    ),
    (
        "watch",
        lambda c: c.scorers.watch("/s.py", check_interval=2.0),
        "POST",
        "/api/v1/scorers/watch",
        {},
        {"file_path": "/s.py", "check_interval": 2.0},
        {"file_path": "/s.py", "watch_started": True, "check_interval": 2.0},
        lambda r: r.watch_started,
    ),
    (
        "unwatch",
        lambda c: c.scorers.unwatch("/s.py"),
        "DELETE",
        "/api/v1/scorers/watch",
        {"file_path": ["/s.py"]},
        None,
        {"file_path": "/s.py", "watch_stopped": True},
        lambda r: r.watch_stopped,
    ),
    (
        "watch status",
        lambda c: c.scorers.watch_status(),
        "GET",
        "/api/v1/scorers/watch",
        {},
        None,
        {"watched_files": [{"file_path": "/s.py", "total_reloads": 2}], "total_watched": 1},
        lambda r: r.watched_files[0].total_reloads == 2,
    ),
    (
        "validate",
        lambda c: c.workspaces.validate("/w", strict_mode=True),
        "POST",
        "/api/v1/workspaces/validate",
        {},
        {"workspace_path": "/w", "strict_mode": True},
        {
            "workspace_path": "/w",
            "validation_status": "valid",
            "checks": {"structure": {"status": "valid", "details": {"has_input_dir": True}}},
            "warnings": ["empty"],
            "errors": [],
        },
        lambda r: r.valid and r.checks["structure"].details["has_input_dir"],
    ),
    (
        "init",
        lambda c: c.workspaces.init("/n", template="classification"),
        "POST",
        "/api/v1/workspaces/init",
        {},
        {"workspace_path": "/n", "template": "classification"},
        {"workspace_path": "/n", "created_files": ["meta.json"], "next_steps": ["x"]},
        lambda r: r.created_files == ["meta.json"],
    ),
    (
        "config",
        lambda c: c.config.get(section="executor"),
        "GET",
        "/api/v1/config",
        {"section": ["executor"]},
        None,
        {"executor": {"type": "docker"}},
        lambda r: r.executor["type"] == "docker",
    ),
    (
        "config update",
        lambda c: c.config.update("executor", {"type": "k8s"}, restart_required=True),
        "PUT",
        "/api/v1/config",
        {},
        {"section": "executor", "config": {"type": "k8s"}, "restart_required": True},
        {
            "updated_section": "executor",
            "changes": {"type": {"old": "docker", "new": "k8s"}},
            "restart_required": True,
        },
        lambda r: r.changes["type"]["new"] == "k8s",
    ),
    (
        "health",
        lambda c: c.health(),
        "GET",
        "/health",
        {},
        None,
        {"status": "healthy", "version": "2.0.0", "components": {"redis": "healthy"}},
        lambda r: r.components["redis"] == "healthy",
    ),
    (
        "status",
        lambda c: c.status(),
        "GET",
        "/api/v1/status",
        {},
        None,
        {"system": {"version": "2.0.0"}, "metrics": {"total_jobs": 1250}},
        lambda r: r.metrics["total_jobs"] == 1250,
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "body", "data", "check"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_request_and_answer_follow_the_contract(
    scripted, call, method, path, query, body, data, check
) -> None:
    scripted.reply(200, {"success": True, "data": data, "meta": {"request_id": "r"}})
    with AutoScorerClient(scripted.url, api_key="k", retries=0) as client:
        answer = call(client)
    sent = scripted.requests[-1]
    url = urlsplit(sent["path"])
    assert (sent["method"], url.path) == (method, path)
    assert parse_qs(url.query) == query
    assert sent["body"] == body
    assert sent["headers"]["Authorization"] == "Bearer k"
    assert sent["headers"]["User-Agent"].startswith("autoscorer-client/")
    assert check(answer)


def _status(state: str, progress: float) -> dict[str, Any]:
    return {"success": True, "data": {"job_id": "j", "status": state, "progress": progress}}


def test_stream_logs_reads_ndjson_until_the_stream_ends(scripted) -> None:
    lines = "\n".join(
        [
            '{"timestamp": "t1", "level": "INFO", "message": "one"}',
            "",
            '{"timestamp": "t2", "level": "INFO", "message": "two"}',
        ]
    )
    scripted.reply_raw(200, lines.encode(), "application/x-ndjson")
    with AutoScorerClient(scripted.url, retries=0) as c:
        assert [e.message for e in c.stream_logs("j")] == ["one", "two"]
    assert parse_qs(urlsplit(scripted.requests[0]["path"]).query) == {"follow": ["true"]}


def test_stream_logs_reads_server_sent_events(scripted) -> None:
    events = 'event: log\ndata: {"timestamp": "t1", "level": "INFO", "message": "one"}\n\n'
    scripted.reply_raw(200, (events + ": keep-alive\n\n").encode(), "text/event-stream")
    with AutoScorerClient(scripted.url, retries=0) as c:
        assert [e.message for e in c.stream_logs("j")] == ["one"]


def test_stream_logs_polls_with_since_when_the_server_does_not_stream(scripted) -> None:
    a = {"timestamp": "t1", "level": "INFO", "message": "a"}
    b = {"timestamp": "t2", "level": "INFO", "message": "b"}
    c_ = {"timestamp": "t2", "level": "INFO", "message": "c"}
    scripted.reply(200, {"success": True, "data": {"job_id": "j", "logs": [a]}})
    scripted.reply(200, _status("running", 0.5))
    scripted.reply(200, {"success": True, "data": {"job_id": "j", "logs": [a, b]}})  # inclusive
    scripted.reply(200, _status("completed", 1.0))
    scripted.reply(200, {"success": True, "data": {"job_id": "j", "logs": [b, c_]}})
    with AutoScorerClient(scripted.url, retries=0) as client:
        got = [e.message for e in client.stream_logs("j", poll_interval=0.01)]
    assert got == ["a", "b", "c"]
    queries = [parse_qs(urlsplit(r["path"]).query) for r in scripted.requests]
    assert queries[2] == {"since": ["t1"]} and queries[4] == {"since": ["t2"]}


def test_wait_for_completion_polls_then_reports_a_failed_job(scripted) -> None:
    scripted.reply(200, _status("queued", 0.0))
    scripted.reply(200, _status("running", 0.6))
    failed = {
        **_status("failed", 1.0)["data"],
        "error": {"code": "MISSING_COLUMN", "message": "no label"},
    }
    scripted.reply(200, {"success": True, "data": failed})
    scripted.fail(409, "CONFLICT", "job failed, no result")
    seen: list[str] = []
    with AutoScorerClient(scripted.url, retries=0) as client:
        out = client.wait_for_completion(
            "j", poll_interval=0.01, on_status=lambda s: seen.append(s.status)
        )
    assert seen == ["queued", "running", "failed"]
    assert not out.success and out.errors[0].code == "CONFLICT"


def test_iter_jobs_follows_has_next(scripted) -> None:
    for offset, ids, more in [(0, ["a", "b"], True), (2, ["c", "d"], True), (4, ["e"], False)]:
        page = {
            "jobs": [{"job_id": i} for i in ids],
            "pagination": {"total": 5, "limit": 2, "offset": offset, "has_next": more},
        }
        scripted.reply(200, {"success": True, "data": page})
    with AutoScorerClient(scripted.url, retries=0) as client:
        assert [j.job_id for j in client.iter_jobs(page_size=2, status="completed")] == list(
            "abcde"
        )
    offsets = [parse_qs(urlsplit(r["path"]).query)["offset"] for r in scripted.requests]
    assert offsets == [["0"], ["2"], ["4"]]
