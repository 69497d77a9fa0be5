"""Fixtures for the SDK tests.

``scripted``: a tiny real HTTP server on 127.0.0.1 that answers from a script,
for what the real API cannot be made to do on demand (429 with Retry-After, 503,
dropped connections, 408/500 envelopes); it records every request so tests can
count attempts. ``api``: the real AutoScorer server (uvicorn), see below.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DROP = "drop"  # close the connection without answering


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


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
                payload = json.dumps(answer.body).encode()
                self.send_response(answer.status)
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
