"""Workspaces and scorers through the ASGI app, path escapes included."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from autoscorer.api.schemas import (
    ScorerPublic,
    ScorerTable,
    ScorerTestPublic,
    WorkspaceCreated,
    WorkspaceValidation,
)


def test_validate_valid_and_invalid_workspace(h, client: TestClient, roots: dict) -> None:
    data = h.data_of(client.post("/api/v1/workspaces/validate", json={"workspace_path": "cls"}))
    report = WorkspaceValidation.model_validate(data)
    assert report.validation_status == "valid"
    assert report.workspace_path == str(roots["workspaces"] / "cls")
    (roots["workspaces"] / "cls" / "output" / "pred.csv").write_text("id,label\ns0,cat\n")
    data = h.data_of(client.post("/api/v1/workspaces/validate", json={"workspace_path": "cls"}))
    assert data["validation_status"] == "invalid" and data["errors"]
    missing = client.post("/api/v1/workspaces/validate", json={"workspace_path": "nope"})
    h.check_error(missing, 404, "RESOURCE_NOT_FOUND", "workspace_path")


def test_init_creates_the_layout(h, client: TestClient, roots: dict) -> None:
    body = {"workspace_path": "fresh", "template": "regression", "job_id": "job-9"}
    data = WorkspaceCreated.model_validate(
        h.data_of(client.post("/api/v1/workspaces/init", json=body), 201)
    )
    assert "meta.json" in data.created_files and data.template_used == "regression"
    assert (roots["workspaces"] / "fresh" / "meta.json").is_file()
    unknown = client.post("/api/v1/workspaces/init", json={"workspace_path": "x", "template": "?"})
    h.check_error(unknown, 400, "INVALID_PARAMETER")


@pytest.fixture()
def escapes(roots: dict) -> list[str]:
    outside = roots["tmp"] / "outside"
    code = roots["tmp"] / "elsewhere"
    code.mkdir()
    (code / "evil.py").write_text("raise SystemExit('must never run')\n")
    for root in (roots["workspaces"], roots["scorers"]):
        os.symlink(outside, root / "sneaky")
        os.symlink(code / "evil.py", root / "evil.py")
    return ["../outside", str(outside), "sneaky", "cls/../../outside", "/etc", "~", "evil.py"]


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/api/v1/workspaces/validate", "workspace_path"),
        ("POST", "/api/v1/workspaces/init", "workspace_path"),
        ("POST", "/api/v1/scorers/classification_f1/test", "workspace_path"),
        ("POST", "/api/v1/scorers/load", "file_path"),
        ("POST", "/api/v1/scorers/reload", "file_path"),
        ("POST", "/api/v1/scorers/watch", "file_path"),
    ],
)
def test_paths_outside_the_roots_are_forbidden(
    h, client: TestClient, escapes: list[str], roots: dict, method: str, path: str, key: str
) -> None:
    for escape in escapes:
        resp = client.request(method, path, json={key: escape})
        if escape.startswith("~"):  # never expanded: refused before any look-up
            h.check_error(resp, 400, "INVALID_PARAMETER", key)
        else:
            h.check_error(resp, 403, "FORBIDDEN", key)
    assert list((roots["tmp"] / "outside").iterdir()) == []  # nothing written outside


def test_unwatch_path_outside_is_forbidden(h, client: TestClient, escapes: list[str]) -> None:
    resp = client.delete("/api/v1/scorers/watch", params={"file_path": escapes[0]})
    h.check_error(resp, 403, "FORBIDDEN", "file_path")


def test_list_scorers_json_table_and_filters(h, client: TestClient) -> None:
    items = h.data_of(client.get("/api/v1/scorers"))
    names = [ScorerPublic.model_validate(i).name for i in items]
    assert {"classification_f1", "regression_rmse", "detection_map"} <= set(names)
    assert names == sorted(names)
    assert all(i["usage_count"] == 0 and i["last_used"] is None for i in items)
    assert "input_format" not in items[0]
    cls_only = h.data_of(client.get("/api/v1/scorers", params={"task_type": "regression"}))
    assert {i["task_type"] for i in cls_only} == {"regression"}
    detailed = h.data_of(client.get("/api/v1/scorers", params={"include_details": "true"}))
    assert "input_format" in detailed[0] and "success_rate" in detailed[0]
    table = ScorerTable.model_validate(
        h.data_of(client.get("/api/v1/scorers", params={"format": "table"}))
    )
    assert table.columns[0] == "name" and len(table.rows) == len(items)


def test_scorer_details(h, client: TestClient) -> None:
    data = h.data_of(client.get("/api/v1/scorers/classification_f1"))
    info = ScorerPublic.model_validate(data)
    assert info.output_format and info.output_format.primary_metric == "f1_macro"
    assert info.parameters["average"].choices
    assert info.examples is not None
    same = h.data_of(
        client.get(
            "/api/v1/scorers/classification_f1",
            params={"version": info.version, "include_examples": "false"},
        )
    )
    assert "examples" not in same


def test_scorer_test_run_and_validate_only(h, client: TestClient, roots: dict) -> None:
    url = "/api/v1/scorers/classification_f1/test"
    body = {"workspace_path": "cls", "parameters": {"average": "macro"}}
    data = ScorerTestPublic.model_validate(h.data_of(client.post(url, json=body)))
    assert data.test_status == "passed"
    assert data.result and data.result.summary.score == pytest.approx(0.9, abs=1e-9)
    assert data.validation.model_dump() == {
        "workspace_valid": True,
        "data_format_valid": True,
        "parameters_valid": True,
    }
    assert data.performance and 0 < data.performance.cpu_time < 60
    assert data.performance.memory_usage
    assert not (roots["workspaces"] / "cls" / "output" / "result.json").exists()
    only = h.data_of(client.post(url, json={**body, "validate_only": True}))
    assert only["test_status"] == "passed" and only["result"] is None
    bad = h.data_of(client.post(url, json={**body, "parameters": {"average": "nope"}}))
    assert bad["test_status"] == "failed" and "average" in bad["errors"][0]
    assert bad["validation"]["parameters_valid"] is False


def test_scorer_test_reports_data_errors(h, client: TestClient, roots: dict) -> None:
    pred = roots["workspaces"] / "cls" / "output" / "pred.csv"
    pred.write_text(pred.read_text().replace("s3,", "zz,"))
    body = {"workspace_path": "cls"}
    data = h.data_of(client.post("/api/v1/scorers/classification_f1/test", json=body))
    assert data["test_status"] == "failed" and data["result"] is None
    assert data["validation"]["workspace_valid"] and not data["validation"]["data_format_valid"]


def test_scorer_names_do_not_shadow_fixed_routes(h, client: TestClient) -> None:
    assert h.data_of(client.get("/api/v1/scorers/watch")) == {
        "watched_files": [],
        "total_watched": 0,
    }
