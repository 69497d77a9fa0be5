"""Retries against a real (scripted) HTTP server, plus the pure retry decisions."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from autoscorer.client import (
    AsyncAutoScorerClient,
    AutoScorerClient,
    ConnectError,
    QuotaExceeded,
    RetryPolicy,
    ServiceUnavailable,
    TransportError,
)
from autoscorer.client._retry import parse_retry_after

FAST = dict(backoff_base=0.01, backoff_max=0.05)
JOB = {"job_id": "j1", "status": "submitted"}


def client(url: str, retries: int = 3) -> AutoScorerClient:
    return AutoScorerClient(url, retries=RetryPolicy(max_retries=retries, **FAST))


def test_429_is_retried_after_retry_after(scripted) -> None:
    scripted.fail(429, "QUOTA_EXCEEDED", Retry_After="0.3")
    started = time.monotonic()
    with client(scripted.url) as c:
        assert c.health().status == "healthy"
    assert len(scripted.requests) == 2
    assert time.monotonic() - started >= 0.3


def test_429_retried_even_for_a_submit_without_job_id(scripted) -> None:
    scripted.fail(429, "QUOTA_EXCEEDED", Retry_After="0")
    scripted.reply(202, {"success": True, "data": JOB})
    with client(scripted.url) as c:
        assert c.submit_job(workspace_path="/w", async_=True).job_id == "j1"
    assert [r["method"] for r in scripted.requests] == ["POST", "POST"]


def test_429_gives_up_with_quota_exceeded_and_retry_after(scripted) -> None:
    for _ in range(3):
        scripted.fail(429, "QUOTA_EXCEEDED", Retry_After="0")
    with client(scripted.url, retries=2) as c, pytest.raises(QuotaExceeded) as info:
        c.health()
    assert len(scripted.requests) == 3
    assert info.value.retry_after == 0.0
    assert info.value.status_code == 429


def test_retry_after_beyond_the_cap_is_not_waited_for(scripted) -> None:
    scripted.fail(429, "QUOTA_EXCEEDED", Retry_After="3600")
    with client(scripted.url) as c, pytest.raises(QuotaExceeded):
        c.health()
    assert len(scripted.requests) == 1


def test_503_retried_for_idempotent_calls(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    with client(scripted.url) as c:
        assert c.health().status == "healthy"
    assert len(scripted.requests) == 3


def test_503_not_retried_for_a_submit_without_job_id(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    with client(scripted.url) as c, pytest.raises(ServiceUnavailable):
        c.submit_job(workspace_path="/w")
    assert len(scripted.requests) == 1


def test_503_retried_for_a_submit_with_job_id(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    scripted.reply(200, {"success": True, "data": JOB})
    with client(scripted.url) as c:
        assert c.submit_job(job_id="j1", workspace_path="/w").job_id == "j1"
    assert len(scripted.requests) == 2
    assert scripted.requests[1]["body"]["job_id"] == "j1"


def test_batch_retried_only_when_every_job_has_an_id(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    with client(scripted.url) as c, pytest.raises(ServiceUnavailable):
        c.submit_batch([{"job_id": "a", "workspace_path": "/a"}, {"workspace_path": "/b"}])
    assert len(scripted.requests) == 1


def test_dropped_connection_retried_only_when_idempotent(scripted) -> None:
    scripted.drop()
    with client(scripted.url) as c:
        assert c.health().status == "healthy"
    assert len(scripted.requests) == 2
    scripted.requests.clear()
    scripted.drop()
    with client(scripted.url) as c, pytest.raises(TransportError):
        c.submit_job(workspace_path="/w")
    assert len(scripted.requests) == 1


def test_refused_connection_raises_connect_error_after_retries() -> None:
    sock_port = _closed_port()
    started = time.monotonic()
    with client(f"http://127.0.0.1:{sock_port}", retries=2) as c, pytest.raises(ConnectError):
        c.submit_job(workspace_path="/w")  # never sent, so even a plain submit is retried
    assert time.monotonic() - started < 5


def test_async_client_retries_429_and_503(scripted) -> None:
    scripted.fail(429, "QUOTA_EXCEEDED", Retry_After="0.1")
    scripted.fail(503, "SERVICE_UNAVAILABLE")

    async def main() -> str:
        policy = RetryPolicy(max_retries=3, **FAST)
        async with AsyncAutoScorerClient(scripted.url, retries=policy) as c:
            return (await c.health()).status

    assert asyncio.run(main()) == "healthy"
    assert len(scripted.requests) == 3


def test_async_submit_without_id_not_retried_on_503(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")

    async def main() -> None:
        async with AsyncAutoScorerClient(scripted.url, retries=RetryPolicy(**FAST)) as c:
            await c.submit_job(workspace_path="/w")

    with pytest.raises(ServiceUnavailable):
        asyncio.run(main())
    assert len(scripted.requests) == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- pure decisions ---------------------------------------------------------------


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, rng=random.Random(7))
    for attempt, step in enumerate([1.0, 2.0, 4.0, 8.0, 8.0]):
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert min(delays) >= step / 2 and max(delays) <= step
        assert max(delays) - min(delays) > step / 4  # actually jittered


def test_status_decisions() -> None:
    p = RetryPolicy(max_retries=2, rng=random.Random(1))
    assert p.delay_for_status(0, 429, False, 1.5) == 1.5
    assert p.delay_for_status(0, 503, False, None) is None
    assert p.delay_for_status(0, 503, True, None) is not None
    assert p.delay_for_status(0, 404, True, None) is None
    assert p.delay_for_status(2, 429, True, 0.0) is None  # out of attempts


def test_error_decisions() -> None:
    p = RetryPolicy(rng=random.Random(1))
    refused = httpx.ConnectError("refused")
    reset = httpx.ReadError("reset")
    assert p.delay_for_error(0, refused, False) is not None
    assert p.delay_for_error(0, reset, False) is None
    assert p.delay_for_error(0, reset, True) is not None
    assert p.delay_for_error(0, ValueError("x"), True) is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
