"""The composition root of the job system: every part built from :class:`Settings`, here only.

``serve`` (the API), ``autoscorer worker``, the Celery worker processes and the CLI build
their store, runner, queue, hooks and reaper through these functions, so a setting reaches
every process the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from autoscorer.jobs import hooks
from autoscorer.jobs.queues.base import JobQueue
from autoscorer.jobs.queues.inprocess import InProcessQueue
from autoscorer.jobs.reaper import Reaper
from autoscorer.jobs.records import JobStatusView
from autoscorer.jobs.runner import JobRunner, new_worker_id
from autoscorer.jobs.service import JobService
from autoscorer.jobs.store import JobStore
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.jobs")


def make_store(settings: Settings) -> JobStore:
    return JobStore(settings.database_url)


def make_runner(settings: Settings, store: JobStore, kind: str) -> JobRunner:
    """A runner for one worker identity (``kind``: inprocess, celery, ...)."""
    return JobRunner(
        store, new_worker_id(kind), lease_seconds=settings.job_lease_seconds, settings=settings
    )


Enqueue = Callable[[JobStatusView], None]


def make_reaper(settings: Settings, store: JobStore, enqueue: Enqueue) -> Reaper:
    return Reaper(
        store,
        enqueue,
        max_attempts=settings.job_max_attempts,
        interval=settings.reaper_interval,
        requeue_after=settings.requeue_after,
    )


def install_hooks(settings: Settings, store: JobStore) -> Callable[[], None]:
    """Webhooks and metrics on job events; returns the uninstaller."""
    return hooks.install(settings, store)


def make_queue(settings: Settings, store: JobStore) -> JobQueue:
    if settings.queue == "celery":
        from autoscorer.jobs.queues.celery_queue import CeleryQueue

        return CeleryQueue.from_settings(settings)
    runner = make_runner(settings, store, "inprocess")
    return InProcessQueue(runner, concurrency=settings.queue_concurrency)


def build_service(settings: Settings, *, start: bool = True) -> JobService:
    """The job service the API runs: store, queue backend, reaper, hooks (started)."""
    store = make_store(settings)
    queue = make_queue(settings, store)
    service = JobService(store, queue, reaper=make_reaper(settings, store, queue.enqueue))
    service.default_executor = settings.executor
    service.allowed_callback_hosts = lambda: settings.webhook_allowed_hosts
    service.on_close.append(install_hooks(settings, store))
    if start:
        # only the in-process backend holds messages in memory; a broker keeps its own
        service.start(recover=settings.queue == "inprocess")
    log.info("job service: %s queue, store %s", queue.name, store.engine.url.render_as_string())
    return service


class CeleryWorkerParts:
    """What one Celery worker process needs (built after the fork: connections are not
    shared), and how to take it down."""

    def __init__(self, settings: Settings) -> None:
        self.store = make_store(settings)
        self.uninstall = install_hooks(settings, self.store)
        self.runner = make_runner(settings, self.store, "celery")

    def close(self) -> None:
        self.uninstall()
        self.store.close()


def start_worker_reaper(settings: Settings, enqueue: Enqueue) -> Reaper:
    """``autoscorer worker``'s reaper (its requeues and WORKER_LOST send webhooks too)."""
    store = make_store(settings)
    install_hooks(settings, store)
    reaper = make_reaper(settings, store, enqueue)
    reaper.start()
    return reaper
