"""The job system's records and the queue boundary's payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autoscorer.jobs.queues.base import Delivery, task_id
from autoscorer.jobs.queues.celery_queue import CeleryQueue
from autoscorer.jobs.records import ACTIVE, STATES, TERMINAL, WAITING, JobStatus, NewJob
from autoscorer.jobs.store import JobStore


def test_terminal_and_active_states_split_the_states() -> None:
    assert set(TERMINAL) == {"completed", "failed", "cancelled"}
    assert set(STATES) == TERMINAL | ACTIVE and not TERMINAL & ACTIVE
    assert [s.terminal for s in STATES] == [False, False, False, True, True, True]
    assert set(WAITING) < ACTIVE and JobStatus.RUNNING not in WAITING


@pytest.fixture()
def store(tmp_path: Path) -> Any:
    s = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    yield s
    s.close()


def test_the_store_hands_out_typed_records(store: JobStore) -> None:
    added = store.add(NewJob(job_id="r-1", workspace_path="/w", executor="local", queue="q"))
    assert added.status is JobStatus.SUBMITTED and added.result is None
    assert added.created_at.tzinfo is not None  # UTC, also from SQLite's naive columns
    view = store.get("r-1", result=False)
    assert not hasattr(view, "result") and view.status is JobStatus.SUBMITTED
    again = store.get("r-1")
    assert again.created_at == added.created_at and again.config == {}
    with pytest.raises(AttributeError):  # frozen: a change is a store transition
        again.status = JobStatus.RUNNING  # type: ignore[misc]


def test_a_delivery_is_built_from_the_record_and_names_its_attempt(store: JobStore) -> None:
    job = store.add(NewJob(job_id="r-2", workspace_path="/w", executor="local", queue=""))
    sent = Delivery.of(job, "score")
    assert (sent.job_id, sent.queue, sent.attempts) == ("r-2", "score", 0)
    assert sent.task_id == task_id("r-2", 0) == "r-2#0"


class _Recorder:
    """Stands in for the Celery app: records what would go to the broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task(self, name: str, **kw: Any) -> None:
        self.sent.append((name, kw))


def test_the_celery_message_is_the_job_id_on_its_queue(store: JobStore) -> None:
    job = store.add(NewJob(job_id="r-3", workspace_path="/w", executor="local", queue="gpu"))
    app = _Recorder()
    CeleryQueue(app).enqueue(job)  # type: ignore[arg-type]
    assert app.sent == [
        ("autoscorer.run_job", {"args": ["r-3"], "queue": "gpu", "task_id": "r-3#0"})
    ]
