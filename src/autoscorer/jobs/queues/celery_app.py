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
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_shutdown

from autoscorer.jobs import hooks
from autoscorer.jobs.runner import JobRunner, Outcome, new_worker_id
from autoscorer.jobs.store import JobStore
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.jobs.celery")
TASK = "autoscorer.run_job"
BUSY_RETRY = 1.0  # seconds before a job held elsewhere (or batch-limited) is tried again


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
    runner: JobRunner | None = None
    uninstall: Callable[[], None] | None = None

    @classmethod
    def get(cls) -> JobRunner:
        with cls.lock:
            if cls.runner is None:
                settings = Settings()
                store = JobStore(settings.database_url)
                cls.uninstall = hooks.install(settings, store)
                cls.runner = JobRunner(
                    store,
                    new_worker_id("celery"),
                    lease_seconds=settings.job_lease_seconds,
                    settings=settings,
                )
            return cls.runner

    @classmethod
    def reset(cls, **_: Any) -> None:
        with cls.lock:
            if cls.uninstall is not None:
                cls.uninstall()
            if cls.runner is not None:
                cls.runner.store.close()
            cls.runner, cls.uninstall = None, None


def _run_job(task: Task, job_id: str) -> str:
    outcome = _Worker.get().run(job_id)
    if outcome is Outcome.BUSY:
        raise task.retry(countdown=BUSY_RETRY)
    return outcome.value


worker_process_init.connect(_Worker.reset, weak=False)
worker_shutdown.connect(_Worker.reset, weak=False)

app = make_app()
