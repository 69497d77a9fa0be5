"""Webhook test helpers: a receiver on 127.0.0.1 that verifies every request as a real one
would, a stand-in job log, and job events as the store's publishers make them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from autoscorer.client import WebhookVerificationError, verify_webhook
from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.records import JobRecord, JobStatus

SECRET = "whsec-test"


class Receiver:
    """Verifies each POST with the SDK helper (``verify_webhook``); answers 401 if it does not
    verify, else from ``script``, then 200 (with ``location`` as its Location header)."""

    def __init__(self, script: list[int] | None = None, hang: float = 0.0, port: int = 0) -> None:
        self.script, self.hang = list(script or []), hang
        self.location: str | None = None
        self.events: list[dict[str, Any]] = []  # every verified request, retries included
        self.rejected: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self._answer(receiver.receive(body, self.headers))

            def _answer(self, code: int) -> None:
                self.send_response(code)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True  # close() does not wait for a hanging handler
        self.host = "127.0.0.1"
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def receive(self, body: bytes, headers: Any) -> int:
        try:
            event = verify_webhook(body, headers, SECRET)
        except WebhookVerificationError as exc:
            self.rejected.append(exc.reason)
            return 401
        self.events.append(event)
        if self.hang:
            time.sleep(self.hang)
        return self.script.pop(0) if self.script else 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Logs:
    """A stand-in for the job store's ``add_log``: collects (job_id, level, component, message)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str, str]] = []

    def __call__(self, job_id: str, level: str, component: str, message: str) -> None:
        self.lines.append((job_id, level, component, message))

    def messages(self, job_id: str) -> list[str]:
        return [line[3] for line in self.lines if line[0] == job_id]


def job_event(
    status: str, previous: str | None, job_id: str = "job-1", url: str | None = None, **job: Any
) -> JobEvent:
    prior = None if previous is None else JobStatus(previous)
    return JobEvent(job_id, JobStatus(status), prior, record(job_id, status, url, **job))


def record(job_id: str, status: str, url: str | None = None, **fields: Any) -> JobRecord:
    """A job record as the store hands it to publishers (unset fields: a fresh job's)."""
    stamp = datetime.now(UTC)
    fresh: dict[str, Any] = dict(
        job_id=job_id, status=JobStatus(status), task_type="classification",
        scorer="classification_f1", workspace_path="/w", executor="local", queue="score",
        config={}, callback_url=url, request_id="req-1", owner=None, batch_id=None,
        progress=0.0, stage=None, created_at=stamp, updated_at=stamp, started_at=None,
        completed_at=None, cancelled_at=None, reason=None, estimated_completion=None,
        score=None, error=None, execution_time=None, resources=None, worker_id=None,
        attempts=0, result=None,
    )  # fmt: skip
    return JobRecord(**{**fresh, **fields})


def lifecycle(url: str | None, job_id: str = "job-1") -> list[JobEvent]:
    """queued, running, completed (with a score of 0.85) of one job."""
    result = {"summary": {"score": 0.85, "rank": "A", "pass": True}}
    return [
        job_event("queued", "submitted", job_id, url),
        job_event("running", "queued", job_id, url),
        job_event("completed", "running", job_id, url, result=result),
    ]
