"""OutboxNotifier: job events -> outbox rows -> signed webhooks at a real receiver on
127.0.0.1 (a real SQLite job store and a Drainer); events that are not sent are logged to
the job; the webhook body's shape (docs/webhooks.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.jobs.helpers import wait_for
from tests.jobs.webhook_helpers import SECRET, Logs, Receiver, job_event, lifecycle, record

from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.outbox import DELIVERED, Backoff, Outbox
from autoscorer.jobs.outbox_drain import Drainer
from autoscorer.jobs.outbox_notify import (
    COMPONENT,
    NO_SECRET,
    AllowedHosts,
    LogFn,
    OutboxNotifier,
    build_event,
)
from autoscorer.jobs.records import JobStatus, NewJob
from autoscorer.jobs.store import JobStore

FAST = Backoff(base=0.02, cap=0.1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def notifier(
    outbox: Outbox,
    hosts: AllowedHosts = ("127.0.0.1",),
    log_fn: LogFn | None = None,
    *,
    signing: bool = True,
    default_url: str | None = None,
) -> OutboxNotifier:
    return OutboxNotifier(outbox, signing=signing, default_url=default_url,
                          allowed_hosts=hosts, log_fn=log_fn or Logs())  # fmt: skip


def _add(store: JobStore, *job_ids: str) -> None:
    for job_id in job_ids:
        store.add(NewJob(job_id=job_id, workspace_path="/w", executor="local"))


def _webhook_lines(store: JobStore, job_id: str) -> list[tuple[str, str]]:
    return [(x.level, x.message) for x in store.logs(job_id)[0] if x.component == COMPONENT]


def test_every_state_arrives_in_order_with_retries_and_every_attempt_is_in_the_jobs_logs(
    store: JobStore,
) -> None:
    r = Receiver(script=[500, 500])
    outbox = Outbox(store, backoff=FAST)
    drainer = Drainer(outbox, SECRET, poll=0.05)
    notify = notifier(outbox, [r.host], store.add_log)
    notify.on_record = drainer.wake
    _add(store, "job-1")
    try:
        drainer.start()
        for ev in lifecycle(r.url):
            notify(ev)
        wait_for(lambda: outbox.counts() == {DELIVERED: 3}, 20, "three deliveries")
    finally:
        drainer.close()
        r.close()
    assert r.rejected == []
    assert [e["type"] for e in r.events] == ["job.queued"] * 3 + ["job.running", "job.completed"]
    assert len({e["event_id"] for e in r.events}) == 3  # retries repeat the event id
    done = r.events[-1]
    assert done["job_id"] == "job-1" and done["status"] == "completed"
    assert done["previous_status"] == "running" and done["request_id"] == "req-1"
    assert done["score"] == 0.85 and done["error_code"] is None
    assert [e["score"] for e in r.events[:4]] == [None] * 4
    lines = _webhook_lines(store, "job-1")
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "INFO", "INFO", "INFO"]
    first, third, last = lines[0][1], lines[2][1], lines[-1][1]
    assert first.startswith("job.queued evt_") and f"-> {r.url} attempt 1/8: HTTP 500 in " in first
    assert "; retrying in 0.0" in first
    assert "attempt 3/8: HTTP 200 in " in third and third.endswith("; delivered")
    assert f"-> {r.url} attempt 1/8: HTTP 200 in " in last and last.endswith("; delivered")


def test_the_caller_only_records_and_a_hanging_receiver_times_out(store: JobStore) -> None:
    r = Receiver(hang=1.0)
    outbox = Outbox(store, max_attempts=1)
    drainer = Drainer(outbox, SECRET, timeout=0.3, poll=0.05)
    notify = notifier(outbox, [r.host], store.add_log)
    notify.on_record = drainer.wake
    _add(store, "job-1", "job-2")
    try:
        drainer.start()
        calls = []
        for ev in lifecycle(r.url) + lifecycle(r.url, "job-2"):
            t0 = time.perf_counter()
            notify(ev)
            calls.append(time.perf_counter() - t0)
        assert max(calls) < 0.5, calls  # an INSERT, not a post (the receiver hangs 1 s)
        wait_for(lambda: _webhook_lines(store, "job-1"), 10, "the first attempt's log line")
    finally:
        drainer.close(timeout=0.1)
        r.close()
    level, first = _webhook_lines(store, "job-1")[0]
    assert level == "ERROR" and "attempt 1/1: ReadTimeout" in first
    assert first.endswith("; giving up")


def test_a_url_outside_the_allow_list_is_logged_not_recorded(
    store: JobStore, receiver: Receiver
) -> None:
    logs, outbox = Logs(), Outbox(store)
    notify = notifier(outbox, ["hooks.example.com"], logs)
    notify(job_event("queued", "submitted", url=receiver.url))
    notify(job_event("queued", "submitted", job_id="job-2", url="ftp://127.0.0.1/x"))
    assert outbox.counts() == {}
    (queued,) = logs.messages("job-1")
    assert queued == (
        f"job.queued not sent to {receiver.url}: "
        "callback_url host '127.0.0.1' is not in the webhook allow-list"
    )
    assert [line[1:3] for line in logs.lines] == [("WARNING", COMPONENT)] * 2
    assert "must be an http(s) URL" in logs.messages("job-2")[0]


def test_the_allow_list_is_read_on_every_event(store: JobStore, receiver: Receiver) -> None:
    hosts: list[str] = []
    logs, outbox = Logs(), Outbox(store)
    notify = notifier(outbox, lambda: hosts, logs)
    notify(job_event("queued", "submitted", url=receiver.url))
    hosts.append("127.0.0.1")
    notify(job_event("running", "queued", url=receiver.url))
    assert [d.event["type"] for d in outbox.claim("t", 10)] == ["job.running"]
    assert "not in the webhook allow-list" in logs.lines[0][3] and len(logs.lines) == 1


def test_default_url_is_used_when_the_job_has_none_and_no_url_means_silence(
    store: JobStore, receiver: Receiver
) -> None:
    logs, outbox = Logs(), Outbox(store)
    notifier(outbox, log_fn=logs)(job_event("queued", "submitted", job_id="quiet"))
    notifier(outbox, log_fn=logs, default_url=receiver.url)(
        job_event("queued", "submitted", job_id="default")
    )
    assert [(d.job_id, d.url) for d in outbox.claim("t", 10)] == [("default", receiver.url)]
    assert logs.lines == []


def test_without_a_secret_nothing_is_recorded_and_the_job_log_says_why(
    store: JobStore, receiver: Receiver
) -> None:
    logs, outbox = Logs(), Outbox(store)
    notifier(outbox, log_fn=logs, signing=False)(job_event("queued", "submitted", url=receiver.url))
    assert outbox.counts() == {}
    assert logs.lines == [("job-1", "WARNING", COMPONENT,
                           f"job.queued not sent to {receiver.url}: {NO_SECRET}")]  # fmt: skip


def test_a_failing_log_fn_or_a_bad_job_record_never_reaches_the_publisher(
    store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_log(*args: str) -> None:
        raise RuntimeError("log store down")

    notify = notifier(Outbox(store), [], broken_log)
    notify(job_event("queued", "submitted", url="http://127.0.0.1:9/x"))  # refused, then logged
    odd = record("odd", "completed", callback_url=42)  # not a URL: check_url fails oddly
    notify(JobEvent("odd", JobStatus.COMPLETED, JobStatus.RUNNING, odd))
    assert "recording the webhook of job job-1 failed" in caplog.text
    assert "recording the webhook of job odd failed" in caplog.text  # the server log, not a raise
    assert Outbox(store).counts() == {}


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


def test_failed_and_cancelled_events_carry_the_error_code_and_no_score() -> None:
    error = {"code": "MISSING_COLUMN", "message": "pred.csv has no column 'label'"}
    ev = build_event(job_event("failed", "running", error=error, score=0.3))
    assert (ev["type"], ev["status"], ev["error_code"], ev["score"]) == (
        "job.failed", "failed", "MISSING_COLUMN", None
    )  # fmt: skip
    assert "message" not in json.dumps(ev)  # the error text stays in the job's logs and result
    cancelled = build_event(job_event("cancelled", "queued", error={"code": "CANCELLED"}))
    assert cancelled["error_code"] == "CANCELLED"
    running = build_event(job_event("running", "queued", error={"code": "OLD"}))
    assert running["error_code"] is None  # only the unsuccessful ends carry one
