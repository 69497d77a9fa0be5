"""The Celery app: one task that runs the pipeline for a job id.

Workers start with ``autoscorer worker`` (or ``celery -A autoscorer.jobs.queues.celery_app
worker``); both read the same settings (``AUTOSCORER_BROKER_URL``,
``AUTOSCORER_DATABASE_URL``, ...). Messages are acknowledged late and prefetched
one at a time, so a worker that dies loses no job; the store's claim makes a
duplicate delivery harmless, and the reaper requeues a job whose worker vanished.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_shutdown

from autoscorer.jobs.runner import JobRunner, Outcome
from autoscorer.settings import Settings

if TYPE_CHECKING:
    from autoscorer.jobs.factory import CeleryWorkerParts

log = logging.getLogger("autoscorer.jobs.celery")
TASK = "autoscorer.run_job"
BUSY_RETRY = 1.0  # seconds before a job held elsewhere (or batch-limited) is tried again
app: Celery  # built from the environment on first access (see __getattr__), not at import


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or Settings()
    app = Celery("autoscorer", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="score",
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.task(bind=True, name=TASK, max_retries=None)(_run_job)
    return app


class _Worker:
    """This process's store and runner, made after the fork (connections must not be shared)."""

    lock = threading.Lock()
    parts: CeleryWorkerParts | None = None

    @classmethod
    def get(cls) -> JobRunner:
        with cls.lock:
            if cls.parts is None:
                from autoscorer.jobs.factory import CeleryWorkerParts

                cls.parts = CeleryWorkerParts(Settings())
            return cls.parts.runner

    @classmethod
    def reset(cls, **_: Any) -> None:
        with cls.lock:
            if cls.parts is not None:
                cls.parts.close()
            cls.parts = None


def _run_job(task: Task, job_id: str) -> str:
    outcome = _Worker.get().run(job_id)
    if outcome is Outcome.BUSY:
        raise task.retry(countdown=BUSY_RETRY)
    return outcome.value


worker_process_init.connect(_Worker.reset, weak=False)
worker_shutdown.connect(_Worker.reset, weak=False)


def __getattr__(name: str) -> Any:
    """``app``, built from the environment's settings on first use (``celery -A
    autoscorer.jobs.queues.celery_app`` and ``autoscorer worker`` ask for it), not at import."""
    if name != "app":
        raise AttributeError(name)
    global app
    app = make_app()
    return app
