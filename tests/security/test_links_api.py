"""The workspace boundary through the REST API (TestClient and a live uvicorn server).

Every trick of ``boundary_kit`` is sent to ``POST /api/v1/jobs`` (then the job's
status, result and logs are read back), ``POST /api/v1/workspaces/validate`` and
``POST /api/v1/scorers/{name}/test``; no answer may carry a byte of the outside
folder or ``/etc/passwd``, and the outside folder must not change.
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from boundary_kit import BY_NAME, TRICKS, Scene, Trick

from autoscorer.api.main import create_app
from autoscorer.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

IDS = [t.name for t in TRICKS]
Client = TestClient | httpx.Client


def _settings(scene: Scene) -> Settings:
    return Settings(
        database_url=f"sqlite:///{scene.tmp / 'jobs.db'}",
        workspace_roots=[str(scene.roots)],
        executor="local",
        sync_wait_seconds=20.0,
    )


@pytest.fixture()
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


@pytest.fixture()
def client(scene: Scene) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(scene)), raise_server_exceptions=False) as c:
        yield c


def _job_texts(client: Client, job_id: str) -> list[str]:
    """Status, result and logs of a job, as the API gives them."""
    out = []
    for tail in ("/status", "/result", "/logs"):
        resp = client.get(f"/api/v1/jobs/{job_id}{tail}")
        assert resp.status_code in (200, 404, 409), resp.text
        out.append(resp.text)
    return out


def _submit(client: Client, scene: Scene, trick: Trick) -> list[str]:
    """Submit synchronously; the refusal's code must be the trick's, early or as a failed job."""
    resp = client.post("/api/v1/jobs", json={"workspace_path": str(scene.ws), "async": False})
    if trick.top_level:  # refused at submission: nothing is queued
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["code"] == trick.code
        return [resp.text]
    assert resp.status_code == 200, resp.text
    job = resp.json()["data"]
    assert job["status"] == "failed", job
    assert job["error"]["code"] == trick.code, job
    return [resp.text, *_job_texts(client, job["job_id"])]


@pytest.mark.parametrize("trick", TRICKS, ids=IDS)
def test_job_submission_refuses_the_link(client: TestClient, scene: Scene, trick: Trick) -> None:
    scene.plant(trick)
    texts = _submit(client, scene, trick)
    scene.assert_held(*texts)


@pytest.mark.parametrize("trick", TRICKS, ids=IDS)
def test_workspace_validation_refuses_the_link(
    client: TestClient, scene: Scene, trick: Trick
) -> None:
    scene.plant(trick)
    body = {"workspace_path": str(scene.ws), "auto_fix": True}
    resp = client.post("/api/v1/workspaces/validate", json=body)
    if trick.top_level:
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["code"] == "WORKSPACE_INVALID"
    else:
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["validation_status"] == "invalid"
        assert " link" in resp.text
    scene.assert_held(resp.text)


@pytest.mark.parametrize("trick", TRICKS, ids=IDS)
def test_scorer_test_refuses_the_link(client: TestClient, scene: Scene, trick: Trick) -> None:
    scene.plant(trick)
    body = {"workspace_path": str(scene.ws)}
    resp = client.post("/api/v1/scorers/classification_f1/test", json=body)
    if trick.top_level:
        assert resp.status_code == 422, resp.text
    else:
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()["data"]
        assert data["test_status"] == "failed" and data["result"] is None, data
    scene.assert_held(resp.text)


class _Live:
    """uvicorn on 127.0.0.1 in a thread, stopped by the fixture."""

    def __init__(self, settings: Settings) -> None:
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


LIVE = ["gt-etc-passwd", "pred-into-input", "output-folder", "logs-to-etc", "meta-json"]


@pytest.mark.parametrize("name", LIVE)
def test_a_live_server_refuses_the_link(scene: Scene, name: str) -> None:
    trick = BY_NAME[name]
    scene.plant(trick)
    with _Live(_settings(scene)) as url, httpx.Client(base_url=url, timeout=30) as http:
        texts = _submit(http, scene, trick)
        texts.append(http.get("/api/v1/jobs", params={"limit": 50}).text)
    scene.assert_held(*texts)
