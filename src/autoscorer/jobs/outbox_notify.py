"""The job-event listener that records webhook deliveries in the outbox.

Called by :func:`autoscorer.jobs.events.publish` in the thread that made the state change,
right after it committed and before that thread goes on (enqueues the job, runs the
pipeline, answers the request): the delivery is durable before anything else happens.
It never raises: a failure is logged and the job goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.notify import COMPONENT, NO_SECRET, AllowedHosts, LogFn, build_event
from autoscorer.jobs.outbox import Outbox
from autoscorer.webhooks import WebhookFailure, check_url, failures, redact_url

log = logging.getLogger("autoscorer.webhooks")


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
