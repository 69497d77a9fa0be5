"""Webhook failures reach the process metrics through events: the dispatcher and the
notifier publish to ``webhooks.failures``, and ``install_metrics`` subscribes the
counter, once however often it is called."""

from __future__ import annotations

import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families

from autoscorer.jobs.events import JobEvent
from autoscorer.jobs.notify import WebhookNotifier
from autoscorer.observability import build_registry, install_metrics, render
from autoscorer.webhooks import GAVE_UP, Attempt, WebhookDispatcher

FAILURES = "autoscorer_webhook_delivery_failures_total"


def failures() -> dict[str, float]:
    text = render(build_registry(None))[0].decode()
    return {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == FAILURES
    }


def test_webhook_failures_are_counted_once_the_metrics_subscribe() -> None:
    install_metrics()
    install_metrics()  # a second app in the same process must not double the counts
    before = failures()
    gave_up = threading.Event()

    def on_attempt(attempt: Attempt) -> None:
        if attempt.outcome == GAVE_UP:
            gave_up.set()

    answer_503 = httpx.MockTransport(lambda request: httpx.Response(503))
    dispatcher = WebhookDispatcher(
        "secret", max_attempts=2, base_delay=0.01, on_attempt=on_attempt, transport=answer_503
    )
    dispatcher.send("http://hooks.example/in", {"job_id": "j1", "type": "job.completed"})
    assert gave_up.wait(10)
    dispatcher.close()
    notifier = WebhookNotifier("secret", allowed_hosts=["hooks.example"])
    job = {"callback_url": "http://elsewhere.example/in"}
    notifier(JobEvent(job_id="j2", status="completed", previous="running", job=job))
    notifier.close()
    after = failures()
    grew = {reason: after[reason] - before.get(reason, 0.0) for reason in after}
    assert {r: n for r, n in grew.items() if n} == {"http_5xx": 1, "gave_up": 1, "refused_url": 1}
