"""The outbox Drainer against real receivers on 127.0.0.1 (a real SQLite job store): what a
failed attempt records, sender threads and time-outs, close, redirects, and the backoff."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.jobs.helpers import wait_for
from tests.jobs.webhook_helpers import SECRET, Receiver

from autoscorer.jobs.models import OutboxRow
from autoscorer.jobs.outbox import DELIVERED, FAILED, PENDING, Backoff, Outbox
from autoscorer.jobs.outbox_drain import Drainer
from autoscorer.jobs.records import NewJob
from autoscorer.jobs.store import JobStore

FAST = Backoff(base=0.02, cap=0.1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


def _record(outbox: Outbox, job_id: str, url: str) -> str:
    outbox.store.add(NewJob(job_id=job_id, workspace_path="/w", executor="local"))
    event = {"event_id": f"evt_{job_id}", "type": "job.running", "job_id": job_id}
    return outbox.record(job_id, url, event)


def _row(store: JobStore, event_id: str) -> OutboxRow:
    with store.reader() as s:
        row = s.query(OutboxRow).filter_by(event_id=event_id).one()
        s.expunge(row)
        return row


def _lines(store: JobStore, job_id: str) -> list[tuple[str, str]]:
    return [(x.level, x.message) for x in store.logs(job_id)[0] if x.component == "webhook"]


def test_connection_errors_are_recorded_with_their_exception(store: JobStore) -> None:
    r = Receiver()
    url = r.url
    r.close()  # nothing listens on that port any more
    outbox = Outbox(store, max_attempts=2, backoff=FAST)
    drainer = Drainer(outbox, SECRET, poll=0.05)
    event_id = _record(outbox, "j3", url)
    try:
        drainer.start()
        wait_for(lambda: outbox.counts() == {FAILED: 1}, 20, "the row to fail")
    finally:
        drainer.close()
    assert (_row(store, event_id).last_error or "").startswith("ConnectError")
    lines = _lines(store, "j3")
    assert [level for level, _ in lines] == ["WARNING", "ERROR"]
    assert "attempt 2/2: ConnectError" in lines[1][1] and lines[1][1].endswith("; giving up")


def test_a_hanging_receiver_holds_one_sender_thread_not_the_others(store: JobStore) -> None:
    hanging, fine = Receiver(hang=2.0), Receiver()
    outbox = Outbox(store, max_attempts=1)
    drainer = Drainer(outbox, SECRET, workers=2, timeout=1.5, poll=0.05)
    slow = _record(outbox, "slow", hanging.url)
    try:
        drainer.start()
        wait_for(lambda: hanging.events, 5, "the hanging post")
        t0 = time.perf_counter()
        quick = _record(outbox, "quick", fine.url)
        drainer.wake()
        wait_for(lambda: _row(store, quick).state == DELIVERED, 1.0, "the quick delivery")
        assert time.perf_counter() - t0 < 1.0
        wait_for(lambda: _row(store, slow).state == FAILED, 5, "the hanging post to time out")
    finally:
        drainer.close(timeout=0.1)
        hanging.close()
        fine.close()
    assert "Timeout" in (_row(store, slow).last_error or "")


def test_close_does_not_wait_for_a_hanging_post_whose_row_keeps_its_lease(
    store: JobStore,
) -> None:
    r = Receiver(hang=1.0)
    outbox = Outbox(store)
    drainer = Drainer(outbox, SECRET, poll=0.05)
    event_id = _record(outbox, "j5", r.url)
    try:
        drainer.start()
        wait_for(lambda: r.events, 5, "the post")
        t0 = time.perf_counter()
        drainer.close(timeout=0.2)
        assert time.perf_counter() - t0 < 0.8
        row = _row(store, event_id)  # another process takes it once the lease runs out
        assert (row.state, row.attempts, row.lease_owner) == (PENDING, 0, drainer.owner)
        # the post in flight still settles its row when the receiver answers
        wait_for(lambda: _row(store, event_id).state == DELIVERED, 5, "the late settle")
    finally:
        r.close()


def test_redirects_are_not_followed(store: JobStore) -> None:
    """A 3xx is a failed attempt: following it could lead past the allow-list."""
    target, r = Receiver(), Receiver(script=[307, 307])
    r.location = target.url
    outbox = Outbox(store, max_attempts=2, backoff=FAST)
    drainer = Drainer(outbox, SECRET, poll=0.05)
    event_id = _record(outbox, "j7", r.url)
    try:
        drainer.start()
        wait_for(lambda: outbox.counts() == {FAILED: 1}, 20, "the row to fail")
    finally:
        drainer.close()
        r.close()
        target.close()
    assert _row(store, event_id).last_error == "HTTP 307"
    assert len(r.events) == 2 and target.events == []


def test_backoff_doubles_per_attempt_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(base=0.1, cap=0.3)
    for _ in range(200):
        assert 0.05 <= backoff.after(1) < 0.1
        assert 0.1 <= backoff.after(2) < 0.2
        assert 0.15 <= backoff.after(3) < 0.3
        assert 0.15 <= backoff.after(20) < 0.3  # capped
    assert len({backoff.after(1) for _ in range(20)}) > 1  # jittered, not fixed
