"""The job-event listener that records webhook deliveries in the outbox, and the
webhook body it records for each job transition (:func:`build_event`).

Called by :func:`autoscorer.jobs.events.publish` in the thread that made the state change,
right after it committed and before that thread goes on (enqueues the job, runs the
pipeline, answers the request): the delivery is durable before anything else happens.
It never raises: a failure is logged and the job goes on.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.outbox import Outbox
from autoscorer.jobs.records import JobStatus
from autoscorer.webhooks import WebhookFailure, check_url, failures, redact_url

LogFn = Callable[[str, str, str, str], None]  # (job_id, level, component, message)
AllowedHosts = Iterable[str] | Callable[[], Iterable[str]]

COMPONENT = "webhook"  # the job-log component of every webhook line
NO_SECRET = (
    "no webhook secret is configured (AUTOSCORER_WEBHOOK_SECRET); unsigned webhooks are not sent"
)
UNSUCCESSFUL = (JobStatus.FAILED, JobStatus.CANCELLED)  # the events that carry an error code

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


class OutboxNotifier:
    """Records a delivery for every :class:`JobEvent` whose job has a callback URL (or
    when a default URL is set); logs to the job why an event is not sent."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        signing: bool,
        default_url: str | None,
        allowed_hosts: AllowedHosts,
        log_fn: LogFn,
        on_record: Callable[[], None] = lambda: None,
    ) -> None:
        self.outbox, self.signing, self.default_url = outbox, signing, default_url
        self.allowed_hosts, self.log_fn, self.on_record = allowed_hosts, log_fn, on_record
        self._pid = os.getpid()

    def __call__(self, event: JobEvent) -> None:
        if os.getpid() != self._pid:
            # inherited through fork (a Celery pool process of ``autoscorer worker``): that
            # process installs its own notifier; recording here too would send events twice
            return
        try:
            self._notify(event)
        except Exception:  # a listener must never fail a job
            log.exception("recording the webhook of job %s failed", event.job_id)

    def _notify(self, event: JobEvent) -> None:
        url = event.job.callback_url or self.default_url
        if not url:
            return
        refusal = self._refusal(url)
        if refusal is None:
            self.outbox.record(event.job_id, url, build_event(event))
            self.on_record()
            return
        failures.publish(WebhookFailure("refused_url"))
        message = f"job.{event.status.value} not sent to {redact_url(url)}: {refusal}"
        self.log_fn(event.job_id, "WARNING", COMPONENT, message)

    def _refusal(self, url: str) -> str | None:
        if not self.signing:
            return NO_SECRET
        hosts = self.allowed_hosts
        try:
            check_url(url, hosts() if callable(hosts) else hosts)
        except (InvalidParameter, Forbidden) as exc:
            return exc.message
        return None
