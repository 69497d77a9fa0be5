"""Job state changes -> signed webhooks: the events listener the job service subscribes.

    from autoscorer.jobs import events
    from autoscorer.jobs.notify import WebhookNotifier

    notifier = WebhookNotifier(
        settings.webhook_secret,                       # str, SecretStr or None
        default_url=None,
        allowed_hosts=lambda: get_settings().webhook_allowed_hosts,  # read on every event
        log_fn=store.add_log,                          # (job_id, level, component, message)
    )
    unsubscribe = events.subscribe(notifier)
    ...
    unsubscribe()
    notifier.close()

Calling the notifier never raises and never waits on the network or on ``log_fn``:
it checks the URL, queues the event with :class:`~autoscorer.webhooks.WebhookDispatcher`
and returns. ``log_fn`` is always called on the notifier's own log thread (never in
the publisher's thread, so it may open its own database session), in order, once
per delivery attempt and once per event that is not sent (URL not allowed, no
secret). Without a secret nothing is sent: an unsigned webhook is one a receiver
cannot tell from a forgery, so we refuse and say so in the job's logs.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.records import JobStatus
from autoscorer.webhooks import (
    DELIVERED,
    DROPPED,
    GAVE_UP,
    RETRYING,
    Attempt,
    WebhookDispatcher,
    WebhookFailure,
    check_url,
    failures,
    redact_url,
)

LogFn = Callable[[str, str, str, str], None]  # (job_id, level, component, message)
AllowedHosts = Iterable[str] | Callable[[], Iterable[str]]

COMPONENT = "webhook"
NO_SECRET = (
    "no webhook secret is configured (AUTOSCORER_WEBHOOK_SECRET); unsigned webhooks are not sent"
)
UNSUCCESSFUL = (JobStatus.FAILED, JobStatus.CANCELLED)  # the events that carry an error code
_LEVELS = {DELIVERED: "INFO", RETRYING: "WARNING", GAVE_UP: "ERROR", DROPPED: "WARNING"}

log = logging.getLogger("autoscorer.webhooks")


def build_event(event: JobEvent) -> dict[str, Any]:
    """The JSON body of the webhook for one job transition (docs/webhooks.md)."""
    status, job = event.status, event.job
    error = job.error
    code = error.get("code") if isinstance(error, Mapping) and status in UNSUCCESSFUL else None
    score = event.score if event.score is not None else job.score
    score = score if status == JobStatus.COMPLETED else None
    return {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": f"job.{status.value}",
        "job_id": event.job_id,
        "status": status.value,
        "previous_status": None if event.previous is None else event.previous.value,
        "score": score if isinstance(score, int | float) and math.isfinite(score) else None,
        "error_code": code,
        "request_id": job.request_id,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


class WebhookNotifier:
    """Sends a signed webhook for every :class:`JobEvent` whose job has a callback URL."""

    def __init__(
        self,
        secret: str | SecretStr | None,
        default_url: str | None = None,
        allowed_hosts: AllowedHosts = (),
        log_fn: LogFn | None = None,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        workers: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        plain = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        self.default_url = default_url
        self._allowed_hosts = allowed_hosts
        self._logs = _LogPump(log_fn or _python_log)
        self._closed = False
        self._dispatcher: WebhookDispatcher | None = None
        if not plain:
            log.warning("webhook secret not set: job callbacks will not be sent")
            return
        self._dispatcher = WebhookDispatcher(
            plain, max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay,
            timeout=timeout, workers=workers, on_attempt=self._on_attempt, transport=transport,
        )  # fmt: skip

    def __call__(self, event: JobEvent) -> None:
        """Queue the webhook for ``event`` (or log why not); returns at once, never raises."""
        try:
            self._notify(event)
        except Exception:  # a listener must never fail a job
            log.exception("webhook notifier failed on job %s", event.job_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop sending. Posts in flight get up to ``timeout`` s, retries not yet due are
        dropped (and logged as such), then queued log lines are written, within ``timeout``."""
        self._closed = True
        deadline = time.monotonic() + timeout
        if self._dispatcher is not None:
            self._dispatcher.close(timeout)
        self._logs.close(max(0.1, deadline - time.monotonic()))

    def _notify(self, event: JobEvent) -> None:
        url = event.job.callback_url or self.default_url
        if not url or self._closed:  # closed: the process is going down, its log thread too
            return
        refusal = self._refusal(url)
        if refusal is not None:
            failures.publish(WebhookFailure("refused_url"))
            message = f"job.{event.status.value} not sent to {redact_url(url)}: {refusal}"
            self._logs.put(event.job_id, "WARNING", message)
        elif self._dispatcher is not None:
            self._dispatcher.send(url, build_event(event))

    def _refusal(self, url: str) -> str | None:
        if self._dispatcher is None:
            return NO_SECRET
        hosts = self._allowed_hosts
        try:
            check_url(url, hosts() if callable(hosts) else hosts)
        except (InvalidParameter, Forbidden) as exc:
            return exc.message
        return None

    def _on_attempt(self, attempt: Attempt) -> None:
        self._logs.put(attempt.job_id, _LEVELS[attempt.outcome], attempt.describe())


class _LogPump:
    """Calls ``log_fn`` on one background thread, in order, so callers never wait on it."""

    def __init__(self, log_fn: LogFn) -> None:
        self._fn = log_fn
        self._queue: queue.Queue[tuple[str, str, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="webhook-logs", daemon=True)
        self._thread.start()

    def put(self, job_id: str, level: str, message: str) -> None:
        self._queue.put((job_id, level, message))

    def close(self, timeout: float) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            job_id, level, message = item
            try:
                self._fn(job_id, level, COMPONENT, message)
            except Exception:  # the job's log store is down: keep the line in the server log
                log.exception("could not write webhook log line for job %s: %s", job_id, message)


def _python_log(job_id: str, level: str, component: str, message: str) -> None:
    log.log(logging.getLevelName(level), "job %s [%s] %s", job_id, component, message)
