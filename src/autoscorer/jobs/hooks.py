"""Listeners every process that runs or changes jobs installs: signed webhooks.

The API process and each Celery worker call :func:`install` once; the returned
function removes the listeners again (tests, shutdown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from autoscorer.jobs.events import subscribe
from autoscorer.jobs.notify import WebhookNotifier
from autoscorer.jobs.store import JobStore
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.jobs")


def install(settings: Settings, store: JobStore) -> Callable[[], None]:
    """Subscribe a :class:`WebhookNotifier` writing its attempts into the jobs' logs."""
    notifier = WebhookNotifier(
        settings.webhook_secret,
        default_url=settings.webhook_default_url,
        allowed_hosts=lambda: settings.webhook_allowed_hosts,
        log_fn=store.add_log,
    )
    unsubscribe = subscribe(notifier)

    def uninstall() -> None:
        unsubscribe()
        notifier.close()

    return uninstall
