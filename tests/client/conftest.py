"""Fixtures for the SDK tests.

``scripted``: a tiny real HTTP server on 127.0.0.1 that answers from a script,
for what the real API cannot be made to do on demand (429 with Retry-After, 503,
dropped connections, 408/500 envelopes); it records every request so tests can
count attempts. ``live``: the real AutoScorer server (uvicorn), see below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.live import free_port, stop, wait_healthy

from autoscorer.settings import hash_key

DROP = "drop"  # close the connection without answering


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of ``body`` as JSON


def envelope(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": {"request_id": "req_scripted"}}


def error_envelope(code: str, message: str, **extra: Any) -> dict[str, Any]:
    err = {"code": code, "message": message, "field": extra.get("field"), "details": {}}
    err["details"].update(extra.get("details", {}))
    return {"success": False, "data": None, "meta": {"request_id": "req_err"}, "errors": [err]}


class ScriptedServer:
    """Answers each request with the next scripted :class:`Answer` (then ``default``)."""

    def __init__(self) -> None:
        self.script: list[Answer | str] = []
        self.default = Answer(200, envelope({"status": "healthy"}))
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def reply(self, status: int, body: Any = None, **headers: str) -> None:
        """Queue one answer (``Retry_After="1"`` becomes the ``Retry-After`` header)."""
        self.script.append(
            Answer(status, body, {k.replace("_", "-"): v for k, v in headers.items()})
        )

    def fail(self, status: int, code: str, message: str = "scripted", **headers: str) -> None:
        self.reply(status, error_envelope(code, message), **headers)

    def reply_raw(self, status: int, raw: bytes, content_type: str) -> None:
        self.script.append(Answer(status, None, {"Content-Type": content_type}, raw))

    def drop(self) -> None:
        self.script.append(DROP)

    def next_answer(self, record: dict[str, Any]) -> Answer | str:
        with self._lock:
            self.requests.append(record)
            return self.script.pop(0) if self.script else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                record = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(raw) if raw else None,
                }
                answer = server.next_answer(record)
                if answer == DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                assert isinstance(answer, Answer)
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                if "Content-Type" not in answer.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


@pytest.fixture
def scripted() -> Any:
    server = ScriptedServer().start()
    try:
        yield server
    finally:
        server.stop()


# -- the real server ----------------------------------------------------------------

ADMIN_KEY, SUBMITTER_KEY, READER_KEY = "sk-admin-test", "sk-submit-test", "sk-read-test"
LIMITED_KEY = "sk-limited-test"  # 0.5 requests/s, bursts of 2: provokes real 429s

SLOW_SCORER = '''
import time

from autoscorer.scorers.base import Param, ScoreOutput, Scorer
from autoscorer.scorers.registry import register_scorer


@register_scorer
class SdkSlow(Scorer):
    """Sleeps, then scores 1.0: keeps a job running long enough to watch it."""

    name = "sdk_slow"
    version = "1.0.0"
    task_type = "custom"
    primary_metric = "done"
    parameters = {"seconds": Param("number", 1.5, description="how long to sleep")}

    def evaluate(self, ctx):
        time.sleep(self.params["seconds"])
        return ScoreOutput(metrics={"done": 1.0})
'''


def _api_keys() -> str:
    roles = {"admin": ADMIN_KEY, "submitter": SUBMITTER_KEY, "reader": READER_KEY}
    keys = [{"name": role, "sha256": hash_key(key), "role": role} for role, key in roles.items()]
    keys.append(
        {"name": "limited", "sha256": hash_key(LIMITED_KEY), "role": "reader", "rate_limit": 0.5}
    )
    return json.dumps(keys)


def write_workspace(root: Path, name: str, gt: str, pred: str | None, **meta: Any) -> Path:
    """A score-only classification workspace (``pred`` None: no prediction file)."""
    ws = root / name
    (ws / "input").mkdir(parents=True)
    (ws / "output").mkdir()
    (ws / "logs").mkdir()
    meta = {"task_type": "classification", "scorer": "classification_f1", **meta}
    (ws / "meta.json").write_text(json.dumps(meta))
    (ws / "input" / "gt.csv").write_text(gt)
    if pred is not None:
        (ws / "output" / "pred.csv").write_text(pred)
    return ws


GT = "id,label\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n"
PRED = "id,label\n1,a\n2,b\n3,b\n4,b\n5,a\n6,a\n"  # 4 of 6 right, macro F1 = 2/3


@dataclass
class LiveServer:
    url: str
    root: Path
    workspaces: Path
    scorer_file: Path
    process: subprocess.Popen[bytes]
    admin_key: str = ADMIN_KEY
    submitter_key: str = SUBMITTER_KEY
    reader_key: str = READER_KEY
    limited_key: str = LIMITED_KEY

    def ws(self, name: str, gt: str = GT, pred: str | None = PRED, **meta: Any) -> str:
        path = self.workspaces / name
        if not path.exists():
            write_workspace(self.workspaces, name, gt, pred, **meta)
        return str(path)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The real API: uvicorn on 127.0.0.1, a temp SQLite file, the in-process queue."""
    root = tmp_path_factory.mktemp("live")
    workspaces, scorers = root / "ws", root / "scorers"
    workspaces.mkdir()
    scorers.mkdir()
    scorer_file = scorers / "sdk_slow.py"
    scorer_file.write_text(SLOW_SCORER)
    port = free_port()
    env = {
        **os.environ,
        "AUTOSCORER_DATABASE_URL": f"sqlite:///{root / 'db.sqlite'}",
        "AUTOSCORER_QUEUE": "inprocess",
        "AUTOSCORER_QUEUE_CONCURRENCY": "2",
        "AUTOSCORER_EXECUTOR": "local",
        "AUTOSCORER_WORKSPACE_ROOTS": str(workspaces),
        "AUTOSCORER_SCORER_ROOTS": str(scorers),
        "AUTOSCORER_API_KEYS": _api_keys(),
        "AUTOSCORER_SYNC_WAIT_SECONDS": "30",
        "AUTOSCORER_RATE_LIMIT_BURST": "2",
    }
    env.pop("AUTOSCORER_CONFIG", None)
    env.pop("AUTOSCORER_SERVER", None)
    env.pop("AUTOSCORER_API_KEY", None)
    log = root / "server.log"
    # uvicorn's factory mode on the app factory that ``autoscorer serve`` uses too
    app = "autoscorer.api.main:app_from_env"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield LiveServer(url, root, workspaces, scorer_file, process)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def admin(live: LiveServer) -> Any:
    """A synchronous client with the admin key."""
    from autoscorer.client import AutoScorerClient

    with AutoScorerClient(live.url, api_key=live.admin_key) as client:
        yield client


@pytest.fixture(scope="session")
def slow_scorer(live: LiveServer, admin: Any) -> str:
    """``sdk_slow`` loaded into the server through the API (admin)."""
    loaded = admin.scorers.load(str(live.scorer_file))
    assert [s.name for s in loaded.loaded_scorers] == ["sdk_slow"]
    return "sdk_slow"
