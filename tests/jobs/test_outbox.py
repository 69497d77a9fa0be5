"""The webhook outbox on real stores (SQLite, PostgreSQL) and real receivers on 127.0.0.1:
claims and leases, retries and the final failed state, two drainers never posting a row
twice, and deliveries that survive a process killed with SIGKILL."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.jobs.helpers import REPO, score_workspace, unique, wait_for
from tests.jobs.webhook_helpers import SECRET, Receiver

from autoscorer.jobs.models import OutboxRow
from autoscorer.jobs.outbox import DELIVERED, FAILED, PENDING, Backoff, Outbox
from autoscorer.jobs.outbox_drain import Drainer
from autoscorer.jobs.records import JobStatus, NewJob
from autoscorer.jobs.store import JobStore

KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
OUTBOX_PROC = Path(__file__).with_name("outbox_proc.py")
FAST = Backoff(base=0.02, cap=0.1)


@pytest.fixture
def store(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[JobStore]:
    s = JobStore(database_factory(request.param))
    yield s
    s.close()


def _job(store: JobStore) -> str:
    job = NewJob(job_id=unique("job"), workspace_path="/w", executor="local", queue="score")
    return store.add(job).job_id


def _event(job_id: str, status: str) -> dict[str, Any]:
    return {"event_id": unique("evt"), "type": f"job.{status}", "job_id": job_id,
            "status": status}  # fmt: skip


def _rows(store: JobStore) -> list[OutboxRow]:
    with store.reader() as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


@pytest.mark.parametrize("store", KINDS, indirect=True)
def test_rows_of_one_job_go_out_in_order_and_a_lease_keeps_others_off(store: JobStore) -> None:
    outbox = Outbox(store, lease_seconds=0.5)
    job = _job(store)
    first = outbox.record(job, "http://127.0.0.1:9/a", _event(job, "queued"))
    outbox.record(job, "http://127.0.0.1:9/a", _event(job, "running"))
    other_url = outbox.record(job, "http://127.0.0.1:9/b", _event(job, "queued"))
    taken = outbox.claim("a", 10)
    assert [d.event_id for d in taken] == [first, other_url]  # "running" waits for "queued"
    assert outbox.claim("b", 10) == []  # leased to "a"
    time.sleep(0.6)  # "a" died: its lease runs out
    again = outbox.claim("b", 10)
    assert [d.event_id for d in again] == [first, other_url]
    late = outbox.settle(taken[0], "a", True, None, lambda s: ("INFO", "webhook", "late"))
    assert not late.kept_lease  # "a" came back too late: its outcome does not overwrite "b"'s
    done = outbox.settle(again[0], "b", True, None, lambda s: ("INFO", "webhook", "ok"))
    assert done.kept_lease and done.state == DELIVERED
    assert [d.event["status"] for d in outbox.claim("b", 10)] == ["running"]
    assert outbox.counts() == {PENDING: 2, DELIVERED: 1}


@pytest.mark.parametrize("store", KINDS, indirect=True)
def test_racing_claimers_never_take_the_same_row(store: JobStore) -> None:
    rows = range(120)
    outbox = Outbox(store)
    for n in rows:
        outbox.record(f"job-{n}", "http://127.0.0.1:9/x", _event(f"job-{n}", "queued"))
    stores = [JobStore(store.url) for _ in range(4)]  # separate engines, like processes
    taken: list[list[int]] = [[] for _ in stores]
    barrier = threading.Barrier(len(stores))

    def claim(k: int) -> None:
        mine = Outbox(stores[k])
        mine.counts()  # connected before the start, so all four begin together
        barrier.wait()
        deadline = time.monotonic() + 60
        while sum(map(len, taken)) < len(rows) and time.monotonic() < deadline:
            taken[k] += [d.id for d in mine.claim(f"claimer-{k}", 2)]  # [] when it lost them all

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in stores:
        s.close()
    every = [i for ids in taken for i in ids]
    assert len(every) == len(rows) == len(set(every))
    assert sum(1 for ids in taken if ids) >= 2, [len(ids) for ids in taken]  # they did race


@pytest.mark.parametrize("store", KINDS, indirect=True)
def test_failures_back_off_and_end_failed_after_max_attempts(store: JobStore) -> None:
    receiver = Receiver(script=[500] * 10)
    outbox = Outbox(store, max_attempts=3, backoff=FAST)
    drainer = Drainer(outbox, SECRET, poll=0.05)
    job = _job(store)
    try:
        drainer.start()
        outbox.record(job, receiver.url, _event(job, "failed"))
        drainer.wake()
        wait_for(lambda: outbox.counts().get(FAILED), 20, "the row to fail")
    finally:
        drainer.close()
        receiver.close()
    (row,) = _rows(store)
    assert (row.state, row.attempts, row.last_error) == (FAILED, 3, "HTTP 500")
    assert row.lease_owner is None and row.settled_at is not None
    assert len(receiver.events) == 3
    lines = [(x.level, x.message) for x in store.logs(job)[0] if x.component == "webhook"]
    assert [level for level, _ in lines] == ["WARNING", "WARNING", "ERROR"]
    assert "attempt 1/3: HTTP 500" in lines[0][1] and "; retrying in 0.0" in lines[0][1]
    assert lines[2][1].endswith("; giving up")


@pytest.mark.parametrize("store", KINDS, indirect=True)
def test_two_drainers_never_deliver_the_same_row_twice(store: JobStore) -> None:
    receiver = Receiver(hang=0.02)  # slow enough for the two to overlap
    second = JobStore(store.url)
    drainers = [Drainer(Outbox(s), SECRET, poll=0.05) for s in (store, second)]
    outbox = Outbox(store)
    jobs = [_job(store) for _ in range(15)]
    try:
        for d in drainers:
            d.start()
        for status in ("queued", "running", "completed"):
            for job in jobs:
                outbox.record(job, receiver.url, _event(job, status))
        for d in drainers:
            d.wake()
        wait_for(lambda: outbox.counts() == {DELIVERED: 45}, 60, "45 deliveries")
    finally:
        for d in drainers:
            d.close()
        receiver.close()
        second.close()
    ids = Counter(e["event_id"] for e in receiver.events)
    assert len(ids) == 45 and set(ids.values()) == {1}, ids.most_common(3)
    for job in jobs:  # and each job's events arrived in order
        seen = [e["status"] for e in receiver.events if e["job_id"] == job]
        assert seen == ["queued", "running", "completed"]
    logs = [x for job in jobs for x in store.logs(job)[0]]
    lines = [x.message for x in logs if x.component == "webhook"]
    assert len(lines) == 45 and all("attempt 1/8: HTTP 200" in m for m in lines)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc(mode: str, db: str, root: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]))
    argv = [sys.executable, str(OUTBOX_PROC), mode, db, str(root), *args]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True, cwd=str(root),
                            start_new_session=True)  # fmt: skip


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.mark.parametrize("kind", KINDS)
def test_deliveries_of_a_killed_process_arrive_after_a_restart(
    kind: str, database_factory: Any, tmp_path: Path
) -> None:
    db, port = database_factory(kind), _free_port()
    url = f"http://127.0.0.1:{port}/hook"  # nothing listens there yet: every post fails
    ws = score_workspace(tmp_path)
    first = _proc("submit", db, tmp_path, str(ws), url)
    store = JobStore(db)
    receiver = None
    try:
        assert first.stdout is not None
        job_id = first.stdout.readline().strip()
        assert job_id, "the first process printed no job id"

        def tried_and_idle() -> bool:  # later rows of the job wait for the first one
            rows = _rows(store)
            return len(rows) == 3 and rows[0].attempts >= 2 and rows[0].lease_owner is None

        wait_for(tried_and_idle, 60, "two failed attempts")
        _kill(first)  # SIGKILL: no shutdown code runs
        assert {r.state for r in _rows(store)} == {PENDING}
        receiver = Receiver(port=port)
        second = _proc("serve", db, tmp_path)
        try:
            wait_for(lambda: outbox_done(store), 90, "the deliveries after the restart")
        finally:
            _kill(second)
        statuses = [e["status"] for e in receiver.events]
        assert statuses == ["queued", "running", "completed"]
        assert {e["job_id"] for e in receiver.events} == {job_id}
        assert receiver.rejected == []
    finally:
        _kill(first)
        if receiver is not None:
            receiver.close()
        store.close()


def outbox_done(store: JobStore) -> bool:
    return Outbox(store).counts() == {DELIVERED: 3}


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_an_unusable_whsec_secret_sends_nothing_and_is_not_logged(
    store: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    from autoscorer.jobs import events, hooks
    from autoscorer.jobs.events import JobEvent
    from autoscorer.jobs.outbox_notify import NO_SECRET
    from autoscorer.settings import Settings

    bad = "whsec_!!!"
    settings = Settings(webhook_secret=bad, webhook_allowed_hosts=["127.0.0.1"])
    uninstall = hooks.install(settings, store)
    job = _job(store)
    try:
        record = dataclasses.replace(store.get(job), callback_url="http://127.0.0.1:9/hook")
        events.publish(JobEvent(job, JobStatus.QUEUED, JobStatus.SUBMITTED, record))
    finally:
        uninstall()
    assert _rows(store) == []
    assert store.logs(job)[0][-1].message.endswith(NO_SECRET)
    assert "not usable" in caplog.text and bad not in caplog.text


@pytest.mark.celery
def test_a_celery_workers_events_are_delivered_in_order(
    database_factory: Any, brokers: Any, tmp_path: Path
) -> None:
    from tests.jobs.conftest import start_backend, stop_backend
    from tests.jobs.helpers import wait_terminal

    hooks = {"webhook_secret": SECRET, "webhook_allowed_hosts": ["127.0.0.1"]}
    env = {"AUTOSCORER_WEBHOOK_SECRET": SECRET, "AUTOSCORER_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    receiver = Receiver()
    b = start_backend("redis", "sqlite", database_url=database_factory("sqlite"), root=tmp_path,
                      brokers=brokers, worker_env=env, **hooks)  # fmt: skip
    try:
        job = b.service.submit(b.job(score_workspace(tmp_path), callback_url=receiver.url))
        assert wait_terminal(b.service, job.job_id, 60).status == "completed"
        wait_for(lambda: len(receiver.events) >= 3, 30, "three deliveries")
        time.sleep(1.5)  # a duplicate (one per listener a pool process inherited) would come now
        assert [e["status"] for e in receiver.events] == ["queued", "running", "completed"]
        rows = _rows(b.service.store)  # "running" and "completed" were recorded by the worker,
        # once: its pool process ignores the listener inherited from the main process
        assert [(r.state, r.attempts) for r in rows] == [(DELIVERED, 1)] * 3
    finally:
        stop_backend(b)
        receiver.close()
