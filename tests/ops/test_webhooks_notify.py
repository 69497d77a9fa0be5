"""WebhookNotifier: job events -> signed webhooks at a real receiver on 127.0.0.1.

The receiver verifies every request with the SDK helper (``verify_webhook``) and
answers 401 when it fails, as a real one would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from autoscorer.client import WebhookVerificationError, verify_webhook
from autoscorer.jobs import events
from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.notify import COMPONENT, NO_SECRET, WebhookNotifier, build_event
from autoscorer.jobs.records import JobRecord, JobStatus, NewJob
from autoscorer.jobs.store import JobStore

SECRET = "whsec-test"


class Receiver:
    """Verifies each POST; answers 401 if it does not verify, else from ``script``, then 200."""

    def __init__(self, script: list[int] | None = None, hang: float = 0.0, port: int = 0) -> None:
        self.script, self.hang = list(script or []), hang
        self.events: list[dict[str, Any]] = []  # every verified request, retries included
        self.rejected: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self._answer(receiver.receive(body, self.headers))

            def _answer(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _wait(cond: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


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
    result = {"summary": {"score": 0.85, "rank": "A", "pass": True}}
    return [
        job_event("queued", "submitted", job_id, url),
        job_event("running", "queued", job_id, url),
        job_event("completed", "running", job_id, url, result=result),
    ]


def test_receiver_sees_every_state_in_order_with_retries_and_every_attempt_is_logged() -> None:
    r, logs = Receiver(script=[500, 500]), Logs()
    notifier = WebhookNotifier(SECRET, None, [r.host], logs, base_delay=0.05)
    try:
        for ev in lifecycle(r.url):
            notifier(ev)
        _wait(lambda: len(r.events) == 5)
    finally:
        notifier.close()
        r.close()
    assert r.rejected == []
    assert [e["type"] for e in r.events] == ["job.queued"] * 3 + ["job.running", "job.completed"]
    assert len({e["event_id"] for e in r.events}) == 3  # retries repeat the event id
    done = r.events[-1]
    assert done["job_id"] == "job-1" and done["status"] == "completed"
    assert done["previous_status"] == "running" and done["request_id"] == "req-1"
    assert done["score"] == 0.85 and done["error_code"] is None
    assert [e["score"] for e in r.events[:4]] == [None] * 4
    assert {line[2] for line in logs.lines} == {COMPONENT}
    assert [line[1] for line in logs.lines] == ["WARNING", "WARNING", "INFO", "INFO", "INFO"]
    first, last = logs.messages("job-1")[0], logs.messages("job-1")[-1]
    assert first.startswith("job.queued evt_") and f"-> {r.url} attempt 1/5: HTTP 500 in " in first
    assert "; retrying in 0.0" in first
    assert f"-> {r.url} attempt 1/5: HTTP 200 in " in last and last.endswith("; delivered")


def test_failed_event_carries_the_error_code_and_no_score(receiver: Receiver) -> None:
    notifier = WebhookNotifier(SECRET, None, ["127.0.0.1"], Logs())
    error = {"code": "MISSING_COLUMN", "message": "pred.csv has no column 'label'"}
    try:
        notifier(job_event("failed", "running", url=receiver.url, error=error))
        _wait(lambda: len(receiver.events) == 1)
    finally:
        notifier.close()
    ev = receiver.events[0]
    assert (ev["type"], ev["status"], ev["error_code"], ev["score"]) == (
        "job.failed",
        "failed",
        "MISSING_COLUMN",
        None,
    )
    assert "message" not in ev  # the error text stays in the job's logs and result


def test_giving_up_is_logged_as_an_error() -> None:
    r, logs = Receiver(script=[503] * 5), Logs()
    notifier = WebhookNotifier(SECRET, None, ["127.0.0.1"], logs, max_attempts=2, base_delay=0.01)
    try:
        notifier(job_event("cancelled", "queued", url=r.url, error={"code": "CANCELLED"}))
        _wait(lambda: len(logs.lines) == 2)
    finally:
        notifier.close()
        r.close()
    assert [line[1] for line in logs.lines] == ["WARNING", "ERROR"]
    assert logs.lines[1][3].endswith(
        "attempt 2/2: HTTP 503 in " + logs.lines[1][3].split(" in ")[-1]
    )
    assert logs.lines[1][3].endswith("; giving up")
    assert r.events[0]["error_code"] == "CANCELLED"


def test_a_hanging_receiver_does_not_delay_the_caller() -> None:
    r, logs = Receiver(hang=1.0), Logs()
    notifier = WebhookNotifier(SECRET, None, ["127.0.0.1"], logs, timeout=0.3, max_attempts=1)
    try:
        calls = []
        for ev in lifecycle(r.url) + lifecycle(r.url, "job-2"):
            t0 = time.perf_counter()
            notifier(ev)
            calls.append(time.perf_counter() - t0)
        assert max(calls) < 0.05, calls  # the notifier only queues (the receiver hangs 1 s)
        _wait(lambda: len(logs.lines) >= 2, timeout=5.0)
    finally:
        notifier.close(timeout=0.1)
        r.close()
    first = logs.lines[0][3]
    assert "attempt 1/1: ReadTimeout" in first and first.endswith("; giving up")


def test_a_url_outside_the_allow_list_is_logged_not_sent(receiver: Receiver) -> None:
    logs = Logs()
    notifier = WebhookNotifier(SECRET, None, ["hooks.example.com"], logs)
    try:
        notifier(job_event("queued", "submitted", url=receiver.url))
        notifier(job_event("queued", "submitted", job_id="job-2", url="ftp://127.0.0.1/x"))
    finally:
        notifier.close()
    assert receiver.events == [] and receiver.rejected == []
    (queued,) = logs.messages("job-1")
    assert queued == (
        f"job.queued not sent to {receiver.url}: "
        "callback_url host '127.0.0.1' is not in the webhook allow-list"
    )
    assert [line[1] for line in logs.lines] == ["WARNING", "WARNING"]
    assert "must be an http(s) URL" in logs.messages("job-2")[0]


def test_the_allow_list_can_be_read_live(receiver: Receiver) -> None:
    hosts: list[str] = []
    logs = Logs()
    notifier = WebhookNotifier(SECRET, None, lambda: hosts, logs)
    try:
        notifier(job_event("queued", "submitted", url=receiver.url))
        hosts.append("127.0.0.1")
        notifier(job_event("running", "queued", url=receiver.url))
        _wait(lambda: len(receiver.events) == 1)
    finally:
        notifier.close()
    assert receiver.events[0]["type"] == "job.running"
    assert "not in the webhook allow-list" in logs.lines[0][3]


def test_default_url_is_used_when_the_job_has_none_and_no_url_means_silence(
    receiver: Receiver,
) -> None:
    logs = Logs()
    with_default = WebhookNotifier(SECRET, receiver.url, ["127.0.0.1"], logs)
    without = WebhookNotifier(SECRET, None, ["127.0.0.1"], logs)
    try:
        without(job_event("queued", "submitted", job_id="quiet"))
        with_default(job_event("queued", "submitted", job_id="default"))
        _wait(lambda: len(receiver.events) == 1)
    finally:
        with_default.close()
        without.close()
    assert receiver.events[0]["job_id"] == "default"
    assert logs.messages("quiet") == []


def test_without_a_secret_nothing_is_sent_and_the_job_log_says_why(receiver: Receiver) -> None:
    logs = Logs()
    notifier = WebhookNotifier(None, None, ["127.0.0.1"], logs)
    try:
        notifier(job_event("queued", "submitted", url=receiver.url))
    finally:
        notifier.close()
    assert receiver.events == [] and receiver.rejected == []
    assert logs.lines == [("job-1", "WARNING", COMPONENT,
                           f"job.queued not sent to {receiver.url}: {NO_SECRET}")]  # fmt: skip


def test_subscribed_through_events_and_a_failing_log_fn_never_reaches_the_publisher(
    receiver: Receiver,
) -> None:
    def broken_log(*args: str) -> None:
        raise RuntimeError("log store down")

    notifier = WebhookNotifier(SECRET, None, ["127.0.0.1"], broken_log)
    unsubscribe = events.subscribe(notifier)
    try:
        for ev in lifecycle(receiver.url):
            events.publish(ev)
        _wait(lambda: len(receiver.events) == 3)
    finally:
        unsubscribe()
        notifier.close()
    assert [e["status"] for e in receiver.events] == ["queued", "running", "completed"]


def test_a_bad_job_record_is_swallowed_not_raised() -> None:
    logs = Logs()
    notifier = WebhookNotifier(SECRET, None, ["*"], logs)
    try:
        odd = record("odd", "completed", callback_url=42)  # not a URL: check_url fails oddly
        notifier(JobEvent("odd", JobStatus.COMPLETED, JobStatus.RUNNING, odd))
    finally:
        notifier.close()
    assert logs.lines == []  # the caller's bug goes to the server log, not to the publisher


def test_build_event_matches_the_documented_shape() -> None:
    ev = build_event(lifecycle("http://x")[2])
    assert list(ev) == ["event_id", "type", "job_id", "status", "previous_status", "score",
                        "error_code", "request_id", "timestamp"]  # fmt: skip
    assert ev["event_id"].startswith("evt_") and len(ev["event_id"]) == 36
    assert ev["timestamp"].endswith("Z")
    json.dumps(ev, allow_nan=False)
    nan = job_event("completed", "running", result={"summary": {"score": float("nan")}})
    assert build_event(nan)["score"] is None
    listed = job_event("completed", "running", score=0.5)  # a record without its result
    assert build_event(listed)["score"] == 0.5


def test_close_logs_the_retries_it_drops_and_later_events_are_ignored() -> None:
    r, logs = Receiver(script=[500] * 5), Logs()
    notifier = WebhookNotifier(SECRET, None, ["127.0.0.1"], logs, base_delay=30.0)
    try:
        notifier(job_event("queued", "submitted", url=r.url))
        notifier(job_event("running", "queued", url=r.url))
        _wait(lambda: len(logs.lines) == 1)  # attempt 1 of job.queued failed, retry in ~15 s
        t0 = time.perf_counter()
        notifier.close(timeout=1.0)
        assert time.perf_counter() - t0 < 1.5
        notifier(job_event("completed", "running", url=r.url))
    finally:
        r.close()
    levels_and_ends = [(line[1], line[3].rsplit("; ", 1)[-1]) for line in logs.lines]
    assert levels_and_ends == [
        ("WARNING", levels_and_ends[0][1]),
        ("WARNING", "dispatcher closed"),
        ("WARNING", "dispatcher closed"),
    ]
    assert levels_and_ends[0][1].startswith("retrying in ")
    assert [e["type"] for e in r.events] == ["job.queued"]


def test_with_the_real_job_store_every_attempt_lands_in_the_jobs_logs(
    tmp_path: Path, receiver: Receiver
) -> None:
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    receiver.script = [500]
    notifier = WebhookNotifier(SECRET, None, ["127.0.0.1"], store.add_log, base_delay=0.05)
    try:
        store.add(NewJob(job_id="real-1", workspace_path=str(tmp_path), executor="local",
                         callback_url=receiver.url, scorer="classification_f1"))  # fmt: skip
        for ev in lifecycle(None, "real-1"):
            notifier(JobEvent(ev.job_id, ev.status, ev.previous, store.get("real-1")))
        _wait(lambda: len(store.logs("real-1", level="info")[0]) == 4)
        lines = store.logs("real-1")[0]
    finally:
        notifier.close()
        store.close()
    assert [e["status"] for e in receiver.events] == ["queued", "queued", "running", "completed"]
    assert [(x.level, x.component) for x in lines] == [
        ("WARNING", "webhook"), ("INFO", "webhook"), ("INFO", "webhook"), ("INFO", "webhook")
    ]  # fmt: skip
    assert lines[0].message.endswith(" s") and "attempt 1/5: HTTP 500" in lines[0].message
    assert all(x.message.endswith("; delivered") for x in lines[1:])
