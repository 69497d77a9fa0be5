"""Build a started :class:`JobService` from :class:`Settings`."""

from __future__ import annotations

import logging

from autoscorer.jobs import hooks
from autoscorer.jobs.queues.base import JobQueue
from autoscorer.jobs.queues.inprocess import InProcessQueue
from autoscorer.jobs.reaper import Reaper
from autoscorer.jobs.runner import JobRunner, new_worker_id
from autoscorer.jobs.service import JobService
from autoscorer.jobs.store import JobStore
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.jobs")


def make_queue(settings: Settings, store: JobStore) -> JobQueue:
    if settings.queue == "celery":
        from autoscorer.jobs.queues.celery_queue import CeleryQueue

        return CeleryQueue.from_settings(settings)
    runner = JobRunner(
        store,
        new_worker_id("inprocess"),
        lease_seconds=settings.job_lease_seconds,
        settings=settings,
    )
    return InProcessQueue(runner, concurrency=settings.queue_concurrency)


def build_service(settings: Settings, *, start: bool = True) -> JobService:
    store = JobStore(settings.database_url)
    queue = make_queue(settings, store)
    reaper = Reaper(
        store,
        queue.enqueue,
        max_attempts=settings.job_max_attempts,
        interval=settings.reaper_interval,
    )
    service = JobService(store, queue, reaper=reaper)
    service.default_executor = settings.executor
    service.allowed_callback_hosts = lambda: settings.webhook_allowed_hosts
    service.on_close.append(hooks.install(settings, store))
    if start:
        # only the in-process backend holds messages in memory; a broker keeps its own
        service.start(recover=settings.queue == "inprocess")
    log.info("job service: %s queue, store %s", queue.name, store.engine.url.render_as_string())
    return service
