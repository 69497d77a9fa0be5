"""The job endpoints over the real job service (SQLite + in-process queue + local executor)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from tests.api.conftest import bearer, check_error, data_of, write_classification, write_sleeper


def _wait(client: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = data_of(client.get(f"/api/v1/jobs/{job_id}/status"))
        if data["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


def test_sync_submit_returns_the_result(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    data = data_of(client.post("/api/v1/jobs", json={"workspace_path": str(ws)}))
    assert data["status"] == "completed"
    assert data["result"]["summary"]["score"] == pytest.approx(0.8998, abs=1e-3)
    assert data["scorer"] == "classification_f1" and data["task_type"] == "classification"
    assert json.loads((ws / "output" / "result.json").read_text())["summary"]["pass"] is True


def test_async_submit_then_status_result_logs(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    resp = client.post(
        "/api/v1/jobs", json={"job_id": "j-async", "workspace_path": str(ws), "async": True}
    )
    data = data_of(resp, 202)
    assert data["job_id"] == "j-async" and data["status"] in ("queued", "running", "completed")
    assert data["status_url"] == "/api/v1/jobs/j-async/status"
    assert data["estimated_completion"]
    status = _wait(client, "j-async")
    assert status["status"] == "completed" and status["progress"] == 1.0
    assert status["created_at"] <= status["started_at"] <= status["completed_at"]
    assert "result" not in status and status["logs_available"] is True
    result = data_of(client.get("/api/v1/jobs/j-async/result?include_logs=true"))
    assert result["result"]["metrics"]["accuracy"] == pytest.approx(0.9)
    assert [e["component"] for e in result["logs"]][:2] == ["api", "worker"]
    no_art = data_of(client.get("/api/v1/jobs/j-async/result?include_artifacts=false"))
    assert "artifacts" not in no_art["result"]
    logs = data_of(client.get("/api/v1/jobs/j-async/logs?tail=2"))
    assert len(logs["logs"]) == 2 and logs["total_lines"] >= 4 and logs["has_more"] is True


def test_duplicate_job_id_is_a_conflict(client, roots) -> None:
    body = {"job_id": "dup", "workspace_path": str(roots["workspaces"] / "cls")}
    data_of(client.post("/api/v1/jobs", json=body))
    check_error(client.post("/api/v1/jobs", json=body), 409, "CONFLICT", "job_id")
    listed = data_of(client.get("/api/v1/jobs"))
    assert [j["job_id"] for j in listed["jobs"]] == ["dup"]


def test_bad_submissions_fail_at_once(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    check_error(
        client.post("/api/v1/jobs", json={"workspace_path": str(ws), "scorer": "nope"}),
        404,
        "SCORER_NOT_FOUND",
    )
    empty = roots["workspaces"] / "empty"
    empty.mkdir()
    check_error(
        client.post("/api/v1/jobs", json={"workspace_path": str(empty)}), 422, "WORKSPACE_INVALID"
    )
    check_error(client.get("/api/v1/jobs/missing/status"), 404, "RESOURCE_NOT_FOUND")
    check_error(
        client.post("/api/v1/jobs", json={"workspace_path": str(roots["tmp"] / "outside")}),
        403,
        "FORBIDDEN",
    )


def test_result_of_an_unfinished_job_is_a_conflict_and_cancel_stops_it(client, roots) -> None:
    ws = write_sleeper(roots["workspaces"] / "slow", 30)
    data_of(
        client.post(
            "/api/v1/jobs", json={"job_id": "slow", "workspace_path": str(ws), "async": True}
        ),
        202,
    )
    deadline = time.monotonic() + 20
    while data_of(client.get("/api/v1/jobs/slow/status"))["stage"] != "inference":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    check_error(client.get("/api/v1/jobs/slow/result"), 409, "CONFLICT")
    started = time.monotonic()
    cancelled = data_of(client.delete("/api/v1/jobs/slow"))
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert cancelled["reason"] == "User requested cancellation"
    check_error(client.delete("/api/v1/jobs/slow"), 409, "CONFLICT")
    run_info = ws / "logs" / "run_info.json"
    while not run_info.exists():  # the sandbox is stopped and reported
        assert time.monotonic() - started < 5
        time.sleep(0.05)
    assert time.monotonic() - started < 5
    result = data_of(client.get("/api/v1/jobs/slow/result"))
    assert result["status"] == "cancelled" and result["result"]["error"]["code"] == "CANCELLED"


def test_batch_submit_status_cancel_and_list(client, roots) -> None:
    base = roots["workspaces"]
    jobs = []
    for i in range(4):
        write_classification(base / f"b{i}")
        jobs.append({"job_id": f"b{i}", "workspace_path": str(base / f"b{i}")})
    batch = data_of(client.post("/api/v1/jobs/batch", json={"jobs": jobs, "max_parallel": 1}), 202)
    assert batch["batch_id"].startswith("batch-") and batch["submitted_jobs"] == 4
    assert batch["max_parallel"] == 1  # handed to the service, which stores it on each job
    assert [j["job_id"] for j in batch["jobs"]] == ["b0", "b1", "b2", "b3"]
    for i in range(4):
        _wait(client, f"b{i}")
    ids = {"job_ids": ["b0", "nope", "b3"]}
    status = data_of(client.post("/api/v1/jobs/batch/status", json=ids))
    zero = dict.fromkeys(("submitted", "queued", "running", "failed", "cancelled"), 0)
    assert status["summary"] == {"total": 3, "completed": 2, "not_found": 1, **zero}
    assert [j["status"] for j in status["jobs"]] == ["completed", "not_found", "completed"]
    assert status["jobs"][1]["error"]["code"] == "RESOURCE_NOT_FOUND"
    again = client.post(
        "/api/v1/jobs/batch", json={"jobs": [jobs[0], {**jobs[1], "job_id": "new"}]}
    )
    check_error(again, 409, "CONFLICT")
    assert data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 4  # nothing half-done
    page = data_of(client.get("/api/v1/jobs?limit=3&offset=0&sort=job_id&order=asc"))
    assert [j["job_id"] for j in page["jobs"]] == ["b0", "b1", "b2"]
    assert page["pagination"] == {
        "total": 4,
        "limit": 3,
        "offset": 0,
        "has_next": True,
        "has_prev": False,
    }
    done = data_of(client.get("/api/v1/jobs?status=completed&scorer=classification_f1"))
    assert done["pagination"]["total"] == 4
    ids = {"job_ids": ["b0", "nope", "b1"]}
    cancel = data_of(client.request("DELETE", "/api/v1/jobs/batch", json=ids))
    assert cancel["total_cancelled"] == 0
    failed = [(f["job_id"], f["error"]["code"]) for f in cancel["failed_cancellations"]]
    assert failed == [("b0", "CONFLICT"), ("nope", "RESOURCE_NOT_FOUND"), ("b1", "CONFLICT")]


def test_follow_streams_until_the_job_ends(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    data_of(
        client.post("/api/v1/jobs", json={"job_id": "f", "workspace_path": str(ws), "async": True}),
        202,
    )
    with client.stream("GET", "/api/v1/jobs/f/logs?follow=true") as resp:
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in resp.iter_lines() if line]
    assert lines[-1] == {"job_id": "f", "status": "completed"}
    assert any("score" in e.get("message", "") for e in lines[:-1])
    sse = client.get("/api/v1/jobs/f/logs?follow=true", headers={"Accept": "text/event-stream"})
    assert sse.text.startswith("event: log\ndata: ") and "event: end" in sse.text


def test_status_counts_and_scorer_usage_are_real(client, roots) -> None:
    ws = roots["workspaces"] / "cls"
    data_of(client.post("/api/v1/jobs", json={"workspace_path": str(ws)}))
    metrics = data_of(client.get("/api/v1/status"))["metrics"]
    assert metrics["total_jobs"] == 1 and metrics["completed_jobs"] == 1
    assert metrics["success_rate"] == 1.0
    scorer = data_of(client.get("/api/v1/scorers/classification_f1"))
    assert scorer["usage_count"] == 1 and scorer["last_used"] and scorer["success_rate"] == 1.0


def test_roles_guard_job_routes(make_client, roots, h) -> None:
    client = make_client(api_keys=h.api_keys())
    body = {"workspace_path": str(roots["workspaces"] / "cls")}
    check_error(client.post("/api/v1/jobs", json=body), 401, "UNAUTHORIZED")
    check_error(client.post("/api/v1/jobs", json=body, headers=bearer("reader")), 403, "FORBIDDEN")
    job = data_of(client.post("/api/v1/jobs", json=body, headers=bearer("submitter")))
    data_of(client.get(f"/api/v1/jobs/{job['job_id']}/status", headers=bearer("reader")))


def test_restart_keeps_jobs(make_client, roots) -> None:
    first = make_client()
    ws = roots["workspaces"] / "cls"
    data_of(first.post("/api/v1/jobs", json={"job_id": "keep", "workspace_path": str(ws)}))
    first.__exit__(None, None, None)
    second = make_client()
    assert data_of(second.get("/api/v1/jobs/keep/status"))["status"] == "completed"
