"""Webhooks end to end: jobs submitted through the API with a callback_url reach a real
receiver on 127.0.0.1, signed, every state in order; a hanging receiver does not delay
the job; a callback host outside the allow-list is refused at submission."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.api.conftest import check_error, data_of
from tests.jobs.webhook_helpers import SECRET, Receiver


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kw: Any) -> Receiver:
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _hooked(make_client, **kw: Any):
    return make_client(webhook_secret=SECRET, webhook_allowed_hosts=["127.0.0.1"], **kw)


def _until(cond: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_every_state_in_order_with_retries(make_client, roots, receivers) -> None:
    receiver = receivers(script=[500, 500])  # the first two deliveries fail, then retried
    client = _hooked(make_client)
    body = {"job_id": "hooked", "workspace_path": str(roots["workspaces"] / "cls"),
            "callback_url": receiver.url}  # fmt: skip
    data_of(client.post("/api/v1/jobs", json=body))
    _until(lambda: "completed" in {e["status"] for e in receiver.events})
    seen = [e["status"] for e in receiver.events]
    assert seen == ["queued", "queued", "queued", "running", "completed"]  # 500, 500, then 200
    done = receiver.events[-1]
    assert done["job_id"] == "hooked" and done["type"] == "job.completed"
    assert done["score"] == pytest.approx(0.8998, abs=1e-3)

    def webhook_lines() -> list[str]:
        logs = data_of(client.get("/api/v1/jobs/hooked/logs"))["logs"]
        return [e["message"] for e in logs if e["component"] == "webhook"]

    _until(lambda: len(webhook_lines()) >= 5)  # every attempt is in the job's logs
    assert sum("500" in line for line in webhook_lines()) == 2


def test_a_hanging_receiver_does_not_delay_the_job(make_client, roots, receivers) -> None:
    slow = receivers(hang=8.0)
    client = _hooked(make_client)
    body = {"workspace_path": str(roots["workspaces"] / "cls"), "callback_url": slow.url}
    started = time.monotonic()
    job = data_of(client.post("/api/v1/jobs", json=body))
    assert job["status"] == "completed"
    assert time.monotonic() - started < 5.0


def test_callback_hosts_outside_the_allow_list_are_refused(make_client, roots) -> None:
    client = _hooked(make_client)
    body = {"workspace_path": str(roots["workspaces"] / "cls"),
            "callback_url": "http://example.invalid/hook"}  # fmt: skip
    check_error(client.post("/api/v1/jobs", json=body), 403, "FORBIDDEN", "callback_url")
    assert data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 0
