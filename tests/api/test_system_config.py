"""Health, status, config, API keys, roles and rate limits through the ASGI app."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from autoscorer.api.schemas import ConfigUpdated, HealthPublic, SystemStatusPublic
from autoscorer.settings import MASK


def test_health_needs_no_key(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=h.api_keys())
    data = HealthPublic.model_validate(h.data_of(client.get("/health")))
    assert data.components["database"] == data.components["queue"] == "healthy"
    assert data.status == "healthy"  # every configured part answers in this app
    assert set(data.components) >= {"database", "queue", "docker", "k8s"}
    assert data.components["k8s"] == "unavailable"


def test_status_shape(h, client: TestClient) -> None:
    data = SystemStatusPublic.model_validate(h.data_of(client.get("/api/v1/status")))
    assert data.system.environment == "development"
    assert {"total_jobs", "active_jobs", "completed_jobs", "failed_jobs", "success_rate"} <= set(
        data.metrics.model_dump()
    )
    resources = data.resources.model_dump()
    assert all(0.0 <= resources[k] <= 1.0 for k in ("cpu_usage", "memory_usage", "disk_usage"))
    k8s = data.executors["k8s"].model_dump(exclude_none=True)
    assert k8s == {"status": "unavailable", "reason": "cluster not configured"}
    assert (data.executors["local"].available_cores or 0) >= 1


def test_config_sections_defaults_and_masking(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(webhook_secret="hush")
    data = h.data_of(client.get("/api/v1/config"))
    assert {"executor", "redis", "api", "logging", "database", "queue"} <= set(data)
    assert data["executor"]["type"] == "local"
    assert data["webhooks"]["secret"] == MASK and "hush" not in str(data)
    one = h.data_of(client.get("/api/v1/config", params={"section": "logging"}))
    assert one == {"logging": {"level": "INFO", "format": "text"}}
    explicit = h.data_of(
        client.get("/api/v1/config", params={"section": "api", "include_defaults": "false"})
    )
    assert explicit == {"api": {"sync_wait_seconds": 10.0}}


def test_put_config_changes_live_settings(h, client: TestClient) -> None:
    body = {"section": "api", "config": {"rate_limit": 5, "port": 9999}, "restart_required": True}
    data = ConfigUpdated.model_validate(h.data_of(client.put("/api/v1/config", json=body)))
    assert {key: change.model_dump() for key, change in data.changes.items()} == {
        "rate_limit": {"old": 0.0, "new": 5.0},
        "port": {"old": 8000, "new": 9999},
    }
    assert data.restart_required is True and data.updated_section == "api"
    assert h.data_of(client.get("/api/v1/config?section=api"))["api"]["rate_limit"] == 5.0
    bad = client.put("/api/v1/config", json={"section": "api", "config": {"port": -1}})
    h.check_error(bad, 400, "INVALID_PARAMETER")
    unknown = client.put("/api/v1/config", json={"section": "api", "config": {"colour": 1}})
    h.check_error(unknown, 400, "INVALID_PARAMETER", "config.colour")


def test_keys_and_roles(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=h.api_keys())
    h.check_error(client.get("/api/v1/scorers"), 401, "UNAUTHORIZED")
    resp = client.get("/api/v1/scorers", headers={"Authorization": "Bearer wrong"})
    h.check_error(resp, 401, "UNAUTHORIZED")
    assert resp.headers["www-authenticate"] == "Bearer"
    h.data_of(client.get("/api/v1/scorers", headers=h.bearer("reader")))
    put = {"section": "logging", "config": {"level": "DEBUG"}}
    for role in ("reader", "submitter"):
        resp = client.put("/api/v1/config", json=put, headers=h.bearer(role))
        h.check_error(resp, 403, "FORBIDDEN")
    h.data_of(client.put("/api/v1/config", json=put, headers=h.bearer("admin")))
    body = {"workspace_path": "new-ws"}
    h.check_error(
        client.post("/api/v1/workspaces/init", json=body, headers=h.bearer("reader")),
        403,
        "FORBIDDEN",
    )
    h.data_of(client.post("/api/v1/workspaces/init", json=body, headers=h.bearer("submitter")), 201)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/scorers/load", {"file_path": "x.py"}),
        ("POST", "/api/v1/scorers/reload", {"file_path": "x.py"}),
        ("POST", "/api/v1/scorers/watch", {"file_path": "x.py"}),
        ("DELETE", "/api/v1/scorers/watch?file_path=x.py", None),
        ("PUT", "/api/v1/config", {"section": "api", "config": {}}),
    ],
)
def test_code_and_config_changes_are_admin_only(
    h, make_client: Callable[..., TestClient], method: str, path: str, body: dict | None
) -> None:
    client = make_client(api_keys=h.api_keys())
    resp = client.request(method, path, json=body, headers=h.bearer("submitter"))
    h.check_error(resp, 403, "FORBIDDEN")


def test_rate_limit_per_key_with_retry_after(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=h.api_keys(reader=0.5), rate_limit=1000, rate_limit_burst=3)
    for _ in range(3):
        h.data_of(client.get("/api/v1/scorers", headers=h.bearer("reader")))
    resp = client.get("/api/v1/scorers", headers=h.bearer("reader"))
    body = h.check_error(resp, 429, "QUOTA_EXCEEDED")
    assert int(resp.headers["retry-after"]) == 2  # one token at 0.5/s
    assert body["errors"][0]["details"]["retry_after"] > 0
    h.data_of(client.get("/api/v1/scorers", headers=h.bearer("admin")))  # other key unaffected
    h.data_of(client.get("/health"))  # probes are never limited


def test_anonymous_role_and_open_server(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_keys=h.api_keys(), anonymous_role="reader")
    h.data_of(client.get("/api/v1/scorers"))
    h.check_error(
        client.put("/api/v1/config", json={"section": "api", "config": {}}), 403, "FORBIDDEN"
    )


def test_cors_when_configured(make_client: Callable[..., TestClient]) -> None:
    client = make_client(cors_origins=["http://ui.test"])
    resp = client.options(
        "/api/v1/scorers",
        headers={"Origin": "http://ui.test", "Access-Control-Request-Method": "GET"},
    )
    assert resp.headers["access-control-allow-origin"] == "http://ui.test"
    other = client.get("/health", headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        ({"database": "healthy", "queue": "healthy", "docker": "healthy"}, "healthy"),
        ({"database": "healthy", "queue": "healthy", "k8s": "unavailable"}, "healthy"),
        ({"database": "healthy", "queue": "healthy", "docker": "unhealthy"}, "degraded"),
        ({"database": "healthy", "queue": "unhealthy"}, "degraded"),
        ({"database": "unhealthy", "queue": "healthy"}, "unhealthy"),
        ({"database": "unavailable", "queue": "unavailable"}, "unhealthy"),
    ],
)
def test_overall_health_from_components(components: dict[str, str], expected: str) -> None:
    from autoscorer.api.ops.system import overall

    assert overall(components) == expected
