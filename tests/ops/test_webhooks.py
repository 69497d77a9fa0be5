"""Webhook signing and delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autoscorer.errors import InvalidParameter
from autoscorer.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDispatcher,
    check_url,
    make_event,
    sign,
    verify,
)

SECRET = "s3cret"


class Receiver:
    """Records every request; answers from a script of status codes, then 200."""

    def __init__(self, script: list[int] | None = None, hang: float = 0.0) -> None:
        self.script = list(script or [])
        self.hang = hang
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                if receiver.hang:
                    time.sleep(receiver.hang)
                code = receiver.script.pop(0) if receiver.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(script=[500, 500])
    yield r
    r.close()


def _wait(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sign_and_verify() -> None:
    body = b'{"a":1}'
    sig = sign(body, SECRET, 1000)
    assert verify(body, SECRET, sig, "1000", now=1100)
    assert not verify(body + b" ", SECRET, sig, 1000, now=1100)
    assert not verify(body, "other", sig, 1000, now=1100)
    assert not verify(body, SECRET, sig, 1000, now=2000)  # replay outside tolerance
    assert not verify(body, SECRET, sig, "garbage")


def test_allow_list() -> None:
    assert check_url("http://127.0.0.1:9/x", ["127.0.0.1"])
    assert check_url("https://hooks.example.com/x", ["*"])
    assert check_url("http://localhost:8080/x", ["localhost:8080"])
    for bad in ("ftp://127.0.0.1/x", "http:///x", "http://10.0.0.1/x"):
        with pytest.raises(InvalidParameter):
            check_url(bad, ["127.0.0.1"])


def test_retries_until_delivered_and_signatures_verify(receiver: Receiver) -> None:
    attempts: list[tuple[Any, ...]] = []
    d = WebhookDispatcher(SECRET, base_delay=0.05, on_attempt=lambda *a: attempts.append(a))
    try:
        event = make_event("job.completed", "j1", "completed", 0.9)
        d.send(receiver.url, event)
        _wait(lambda: len(receiver.requests) == 3)
        _wait(lambda: len(attempts) == 3)
    finally:
        d.close()
    assert [a[3] for a in attempts] == ["HTTP 500", "HTTP 500", "HTTP 200"]
    assert [a[4] for a in attempts] == [False, False, True]
    for req in receiver.requests:
        assert verify(
            req["body"], SECRET, req["headers"][SIGNATURE_HEADER], req["headers"][TIMESTAMP_HEADER]
        )
        assert json.loads(req["body"]) == event


def test_gives_up_after_max_attempts() -> None:
    r = Receiver(script=[503] * 10)
    attempts: list[tuple[Any, ...]] = []
    d = WebhookDispatcher(
        SECRET, max_attempts=3, base_delay=0.01, on_attempt=lambda *a: attempts.append(a)
    )
    try:
        d.send(r.url, make_event("job.failed", "j2", "failed", None))
        _wait(lambda: any(a[3] == "giving up" for a in attempts))
    finally:
        d.close()
        r.close()
    assert len(r.requests) == 3


def test_send_never_blocks_on_a_hanging_receiver() -> None:
    r = Receiver(hang=3.0)
    d = WebhookDispatcher(SECRET, timeout=0.5, max_attempts=1)
    try:
        t0 = time.perf_counter()
        for i in range(5):
            d.send(r.url, make_event("job.running", f"j{i}", "running", None))
        assert time.perf_counter() - t0 < 0.05
    finally:
        d.close(timeout=0.1)
        r.close()
