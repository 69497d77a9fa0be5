"""One contract for every job backend: {inprocess, celery+redis, celery+rabbitmq} x
{sqlite, postgresql}. The service is built by ``build_service(Settings(...))``; Celery
jobs run in real ``autoscorer worker`` processes; sandboxed jobs run in the local
executor (bwrap). Every test leaves its jobs terminal, so counts can be compared.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from tests.jobs.conftest import Backend
from tests.jobs.helpers import (
    TERMINAL,
    kill_sandboxes,
    sandbox_processes,
    score_workspace,
    sleeper_workspace,
    status_sequence_ok,
    unique,
    wait_all_terminal,
    wait_for,
    wait_terminal,
)

from autoscorer.api.ops.jobs import pagination
from autoscorer.errors import Conflict, InvalidParameter, JobNotFound
from autoscorer.jobs.events import JobEvent, subscribe
from autoscorer.jobs.records import JobRecord, LogEntry, iso

EXAMPLE_SCORE = 0.8991212034315483  # examples/classification, macro F1
CANCEL_BOUND = 5.0  # seconds from cancel() to a stopped sandbox


class Events:
    """Job events published in this process, per job id."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[str, str | None]]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: JobEvent) -> None:
        with self._lock:
            self.seen.setdefault(event.job_id, []).append((event.status, event.previous))

    def of(self, job_id: str) -> list[tuple[str, str | None]]:
        with self._lock:
            return list(self.seen.get(job_id, []))


@pytest.fixture()
def events() -> Any:
    collector = Events()
    unsubscribe = subscribe(collector)
    yield collector
    unsubscribe()


def _logs(b: Backend, job_id: str, **kw: Any) -> tuple[list[LogEntry], int]:
    args = {"level": None, "since": None, "tail": None, **kw}
    return b.service.logs(job_id, **args)


def _running_in_inference(b: Backend, job_id: str, marker: str, timeout: float = 30) -> None:
    def probe() -> bool:
        job = b.service.get(job_id)
        assert job.status not in TERMINAL, job
        return (
            job.status == "running" and job.stage == "inference" and bool(sandbox_processes(marker))
        )

    wait_for(probe, timeout, f"{job_id} to be running its sandbox", step=0.1)


def _t(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment


def test_submit_runs_through_the_states_in_order(backend: Backend, events: Events) -> None:
    b = backend
    job = b.service.submit(b.job(score_workspace(b.root)))
    job_id = job.job_id
    assert job.status == "queued" and job.queue == b.lane
    assert job.task_type == "classification" and job.scorer == "classification_f1"
    assert job.estimated_completion is not None  # ETA from the first answer on
    assert _t(job.estimated_completion) > _t(job.created_at)
    seen = [job.status]
    deadline = time.monotonic() + 30
    while seen[-1] not in TERMINAL:
        assert time.monotonic() < deadline, seen
        status = b.service.get(job_id).status
        if status != seen[-1]:
            seen.append(status)
        time.sleep(0.005)
    assert status_sequence_ok(seen), seen
    done = b.service.get(job_id)
    assert done.status == "completed", done.error
    assert done.progress == 1.0 and done.stage == "done" and done.attempts == 1
    assert done.score == pytest.approx(EXAMPLE_SCORE)
    assert done.result["summary"]["score"] == pytest.approx(EXAMPLE_SCORE)
    assert done.estimated_completion is None and done.error is None
    assert _t(done.created_at) <= _t(done.started_at) <= _t(done.completed_at)
    assert done.worker_id.startswith("celery@" if b.celery else "inprocess@")
    lines, total = _logs(b, job_id)
    assert total == len(lines) >= 4
    assert lines[0].component == "api"
    assert lines[0].message == f"submitted to queue {b.lane}"
    assert lines[1].component == "worker"
    assert lines[1].message.startswith(f"started on {done.worker_id} (attempt 1)")
    assert (lines[-1].component, lines[-1].message) == ("worker", "completed")
    stamps = [line.timestamp for line in lines]
    assert stamps == sorted(stamps)
    assert done.created_at <= stamps[0] and stamps[-1] >= done.completed_at
    if b.celery:  # the worker publishes running/completed in its own process
        assert events.of(job_id) == [("queued", "submitted")]
    else:
        assert events.of(job_id) == [
            ("queued", "submitted"),
            ("running", "queued"),
            ("completed", "running"),
        ]


def test_list_filter_sort_and_paginate(backend: Backend) -> None:
    b = backend
    task = unique("task")  # only this test's jobs have it
    specs = [(False, False), (False, False), (False, False), (True, False), (False, True)]
    ids = []
    for i, (accuracy, broken) in enumerate(specs):  # (scorer is classification_accuracy, ...)
        ws = score_workspace(b.root, broken=broken, accuracy=accuracy)
        job = b.job(ws, job_id=f"{task}-{i}", task_type=task)
        ids.append(b.service.submit(job).job_id)
    final = {j.job_id: j for j in wait_all_terminal(b.service, ids)}
    assert [final[i].status for i in ids] == ["completed"] * 4 + ["failed"]

    def listed(**kw: Any) -> tuple[list[str], int]:
        rows, total = b.service.list(task_type=task, **kw)
        assert not any(isinstance(r, JobRecord) for r in rows)  # lists leave results out
        return [r.job_id for r in rows], total

    assert listed() == (ids[::-1], 5)  # default: newest first
    assert listed(status="failed") == ([ids[4]], 1)
    assert listed(status="completed", scorer="classification_f1") == (ids[2::-1], 3)
    assert listed(scorer="classification_accuracy") == ([ids[3]], 1)
    assert listed(status="running") == ([], 0)
    assert listed(sort="created_at", order="asc") == (ids, 5)
    assert listed(sort="job_id", order="desc") == (sorted(ids, reverse=True), 5)
    rows, _ = b.service.list(task_type=task, sort="updated_at", order="asc")
    assert [r.updated_at for r in rows] == sorted(r.updated_at for r in rows)
    assert {r.job_id for r in rows} == set(ids)
    pages = []
    for offset in (0, 2, 4):
        page, total = listed(sort="created_at", order="asc", limit=2, offset=offset)
        pages.append((page, pagination(total, 2, offset)))
    assert [p for page, _ in pages for p in page] == ids  # no gap, no repeat
    assert [(m["has_prev"], m["has_next"], m["total"]) for _, m in pages] == [
        (False, True, 5),
        (True, True, 5),
        (True, False, 5),
    ]
    assert listed(sort="created_at", order="asc", limit=2, offset=6) == ([], 5)
    everything, total = b.service.list(limit=1000)
    assert total == len(everything) == sum(b.service.counts().values())


def test_cancel_queued_job_never_starts(backend: Backend) -> None:
    b = backend
    sleepers = [sleeper_workspace(b.root, 30) for _ in range(2)]  # fill both slots
    try:
        busy = [b.service.submit(b.job(ws)).job_id for ws, _ in sleepers]
        for job_id, (_, marker) in zip(busy, sleepers, strict=True):
            _running_in_inference(b, job_id, marker)
        waiting = b.service.submit(b.job(score_workspace(b.root))).job_id
        time.sleep(1.0)  # it stays queued: nothing is free to take it
        assert b.service.get(waiting).status == "queued"
        cancelled = b.service.cancel(waiting, "no longer needed")
        assert cancelled.status == "cancelled" and cancelled.reason == "no longer needed"
        assert cancelled.cancelled_at
        for job_id in busy:  # free the slots: the cancelled job is delivered now
            b.service.cancel(job_id)
        wait_all_terminal(b.service, busy, timeout=CANCEL_BOUND * 2)
        # a job sent after it on the same lane has run: the cancelled one was delivered
        # (first in, first out) and either dropped as revoked or skipped by the claim
        probe = b.service.submit(b.job(score_workspace(b.root))).job_id
        assert wait_terminal(b.service, probe).status == "completed"
        time.sleep(1.0)  # would a late start show?
        job = b.service.get(waiting)
        assert job.status == "cancelled" and job.started_at is None
        assert job.attempts == 0 and job.worker_id is None
        assert job.result["error"]["code"] == "CANCELLED"
        lines, _ = _logs(b, waiting)
        assert [line.component for line in lines] == ["api", "api"]
        assert lines[-1].level == "WARNING"
        assert lines[-1].message == "cancelled: no longer needed"
    finally:
        for _, marker in sleepers:
            kill_sandboxes(marker)


def test_cancel_running_job_stops_its_sandbox(backend: Backend) -> None:
    b = backend
    ws, marker = sleeper_workspace(b.root, 30)
    try:
        job_id = b.service.submit(b.job(ws)).job_id
        _running_in_inference(b, job_id, marker)
        running = b.service.get(job_id)
        assert running.estimated_completion is not None
        assert _t(running.estimated_completion) > _t(running.started_at)
        assert running.worker_id and running.attempts == 1
        started = time.monotonic()
        out = b.service.cancel(job_id)
        assert out.status == "cancelled"
        assert out.reason == "User requested cancellation"
        wait_for(lambda: not sandbox_processes(marker), CANCEL_BOUND, "the sandbox to stop")
        stopped = time.monotonic() - started
        assert stopped < CANCEL_BOUND
        # the worker reports the stop (run_info.json) and leaves the cancelled state alone
        wait_for((ws / "logs" / "run_info.json").exists, CANCEL_BOUND, "run_info.json")
        time.sleep(1.0)
        job = b.service.get(job_id)
        assert job.status == "cancelled" and job.reason == "User requested cancellation"
        assert job.result["error"]["code"] == "CANCELLED"
        assert job.error["code"] == "CANCELLED" and job.cancelled_at
        assert _t(job.started_at) <= _t(job.cancelled_at)
        with pytest.raises(Conflict):
            b.service.cancel(job_id)
        lines, _ = _logs(b, job_id, level="WARNING")
        assert ("api", "cancelled: User requested cancellation") in [
            (line.component, line.message) for line in lines
        ]
    finally:
        kill_sandboxes(marker)


def test_cancel_finished_or_unknown_job(backend: Backend) -> None:
    b = backend
    job_id = b.service.submit(b.job(score_workspace(b.root))).job_id
    assert wait_terminal(b.service, job_id).status == "completed"
    with pytest.raises(Conflict) as info:
        b.service.cancel(job_id)
    assert info.value.details == {"job_id": job_id, "status": "completed"}
    assert b.service.get(job_id).status == "completed"
    with pytest.raises(JobNotFound):
        b.service.cancel(unique("missing"))


def test_duplicate_job_id_is_a_conflict(backend: Backend) -> None:
    b = backend
    job_id = unique("dup")
    first = b.service.submit(b.job(score_workspace(b.root), job_id=job_id))
    with pytest.raises(Conflict) as info:
        b.service.submit(b.job(score_workspace(b.root), job_id=job_id, scorer="regression_rmse"))
    assert info.value.field == "job_id"
    done = wait_terminal(b.service, job_id)
    assert done.status == "completed" and done.scorer == first.scorer
    lines, _ = _logs(b, job_id)
    assert sum(line.message.startswith("submitted") for line in lines) == 1
    assert sum(line.message.startswith("started on") for line in lines) == 1


def test_batch_is_all_or_nothing(backend: Backend) -> None:
    b = backend
    taken = b.service.submit(b.job(score_workspace(b.root))).job_id
    fresh = [unique("batch"), unique("batch")]
    with pytest.raises(Conflict) as info:
        b.service.submit_batch(
            [
                b.job(score_workspace(b.root), job_id=fresh[0]),
                b.job(score_workspace(b.root), job_id=taken),
                b.job(score_workspace(b.root), job_id=fresh[1]),
            ]
        )
    assert info.value.details == {"job_ids": [taken]}
    with pytest.raises(Conflict):  # the same id twice in one batch
        b.service.submit_batch([b.job(score_workspace(b.root), job_id=fresh[0]) for _ in range(2)])
    for job_id in fresh:
        with pytest.raises(JobNotFound):
            b.service.get(job_id)
    out = b.service.submit_batch(
        [b.job(score_workspace(b.root), job_id=job_id) for job_id in fresh]
    )
    assert [j.job_id for j in out.jobs] == fresh
    assert {j.status for j in out.jobs} == {"queued"}
    done = wait_all_terminal(b.service, [taken, *fresh])
    assert [j.status for j in done] == ["completed"] * 3
    assert {j.batch_id for j in done[1:]} == {out.batch_id}


def test_batch_max_parallel_is_respected(backend: Backend) -> None:
    b = backend
    sleepers = [sleeper_workspace(b.root, 1) for _ in range(3)]
    try:
        out = b.service.submit_batch([b.job(ws) for ws, _ in sleepers], max_parallel=1)
        ids = [j.job_id for j in out.jobs]
        assert out.max_parallel == 1
        done = wait_all_terminal(b.service, ids, timeout=60)
    finally:
        for _, marker in sleepers:
            kill_sandboxes(marker)
    assert [j.status for j in done] == ["completed"] * 3, [j.error for j in done]
    spans = sorted((_t(j.started_at), _t(j.completed_at)) for j in done)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two jobs of a max_parallel=1 batch overlapped: {spans}"
    assert [j.attempts for j in done] == [1, 1, 1]


def test_message_delivered_twice_runs_once(backend: Backend) -> None:
    b = backend
    job = b.service.submit(b.job(score_workspace(b.root)))
    b.service.queue.enqueue(job)  # the broker (or a recovery) delivers it again
    b.service.queue.enqueue(job)
    done = wait_terminal(b.service, job.job_id)
    time.sleep(1.5)  # a busy duplicate is retried after BUSY_RETRY/PARK_RETRY
    again = b.service.get(job.job_id)
    assert again.status == done.status == "completed" and again.attempts == 1
    assert again.completed_at == done.completed_at
    lines, _ = _logs(b, job.job_id)
    assert sum(line.message.startswith("started on") for line in lines) == 1
    assert sum(line.message == "completed" for line in lines) == 1


def test_log_filters_level_since_tail(backend: Backend) -> None:
    b = backend
    job_id = b.service.submit(b.job(score_workspace(b.root, broken=True))).job_id
    job = wait_terminal(b.service, job_id)
    assert job.status == "failed" and job.error["code"]
    lines, total = _logs(b, job_id)
    assert total == len(lines) >= 3
    errors, n_errors = _logs(b, job_id, level="ERROR")
    assert n_errors == len(errors) >= 1 and {e.level for e in errors} == {"ERROR"}
    assert errors[-1].message.startswith(f"failed: [{job.error['code']}]")
    assert _logs(b, job_id, level="warn") == _logs(b, job_id, level="WARNING")
    assert _logs(b, job_id, level="debug") == (lines, total)
    warnings, _ = _logs(b, job_id, level="WARNING")
    assert warnings == [x for x in lines if x.level in ("WARNING", "ERROR")]
    moment = lines[1].timestamp
    after, n_after = _logs(b, job_id, since=iso(moment))
    assert after == [x for x in lines if x.timestamp > moment] and n_after == len(after)
    # the same moment in another offset selects the same lines
    shifted = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert shifted.endswith("+02:00")
    assert _logs(b, job_id, since=shifted) == (after, n_after)
    earlier = (moment - timedelta(hours=1)).isoformat()
    assert _logs(b, job_id, since=earlier) == (lines, total)
    tail, n_tail = _logs(b, job_id, tail=2)
    assert tail == lines[-2:] and n_tail == total
    assert _logs(b, job_id, tail=1, level="ERROR") == ([errors[-1]], n_errors)
    assert _logs(b, job_id, tail=0) == ([], total)
    with pytest.raises(InvalidParameter):
        _logs(b, job_id, since="yesterday")
    with pytest.raises(JobNotFound):
        _logs(b, unique("missing"))


def test_counts_and_scorer_stats(backend: Backend) -> None:
    b = backend
    name = "classification_accuracy"
    before = b.service.counts()
    assert set(before) == {"submitted", "queued", "running", "completed", "failed", "cancelled"}
    stats_before = b.service.scorer_stats(max_age=0).get(name, {"usage_count": 0})
    ids = [
        b.service.submit(b.job(score_workspace(b.root, broken=broken, accuracy=True))).job_id
        for broken in (False, False, True)
    ]
    jobs = wait_all_terminal(b.service, ids)
    assert [j.status for j in jobs] == ["completed", "completed", "failed"]
    after = b.service.counts()
    delta = {k: after[k] - before[k] for k in after}
    assert delta == {
        "submitted": 0,
        "queued": 0,
        "running": 0,
        "completed": 2,
        "failed": 1,
        "cancelled": 0,
    }
    stats = b.service.scorer_stats(max_age=0)[name]
    assert stats["usage_count"] == stats_before["usage_count"] + 3
    everyone, _ = b.service.list(scorer=name, limit=1000)
    assert stats["usage_count"] == len(everyone)
    assert stats["last_used"] == iso(max(j.created_at for j in everyone))
    good = sum(j.status == "completed" for j in everyone)
    finished = sum(j.status in ("completed", "failed") for j in everyone)
    assert stats["success_rate"] == pytest.approx(round(good / finished, 4))
    assert 0 < stats["success_rate"] < 1
