"""Group commit: concurrent submits share transactions, each learns its own outcome.

The first tests drive :class:`GroupCommit` with a recording write function; the last ones
run ``JobStore.add`` from many threads against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from autoscorer.errors import Conflict
from autoscorer.jobs.groupcommit import GroupCommit
from autoscorer.jobs.records import NewJob
from autoscorer.jobs.store import JobStore


def in_threads(n: int, target: Callable[[int], Any]) -> list[BaseException | None]:
    """Run target(0..n-1) in n threads released together; each one's exception or None."""
    barrier, outcome = threading.Barrier(n), [None] * n

    def body(k: int) -> None:
        barrier.wait()
        try:
            target(k)
        except BaseException as exc:  # reported to the test
            outcome[k] = exc  # type: ignore[call-overload]

    threads = [threading.Thread(target=body, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcome  # type: ignore[return-value]


def test_items_arriving_together_share_batches_and_each_is_written_once() -> None:
    written: list[int] = []
    batches: list[int] = []

    def write(items: list[Any]) -> list[BaseException | None]:
        time.sleep(0.01)  # a transaction's worth of time for others to arrive
        written.extend(items)
        batches.append(len(items))
        return [None] * len(items)

    group = GroupCommit(write)

    def submit(k: int) -> None:
        for i in range(10):
            group.run(k * 100 + i)
            assert k * 100 + i in written  # back only once it is written

    assert in_threads(16, submit) == [None] * 16
    assert sorted(written) == sorted(k * 100 + i for k in range(16) for i in range(10))
    assert group.largest_batch > 1 and len(batches) < 160


def test_each_caller_gets_its_own_error_and_a_failed_write_wakes_everyone() -> None:
    def write(items: list[Any]) -> list[BaseException | None]:
        if "boom" in items:
            raise OSError("disk gone")
        return [ValueError(i) if i % 2 else None for i in items]

    group = GroupCommit(write)
    errors = in_threads(8, group.run)
    assert [type(e) if e else None for e in errors] == [None, ValueError] * 4
    with pytest.raises(OSError, match="disk gone"):
        group.run("boom")
    group.run(2)  # not stuck after a failed batch


STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, database_factory: Any) -> Iterator[JobStore]:
    s = JobStore(database_factory(request.param))
    yield s
    s.close()


def job(job_id: str) -> NewJob:
    return NewJob(job_id=job_id, workspace_path="/w", executor="local")


def test_a_taken_id_fails_alone_in_its_batch(store: JobStore) -> None:
    store.add(job("dup-old"))
    ids = [f"gc-{k}" for k in range(11)] + ["dup-old", "dup-new", "dup-new"]
    outcome = in_threads(len(ids), lambda k: store.add(job(ids[k]), log=True))
    conflicts = [ids[k] for k, e in enumerate(outcome) if isinstance(e, Conflict)]
    assert [e for e in outcome if e is not None and not isinstance(e, Conflict)] == []
    assert sorted(conflicts) == ["dup-new", "dup-old"]  # the old one, and one of the twins
    for job_id in ids:
        assert store.get(job_id).status == "submitted"
    assert [e.message for e in store.logs(ids[0])[0]] == ["submitted to queue default"]


def test_many_threads_adding_jobs_lose_none(store: JobStore) -> None:
    def add(k: int) -> None:
        for i in range(15):
            store.add(job(f"many-{k}-{i}"), status="queued", log=True)

    assert in_threads(12, add) == [None] * 12
    assert store.counts()["queued"] == 12 * 15
