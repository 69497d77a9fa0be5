"""Listeners every process that runs or changes jobs installs: signed webhooks.

The API process, each ``autoscorer worker`` and each Celery pool process call
:func:`install` once: job events are recorded in the webhook outbox, and a drainer
delivers the outbox's due rows (any process's). The returned function removes the
listener and stops the drainer again (tests, shutdown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from autoscorer.jobs.events import subscribe
from autoscorer.jobs.outbox import Outbox
from autoscorer.jobs.outbox_drain import Drainer
from autoscorer.jobs.outbox_notify import OutboxNotifier
from autoscorer.jobs.store import JobStore
from autoscorer.settings import Settings
from autoscorer.webhook_schemes import secret_key

log = logging.getLogger("autoscorer.jobs")


def install(settings: Settings, store: JobStore) -> Callable[[], None]:
    """Subscribe an :class:`OutboxNotifier` and start a :class:`Drainer` (with a secret)."""
    secret = _usable(settings.webhook_secret.get_secret_value() if settings.webhook_secret else "")
    outbox = Outbox(store, max_attempts=settings.webhook_max_attempts)
    drainer = None
    if secret:
        drainer = Drainer(outbox, secret, scheme=settings.webhook_signature)
        drainer.start()
    else:
        log.warning("webhook secret not set: job callbacks will not be sent")
    notifier = OutboxNotifier(
        outbox,
        signing=bool(secret),
        default_url=settings.webhook_default_url,
        allowed_hosts=lambda: settings.webhook_allowed_hosts,
        log_fn=store.add_log,
        on_record=drainer.wake if drainer is not None else lambda: None,
    )
    unsubscribe = subscribe(notifier)

    def uninstall() -> None:
        unsubscribe()
        if drainer is not None:
            drainer.close()

    return uninstall


def _usable(secret: str) -> str:
    """The secret, or "" (nothing is sent) when it cannot be a key; never logged itself."""
    try:
        secret_key(secret)
    except ValueError as exc:
        log.error(
            "AUTOSCORER_WEBHOOK_SECRET is not usable (%s): job callbacks will not be sent", exc
        )
        return ""
    return secret
