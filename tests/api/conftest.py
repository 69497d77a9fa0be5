"""Fixtures: a small classification workspace under a root, settings, the ASGI app
(through TestClient, lifespan included) and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from autoscorer.api.main import create_app
from autoscorer.api.schemas import ErrorEnvelope
from autoscorer.settings import ApiKey, Settings, hash_key

with warnings.catch_warnings():  # starlette's notice about httpx2; TestClient works as is
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEYS = {"reader": "reader-secret", "submitter": "submitter-secret", "admin": "admin-secret"}


def write_classification(root: Path, *, n: int = 40, wrong: int = 4) -> Path:
    """A score-only workspace: ``n`` rows, the first ``wrong`` predictions wrong."""
    labels = ["cat", "dog"]
    (root / "input").mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    gt = [(f"s{i}", labels[i % 2]) for i in range(n)]
    pred = [(i, labels[(labels.index(lab) + (k < wrong)) % 2]) for k, (i, lab) in enumerate(gt)]
    (root / "input" / "gt.csv").write_text("id,label\n" + "".join(f"{i},{v}\n" for i, v in gt))
    (root / "output" / "pred.csv").write_text("id,label\n" + "".join(f"{i},{v}\n" for i, v in pred))
    meta = {"job_id": root.name, "task_type": "classification", "scorer": "classification_f1"}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.fixture()
def roots(tmp_path: Path) -> dict[str, Path]:
    ws_root, scorer_root = tmp_path / "workspaces", tmp_path / "scorers"
    ws_root.mkdir()
    scorer_root.mkdir()
    write_classification(ws_root / "cls")
    (tmp_path / "outside").mkdir()
    return {"workspaces": ws_root, "scorers": scorer_root, "tmp": tmp_path}


@pytest.fixture()
def make_settings(roots: dict[str, Path]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{roots['tmp'] / 'jobs.db'}",
            "workspace_roots": [str(roots["workspaces"])],
            "scorer_roots": [str(roots["scorers"])],
            "executor": "local",
            "sync_wait_seconds": 10.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


def api_keys(**rate_limits: float) -> list[ApiKey]:
    return [
        ApiKey(name=role, sha256=hash_key(secret), role=role, rate_limit=rate_limits.get(role))  # type: ignore[arg-type]
        for role, secret in KEYS.items()
    ]


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@pytest.fixture()
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture()
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread; always stopped by the fixture."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def server_class() -> type[LiveServer]:
    return LiveServer


@pytest.fixture()
def live(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., httpx.Client]]:
    servers: list[LiveServer] = []
    clients: list[httpx.Client] = []

    def start(**overrides: Any) -> httpx.Client:
        server = LiveServer(create_app(make_settings(**overrides))).start()
        servers.append(server)
        clients.append(httpx.Client(base_url=server.url, timeout=30))
        return clients[-1]

    yield start
    for c in clients:
        c.close()
    for server in servers:
        server.stop()


def check_error(resp: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    """``resp`` is an error envelope with ``status``, ``code`` (and ``field``)."""
    assert resp.status_code == status, resp.text
    body: dict = resp.json()
    ErrorEnvelope.model_validate(body)
    assert body["success"] is False and body["data"] is None
    assert body["meta"]["api_version"] == "v1"
    assert resp.headers["x-request-id"] == body["meta"]["request_id"]
    assert code in [e["code"] for e in body["errors"]], body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def data_of(resp: httpx.Response, status: int = 200) -> Any:
    """The ``data`` of a success envelope with ``status``."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is True and set(body) == {"success", "data", "meta"}, body
    assert resp.headers["x-request-id"] == body["meta"]["request_id"]
    return body["data"]


class Helpers:
    check_error = staticmethod(check_error)
    data_of = staticmethod(data_of)
    bearer = staticmethod(bearer)
    api_keys = staticmethod(api_keys)
    write_classification = staticmethod(write_classification)


@pytest.fixture()
def h() -> type[Helpers]:
    return Helpers
