"""Webhook failures reach the process metrics through events: the outbox drainer and
notifier publish to ``webhooks.failures``, and ``install_metrics`` subscribes the
counter, once however often it is called."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.jobs.helpers import wait_for
from tests.jobs.webhook_helpers import Logs, job_event

from autoscorer.jobs.outbox import FAILED, Backoff, Outbox
from autoscorer.jobs.outbox_drain import Drainer
from autoscorer.jobs.outbox_notify import OutboxNotifier
from autoscorer.jobs.records import NewJob
from autoscorer.jobs.store import JobStore
from autoscorer.observability import build_registry, install_metrics, render

FAILURES = "autoscorer_webhook_delivery_failures_total"


def failures() -> dict[str, float]:
    text = render(build_registry(None))[0].decode()
    return {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == FAILURES
    }


def test_webhook_failures_are_counted_once_the_metrics_subscribe(tmp_path: Path) -> None:
    install_metrics()
    install_metrics()  # a second app in the same process must not double the counts
    before = failures()
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    outbox = Outbox(store, max_attempts=2, backoff=Backoff(base=0.01, cap=0.01))
    answer_503 = httpx.MockTransport(lambda request: httpx.Response(503))
    drainer = Drainer(outbox, "secret", poll=0.05, transport=answer_503)
    try:
        store.add(NewJob(job_id="j1", workspace_path="/w", executor="local"))
        outbox.record("j1", "http://hooks.example/in", {"job_id": "j1", "type": "job.completed"})
        drainer.start()
        wait_for(lambda: outbox.counts() == {FAILED: 1}, 20, "the row to fail")
        notifier = OutboxNotifier(outbox, signing=True, default_url=None,
                                  allowed_hosts=["hooks.example"], log_fn=Logs())  # fmt: skip
        notifier(job_event("completed", "running", "j2", "http://elsewhere.example/in"))
    finally:
        drainer.close()
        store.close()
    after = failures()
    grew = {reason: after[reason] - before.get(reason, 0.0) for reason in after}
    assert {r: n for r, n in grew.items() if n} == {"http_5xx": 1, "gave_up": 1, "refused_url": 1}
