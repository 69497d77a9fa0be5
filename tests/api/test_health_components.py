"""``/health`` has a component for the configured broker (Redis or RabbitMQ), probed for
real; ``/api/v1/status`` shows the Docker engine's capacity."""

from __future__ import annotations

from collections.abc import Callable

import docker
import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import free_port

from autoscorer.workspace.models import format_bytes

REDIS = "redis://127.0.0.1:6379/0"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.mark.parametrize(
    ("broker", "component"), [(REDIS, "redis"), (AMQP, "rabbitmq")], ids=["redis", "rabbitmq"]
)
def test_a_celery_broker_is_a_health_component(
    h, make_client: Callable[..., TestClient], broker: str, component: str
) -> None:
    client = make_client(queue="celery", broker_url=broker)
    data = h.data_of(client.get("/health"))
    assert data["components"][component] == "healthy"
    assert data["status"] == "healthy"


def test_an_unreachable_broker_degrades_health(h, make_client: Callable[..., TestClient]) -> None:
    client = make_client(queue="celery", broker_url=f"redis://127.0.0.1:{free_port()}/0")
    data = h.data_of(client.get("/health"))
    assert data["components"]["redis"] == "unhealthy"
    assert data["status"] == "degraded"


def test_the_inprocess_queue_has_no_broker_component(h, client: TestClient) -> None:
    components = h.data_of(client.get("/health"))["components"]
    assert not {"redis", "rabbitmq"} & set(components)


def test_status_shows_the_docker_engines_capacity(h, client: TestClient) -> None:
    engine = docker.from_env()
    try:
        info = engine.info()
    finally:
        engine.close()
    data = h.data_of(client.get("/api/v1/status"))["executors"]["docker"]
    assert data["status"] == "healthy"
    assert data["available_cores"] == info["NCPU"]
    assert data["available_memory"] == format_bytes(info["MemTotal"])
    assert isinstance(data["active_containers"], int)
