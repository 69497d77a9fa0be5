"""Fixtures: a small classification workspace under a root, settings, the ASGI app
(through TestClient, lifespan included) and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
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
from tests.live import free_port

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


def write_sleeper(root: Path, seconds: float) -> Path:
    """A workspace whose inference (local executor) sleeps, then writes a correct pred."""
    ws = write_classification(root)
    meta = json.loads((ws / "meta.json").read_text())
    meta["container"] = {"image": "local", "cmd": ["sh", "-c", f"sleep {seconds}"]}
    meta["time_limit"] = 60
    (ws / "meta.json").write_text(json.dumps(meta))
    return ws


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


FUZZ_KEY = "fuzz-admin-secret"
REPO = Path(__file__).resolve().parents[2]


def fuzz_roots(tmp: Path) -> dict[str, Path]:
    """Roots holding what the documented examples name, so they reach the code behind them:
    ``examples/classification`` (a scorable workspace) and ``scorers/custom_scorer.py``."""
    import shutil

    ws, scorers = tmp / "ws", tmp / "scorer-root"
    shutil.copytree(REPO / "examples" / "classification", ws / "examples" / "classification")
    (scorers / "scorers").mkdir(parents=True)
    (scorers / "scorers" / "custom_scorer.py").write_text(CUSTOM_SCORER)
    return {"workspaces": ws, "scorers": scorers}


CUSTOM_SCORER = """\
from autoscorer.scorers.base import ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.registry import register_scorer


@register_scorer
class CustomNlpScorer(Scorer):
    name = "custom_nlp_scorer"
    version = "1.0.0"
    task_type = "nlp"
    primary_metric = "score"

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        return ScoreOutput(metrics={"score": 1.0})
"""


class ServedProcess:
    """``autoscorer serve`` in a child process on 127.0.0.1; its output kept in a file."""

    def __init__(self, tmp: Path, *, keys: bool) -> None:
        import yaml

        roots = fuzz_roots(tmp)
        self.port = free_port()
        self.log_path = tmp / "server.log"
        config: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp / 'jobs.db'}",
            "workspace_roots": [str(roots["workspaces"])],
            "scorer_roots": [str(roots["scorers"])],
            "executor": "local",
            "sync_wait_seconds": 2.0,  # well below the client timeout: answers never time out
            "log_level": "WARNING",
        }
        if keys:
            config["api_keys"] = [{"name": "fuzz", "sha256": hash_key(FUZZ_KEY), "role": "admin"}]
        self.config_path = tmp / "autoscorer.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.headers = {"Authorization": f"Bearer {FUZZ_KEY}"} if keys else {}
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedProcess:
        import os
        import subprocess
        import sys

        cmd = [sys.executable, "-m", "autoscorer.cli.main", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--config", str(self.config_path)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120  # a loaded 2-core CI runner starts slowly
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"autoscorer serve did not start:\n{self.output()}")

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except Exception:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServedProcess]]:
    """Start ``autoscorer serve`` processes (with or without API keys); all stopped at the end."""
    started: list[ServedProcess] = []

    def start(*, keys: bool) -> ServedProcess:
        server = ServedProcess(tmp_path_factory.mktemp("served"), keys=keys).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
