"""Job state changes as events, for webhooks, metrics and anything else that listens.

Whichever process makes a transition (the API for ``queued`` and ``cancelled``,
the worker for ``running``, ``completed`` and ``failed``) publishes it here.
Listeners run inline and must be quick and must not raise: a listener that
fails is logged and skipped, never allowed to fail the job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from autoscorer.jobs.records import JobRecord, JobStatus

log = logging.getLogger("autoscorer.jobs.events")


@dataclass(frozen=True)
class JobEvent:
    """One transition of one job. ``job`` is the job record after the change."""

    job_id: str
    status: JobStatus
    previous: JobStatus | None
    job: JobRecord

    @property
    def score(self) -> float | None:
        return self.job.result_score


Listener = Callable[[JobEvent], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` on every event of this process; returns an unsubscribe."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def publish(event: JobEvent) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:  # a listener must never fail a job
            log.exception("job event listener %r failed on %s", listener, event.job_id)
