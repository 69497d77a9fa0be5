"""Webhook signing and delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.webhook_schemes import BOTH, sign_standard
from autoscorer.webhooks import (
    DELIVERED,
    DROPPED,
    GAVE_UP,
    RETRYING,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Attempt,
    WebhookDispatcher,
    check_url,
    redact_url,
    sign,
    verify,
)

SECRET = "s3cret"


def event(job_id: str, status: str, n: int = 0) -> dict[str, Any]:
    return {"event_id": f"evt_{job_id}_{status}_{n}", "type": f"job.{status}", "job_id": job_id}


class Receiver:
    """Records every request; answers from a script of status codes, then 200."""

    def __init__(self, script: list[int] | None = None, hang: float = 0.0) -> None:
        self.script = list(script or [])
        self.hang = hang
        self.requests: list[dict[str, Any]] = []
        self.location: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                if receiver.hang:
                    time.sleep(receiver.hang)
                code = receiver.script.pop(0) if receiver.script else 200
                self.send_response(code)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # close() does not wait for a hanging handler
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

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
    for bad in ("ftp://127.0.0.1/x", "http:///x", "http://127.0.0.1:99999/x", "http://a:b/x"):
        with pytest.raises(InvalidParameter):
            check_url(bad, ["127.0.0.1"])
    with pytest.raises(Forbidden):
        check_url("http://10.0.0.1/x", ["127.0.0.1"])


def test_redact_url_hides_user_info_and_query() -> None:
    assert redact_url("https://u:p@hooks.example.com:8443/x?token=abc") == (
        "https://hooks.example.com:8443/x?..."
    )
    assert redact_url("http://127.0.0.1/hook") == "http://127.0.0.1/hook"


def test_retries_until_delivered_and_signatures_verify(receiver: Receiver) -> None:
    attempts: list[Attempt] = []
    d = WebhookDispatcher(SECRET, base_delay=0.05, on_attempt=attempts.append, scheme=BOTH)
    try:
        ev = event("j1", "completed")
        d.send(receiver.url, ev)
        _wait(lambda: len(attempts) == 3)
    finally:
        d.close()
    assert len(receiver.requests) == 3
    assert [(a.attempt, a.status_code, a.outcome) for a in attempts] == [
        (1, 500, RETRYING),
        (2, 500, RETRYING),
        (3, 200, DELIVERED),
    ]
    assert all(a.url == receiver.url and a.job_id == "j1" and a.duration > 0 for a in attempts)
    assert attempts[0].retry_in is not None and 0.025 <= attempts[0].retry_in <= 0.05
    assert "attempt 1/5: HTTP 500 in " in attempts[0].describe()
    assert attempts[0].describe().endswith(f"s; retrying in {attempts[0].retry_in:.2f} s")
    assert attempts[2].describe().endswith("; delivered")
    for req in receiver.requests:
        assert verify(
            req["body"], SECRET, req["headers"][SIGNATURE_HEADER], req["headers"][TIMESTAMP_HEADER]
        )
        assert json.loads(req["body"]) == ev
        assert req["headers"]["webhook-id"] == ev["event_id"]  # the Standard headers too
        std = sign_standard(
            ev["event_id"], int(req["headers"][TIMESTAMP_HEADER]), req["body"], SECRET
        )
        assert req["headers"]["webhook-signature"] == std


def test_gives_up_after_max_attempts() -> None:
    r = Receiver(script=[503] * 10)
    attempts: list[Attempt] = []
    d = WebhookDispatcher(SECRET, max_attempts=3, base_delay=0.01, on_attempt=attempts.append)
    try:
        d.send(r.url, event("j2", "failed"))
        _wait(lambda: any(a.outcome == GAVE_UP for a in attempts))
    finally:
        d.close()
        r.close()
    assert len(r.requests) == 3
    assert [a.outcome for a in attempts] == [RETRYING, RETRYING, GAVE_UP]
    assert "attempt 3/3: HTTP 503 in " in attempts[-1].describe()
    assert attempts[-1].describe().endswith("; giving up")


def test_connection_errors_are_reported_with_their_exception() -> None:
    r = Receiver()
    url = r.url
    r.close()  # nothing listens on that port any more
    attempts: list[Attempt] = []
    d = WebhookDispatcher(SECRET, max_attempts=2, base_delay=0.01, on_attempt=attempts.append)
    try:
        d.send(url, event("j3", "queued"))
        _wait(lambda: len(attempts) == 2)
    finally:
        d.close()
    assert [a.status_code for a in attempts] == [None, None]
    assert all(a.error and a.error.startswith("ConnectError") for a in attempts)
    assert "attempt 2/2: ConnectError" in attempts[1].describe()


def test_events_of_one_job_keep_their_order_while_one_is_retried(receiver: Receiver) -> None:
    d = WebhookDispatcher(SECRET, base_delay=0.05, workers=4)
    try:
        for status in ("queued", "running", "completed"):
            d.send(receiver.url, event("j4", status))
        _wait(lambda: len(receiver.requests) == 5)
    finally:
        d.close()
    seen = [json.loads(req["body"])["type"] for req in receiver.requests]
    assert seen == ["job.queued"] * 3 + ["job.running", "job.completed"]


def test_send_never_blocks_on_a_hanging_receiver() -> None:
    r = Receiver(hang=2.0)
    d = WebhookDispatcher(SECRET, timeout=0.5, max_attempts=1)
    try:
        t0 = time.perf_counter()
        for i in range(5):
            d.send(r.url, event(f"j{i}", "running"))
        assert time.perf_counter() - t0 < 0.05
    finally:
        d.close(timeout=0.1)
        r.close()


def test_a_hanging_receiver_holds_one_worker_not_the_others() -> None:
    hanging, fine = Receiver(hang=2.0), Receiver()
    attempts: list[Attempt] = []
    d = WebhookDispatcher(
        SECRET, timeout=1.5, max_attempts=1, workers=2, on_attempt=attempts.append
    )
    try:
        d.send(hanging.url, event("slow", "running"))
        time.sleep(0.05)
        t0 = time.perf_counter()
        d.send(fine.url, event("quick", "running"))
        _wait(lambda: any(a.job_id == "quick" for a in attempts), timeout=1.0)
        assert time.perf_counter() - t0 < 1.0
        _wait(lambda: any(a.job_id == "slow" for a in attempts), timeout=5.0)
    finally:
        d.close(timeout=0.1)
        hanging.close()
        fine.close()
    slow = next(a for a in attempts if a.job_id == "slow")
    assert slow.outcome == GAVE_UP and slow.error and "Timeout" in slow.error


def test_close_drops_pending_retries_and_reports_them() -> None:
    r = Receiver(script=[500] * 10)
    attempts: list[Attempt] = []
    d = WebhookDispatcher(SECRET, base_delay=30.0, on_attempt=attempts.append)
    d.send(r.url, event("j5", "queued"))
    d.send(r.url, event("j5", "running"))
    _wait(lambda: len(attempts) == 1)
    t0 = time.perf_counter()
    d.close(timeout=1.0)
    assert time.perf_counter() - t0 < 1.0
    r.close()
    assert [a.outcome for a in attempts] == [RETRYING, DROPPED, DROPPED]
    assert "not sent after 1 attempt(s)" in attempts[1].describe()
    assert "not sent after 0 attempt(s)" in attempts[2].describe()
    d.send(r.url, event("j5", "completed"))  # after close: ignored, no error


def test_a_failing_on_attempt_callback_does_not_stop_deliveries() -> None:
    r = Receiver()

    def boom(attempt: Attempt) -> None:
        raise RuntimeError("log store down")

    d = WebhookDispatcher(SECRET, on_attempt=boom)
    try:
        d.send(r.url, event("j6", "queued"))
        d.send(r.url, event("j6", "running"))
        _wait(lambda: len(r.requests) == 2)
    finally:
        d.close()
        r.close()


def test_redirects_are_not_followed() -> None:
    """A 3xx is a failed attempt: following it could lead past the allow-list."""
    target = Receiver()

    r = Receiver(script=[307, 307])
    attempts: list[Attempt] = []
    d = WebhookDispatcher(SECRET, max_attempts=2, base_delay=0.01, on_attempt=attempts.append)
    try:
        r.location = target.url
        d.send(r.url, event("j7", "queued"))
        _wait(lambda: len(attempts) == 2)
    finally:
        d.close()
        r.close()
        target.close()
    assert [(a.status_code, a.outcome) for a in attempts] == [(307, RETRYING), (307, GAVE_UP)]
    assert target.requests == []
