"""The envelope on every answer, request ids, and the error table."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from autoscorer.api.schemas import Envelope


def test_success_envelope_and_generated_request_id(h, client: TestClient) -> None:
    resp = client.get("/health")
    body = resp.json()
    Envelope.model_validate(body)
    assert body["success"] is True and "errors" not in body
    assert body["meta"]["request_id"].startswith("req_")
    assert resp.headers["x-request-id"] == body["meta"]["request_id"]
    assert body["meta"]["timestamp"].endswith("Z")


def test_client_request_id_is_echoed_when_safe(h, client: TestClient) -> None:
    resp = client.get("/api/v1/scorers", headers={"X-Request-ID": "trace-42.a:b"})
    assert resp.headers["x-request-id"] == "trace-42.a:b"
    assert resp.json()["meta"]["request_id"] == "trace-42.a:b"
    unsafe = client.get("/health", headers={"X-Request-ID": "x" * 300})
    assert unsafe.headers["x-request-id"].startswith("req_")
    err = client.get("/nowhere", headers={"X-Request-ID": "mine-1"})
    assert err.headers["x-request-id"] == "mine-1" == err.json()["meta"]["request_id"]


def test_unknown_route_and_wrong_method(h, client: TestClient) -> None:
    h.check_error(client.get("/api/v1/nothing"), 404, "RESOURCE_NOT_FOUND")
    body = h.check_error(client.delete("/health"), 405, "METHOD_NOT_ALLOWED")
    assert body["errors"][0]["details"]["allowed"] == ["GET"]


def test_validation_errors_name_the_field(h, client: TestClient) -> None:
    resp = client.post("/api/v1/workspaces/validate", json={})
    h.check_error(resp, 400, "MISSING_PARAMETER", "workspace_path")
    resp = client.post("/api/v1/workspaces/validate", json={"workspace_path": "cls", "x": 1})
    h.check_error(resp, 400, "INVALID_PARAMETER", "x")
    resp = client.get("/api/v1/scorers", params={"format": "xml"})
    h.check_error(resp, 400, "INVALID_PARAMETER", "format")
    resp = client.post(
        "/api/v1/workspaces/validate",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    h.check_error(resp, 400, "INVALID_PARAMETER")


def test_body_size_limit(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=65_536)  # the smallest limit allowed
    big = {"workspace_path": "x" * 70_000}
    body = h.check_error(
        client.post("/api/v1/workspaces/validate", json=big), 413, "PAYLOAD_TOO_LARGE"
    )
    assert body["errors"][0]["details"]["limit"] == 65_536

    def chunks():
        yield b'{"workspace_path": "'
        yield b"y" * 70_000
        yield b'"}'

    resp = client.post(
        "/api/v1/workspaces/validate",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    h.check_error(resp, 413, "PAYLOAD_TOO_LARGE")


def test_unexpected_exception_is_500_without_traceback(h, client: TestClient) -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise ZeroDivisionError("secret internals")

    client.app.include_router(router)  # type: ignore[attr-defined]
    resp = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    body = h.check_error(resp, 500, "EXECUTION_FAILED")
    assert "secret internals" not in resp.text and "Traceback" not in resp.text
    assert "boom-1" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("path", "code", "status"),
    [
        ("/api/v1/scorers/nope", "SCORER_NOT_FOUND", 404),
        ("/api/v1/config?section=nope", "INVALID_PARAMETER", 400),
        ("/api/v1/scorers/classification_f1?version=9.9.9", "SCORER_NOT_FOUND", 404),
    ],
)
def test_domain_errors_map_to_their_status(
    h, client: TestClient, path: str, code: str, status: int
) -> None:
    h.check_error(client.get(path), status, code)
