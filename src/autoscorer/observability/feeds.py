"""Feed this process's metrics from the events the lower layers publish.

Executors (:mod:`autoscorer.executors.events`) and webhook deliveries
(:data:`autoscorer.webhooks.failures`) only publish; :func:`install_metrics`, called where a
server or worker is put together (the API app, ``autoscorer worker``), subscribes the
metrics of :mod:`.metrics` to them, so every executor is counted the same way.
"""

from __future__ import annotations

import threading

from autoscorer import webhooks
from autoscorer.executors import events
from autoscorer.observability.metrics import (
    count_sandbox_run,
    count_webhook_failure,
    observe_container_start,
)

_lock = threading.Lock()
_installed = False


def record_executor_event(event: events.ExecutorEvent) -> None:
    """A sandbox start (its overhead) or end (its result), into the metrics."""
    if isinstance(event, events.SandboxStarted):
        observe_container_start(event.seconds, event.executor)
    else:
        count_sandbox_run(event.executor, event.result)


def record_webhook_failure(failure: webhooks.WebhookFailure) -> None:
    count_webhook_failure(failure.reason)


def install_metrics() -> None:
    """Subscribe the metrics to the executor and webhook events, once per process.

    The metrics are process-wide, so a second app in the same process (tests,
    embedding) must not count every event twice. A forked child (a Celery prefork
    pool) inherits the subscriptions.
    """
    global _installed
    with _lock:
        if _installed:
            return
        events.topic.subscribe(record_executor_event)
        webhooks.failures.subscribe(record_webhook_failure)
        _installed = True
