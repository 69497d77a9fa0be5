"""``Idempotency-Key`` in the SDK: the header, the retry rule it unlocks, and what the
real server does with a repeat (scripted server for what cannot be provoked)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from tests.client.conftest import error_envelope

from autoscorer.client import (
    AsyncAutoScorerClient,
    AutoScorerClient,
    Conflict,
    RetryPolicy,
    ScorerNotFound,
    ServiceUnavailable,
    TransportError,
)

FAST = dict(backoff_base=0.01, backoff_max=0.05)
JOB = {"success": True, "data": {"job_id": "j1", "status": "queued"}}
BATCH = {"success": True, "data": {"batch_id": "b1", "jobs": [{"job_id": "j1"}]}}
KEY_HEADER = "Idempotency-Key"


def client(url: str, **kwargs: Any) -> AutoScorerClient:
    return AutoScorerClient(url, retries=RetryPolicy(max_retries=3, **FAST), **kwargs)


def key_of(request: dict[str, Any]) -> str | None:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return headers.get(KEY_HEADER.lower())


def still_running(key: str = "k1") -> dict[str, Any]:
    return error_envelope(
        "CONFLICT",
        f"a request with Idempotency-Key {key!r} is still being processed; retry shortly",
        field=KEY_HEADER,
        details={"retry": True},
    )


# -- the wire and the retry rule (scripted server) ----------------------------------


def test_the_key_is_sent_as_a_header_only_when_given(scripted) -> None:
    scripted.reply(202, JOB)
    scripted.reply(202, JOB)
    scripted.reply(202, BATCH)
    with client(scripted.url) as c:
        c.submit_job(workspace_path="/w", async_=True, idempotency_key="k1")
        c.submit_job(workspace_path="/w", async_=True)
        c.submit_batch([{"workspace_path": "/w"}], idempotency_key="kb")
    assert [key_of(r) for r in scripted.requests] == ["k1", None, "kb"]
    assert "idempotency_key" not in scripted.requests[0]["body"]


def test_a_submit_with_a_key_is_retried_on_503_with_the_same_key(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    scripted.reply(202, JOB)
    with client(scripted.url) as c:
        assert c.submit_job(workspace_path="/w", async_=True, idempotency_key="k1").job_id == "j1"
    assert [key_of(r) for r in scripted.requests] == ["k1", "k1"]


def test_a_submit_with_a_key_is_retried_after_a_dropped_connection(scripted) -> None:
    scripted.drop()
    scripted.reply(202, JOB)
    with client(scripted.url) as c:
        assert c.submit_job(workspace_path="/w", idempotency_key="k1").job_id == "j1"
    assert len(scripted.requests) == 2
    assert scripted.requests[0]["body"] == scripted.requests[1]["body"]


def test_a_batch_with_a_key_is_retried_even_without_job_ids(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    scripted.reply(202, BATCH)
    with client(scripted.url) as c:
        out = c.submit_batch(
            [{"workspace_path": "/a"}, {"workspace_path": "/b"}], idempotency_key="kb"
        )
    assert out.batch_id == "b1"
    assert [key_of(r) for r in scripted.requests] == ["kb", "kb"]


def test_without_a_key_a_submit_is_still_not_retried(scripted) -> None:
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    with client(scripted.url) as c, pytest.raises(ServiceUnavailable):
        c.submit_job(workspace_path="/w")
    assert len(scripted.requests) == 1


def test_409_still_running_is_retried_with_backoff(scripted) -> None:
    scripted.reply(409, still_running())
    scripted.reply(409, still_running())
    scripted.reply(200, JOB)
    with client(scripted.url) as c:
        assert c.submit_job(workspace_path="/w", idempotency_key="k1").job_id == "j1"
    assert [key_of(r) for r in scripted.requests] == ["k1", "k1", "k1"]


def test_409_still_running_gives_up_after_the_retries(scripted) -> None:
    for _ in range(3):
        scripted.reply(409, still_running())
    policy = RetryPolicy(max_retries=2, **FAST)
    with AutoScorerClient(scripted.url, retries=policy) as c, pytest.raises(Conflict) as info:
        c.submit_job(workspace_path="/w", idempotency_key="k1")
    assert info.value.details["retry"] is True
    assert info.value.field == KEY_HEADER
    assert len(scripted.requests) == 3


def test_other_409s_are_not_retried(scripted) -> None:
    other_body = error_envelope(
        "CONFLICT", "Idempotency-Key 'k1' was used with a different request body", field=KEY_HEADER
    )
    scripted.reply(409, other_body)
    with client(scripted.url) as c, pytest.raises(Conflict):
        c.submit_job(workspace_path="/w", idempotency_key="k1")
    assert len(scripted.requests) == 1
    scripted.requests.clear()
    # a 409 that says retry but answers a call without a key is not retried either
    scripted.reply(409, still_running())
    with client(scripted.url) as c, pytest.raises(Conflict):
        c.submit_job(job_id="j1", workspace_path="/w")
    assert len(scripted.requests) == 1


def test_auto_idempotency_gives_each_call_its_own_key_kept_across_retries(scripted) -> None:
    scripted.drop()
    scripted.reply(202, JOB)
    scripted.reply(202, JOB)
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    scripted.reply(202, BATCH)
    with client(scripted.url, auto_idempotency=True) as c:
        c.submit_job(workspace_path="/w", async_=True)
        c.submit_job(workspace_path="/w", async_=True, idempotency_key="mine")
        c.submit_batch([{"workspace_path": "/w"}])
    keys = [key_of(r) for r in scripted.requests]
    assert len(keys) == 5
    assert keys[0] == keys[1] and uuid.UUID(str(keys[0])).version == 4  # retry: same key
    assert keys[2] == "mine"  # an explicit key wins
    assert keys[3] == keys[4] and keys[3] not in {keys[0], "mine"}


def test_async_client_sends_the_key_and_retries_409_still_running(scripted) -> None:
    scripted.reply(409, still_running())
    scripted.fail(503, "SERVICE_UNAVAILABLE")
    scripted.reply(202, BATCH)
    scripted.drop()
    scripted.reply(202, JOB)

    async def main() -> None:
        policy = RetryPolicy(max_retries=3, **FAST)
        async with AsyncAutoScorerClient(scripted.url, retries=policy) as c:
            out = await c.submit_batch([{"workspace_path": "/w"}], idempotency_key="kb")
            assert out.batch_id == "b1"
        async with AsyncAutoScorerClient(scripted.url, retries=policy, auto_idempotency=True) as c:
            assert (await c.submit_job(workspace_path="/w", async_=True)).job_id == "j1"

    asyncio.run(main())
    keys = [key_of(r) for r in scripted.requests]
    assert keys[:3] == ["kb", "kb", "kb"]
    assert keys[3] == keys[4] and keys[3] is not None


def test_status_decision_for_a_key_still_running() -> None:
    p = RetryPolicy(max_retries=2, rng=random.Random(1))
    assert p.delay_for_status(0, 409, True, None, in_progress=True) is not None
    assert p.delay_for_status(0, 409, True, None) is None
    assert p.delay_for_status(2, 409, True, None, in_progress=True) is None


# -- against the real server -------------------------------------------------------


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def jobs_in(admin: AutoScorerClient, workspace: str) -> list[str]:
    """Ids of the server's jobs on ``workspace`` (every test uses its own)."""
    return [j.job_id for j in admin.iter_jobs(page_size=200) if j["workspace_path"] == workspace]


def test_a_repeat_gets_the_first_job_and_no_second_one(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-repeat")), uid("key")
    first = admin.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
    again = admin.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
    assert again.job_id == first.job_id
    assert again.status == first.status  # the first answer, replayed as it was
    assert jobs_in(admin, ws) == [first.job_id]
    raw = httpx.post(
        f"{live.url}/api/v1/jobs",
        json={"workspace_path": ws, "async": True},
        headers={"Authorization": f"Bearer {live.admin_key}", KEY_HEADER: key},
    )
    assert raw.status_code == 202 and raw.headers["Idempotent-Replayed"] == "true"
    assert raw.json()["data"]["job_id"] == first.job_id
    assert admin.wait_for_completion(first.job_id, timeout=60).success


def test_a_sync_repeat_replays_the_result(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-sync")), uid("key")
    first = admin.submit_job(workspace_path=ws, idempotency_key=key)
    again = admin.submit_job(workspace_path=ws, idempotency_key=key)
    assert first.status == again.status == "completed"
    assert again.job_id == first.job_id
    assert again.result is not None and first.result is not None
    assert again.result.summary.score == first.result.summary.score
    assert jobs_in(admin, ws) == [first.job_id]


def test_the_same_key_with_another_body_is_a_conflict(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-other")), uid("key")
    first = admin.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
    with pytest.raises(Conflict) as info:
        admin.submit_job(workspace_path=ws, async_=True, idempotency_key=key, job_id=uid("x"))
    assert info.value.field == KEY_HEADER
    assert info.value.status_code == 409
    assert "retry" not in info.value.details
    assert jobs_in(admin, ws) == [first.job_id]


def test_a_batch_repeat_gets_the_first_batch(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-batch")), uid("key")
    jobs = [{"workspace_path": ws}, {"workspace_path": ws}]
    first = admin.submit_batch(jobs, idempotency_key=key)
    again = admin.submit_batch(jobs, idempotency_key=key)
    assert again.batch_id == first.batch_id and again.job_ids == first.job_ids
    assert sorted(jobs_in(admin, ws)) == sorted(first.job_ids)
    with pytest.raises(Conflict):
        admin.submit_batch(jobs[:1], idempotency_key=key)


def test_a_refused_submit_releases_its_key(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-refused")), uid("key")
    with pytest.raises(ScorerNotFound):
        admin.submit_job(workspace_path=ws, scorer="nope", async_=True, idempotency_key=key)
    job = admin.submit_job(workspace_path=ws, async_=True, idempotency_key=key)  # another body
    assert jobs_in(admin, ws) == [job.job_id]


def test_keys_are_scoped_per_api_key(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-scope")), uid("key")
    mine = admin.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
    with AutoScorerClient(live.url, api_key=live.submitter_key) as other:
        theirs = other.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
    assert theirs.job_id != mine.job_id
    assert sorted(jobs_in(admin, ws)) == sorted([mine.job_id, theirs.job_id])


class LoseFirstAnswer(httpx.BaseTransport):
    """Sends every request to the real server; the answer to the first one is lost
    (the connection drops after the request went out), as a flaky network does.

    ``early``: drop the connection while the server is still working on the request
    (as soon as ``started()`` says so), not after its answer arrived.
    """

    def __init__(self, started: Any = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.started = started
        self.statuses: list[int | str] = []
        self.keys: list[str | None] = []
        self.background: list[threading.Thread] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.keys.append(request.headers.get(KEY_HEADER))
        if len(self.keys) > 1:
            response = self.inner.handle_request(request)
            response.read()
            self.statuses.append(response.status_code)
            return response
        if self.started is None:
            lost = self.inner.handle_request(request)
            lost.read()
            lost.close()
        else:
            request.read()
            thread = threading.Thread(target=self._send_and_forget, args=(request,), daemon=True)
            thread.start()
            self.background.append(thread)
            deadline = time.monotonic() + 20
            while not self.started() and time.monotonic() < deadline:
                time.sleep(0.02)
        self.statuses.append("lost")
        raise httpx.ReadError("connection dropped before the answer", request=request)

    def _send_and_forget(self, request: httpx.Request) -> None:
        with httpx.HTTPTransport() as t:
            t.handle_request(request).read()

    def close(self) -> None:
        for thread in self.background:
            thread.join(30)
        self.inner.close()


def test_retry_after_a_lost_answer_creates_one_job(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-drop")), uid("key")
    transport = LoseFirstAnswer()
    with AutoScorerClient(
        live.url, api_key=live.admin_key, transport=transport, retries=RetryPolicy(**FAST)
    ) as c:
        job = c.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
    assert transport.statuses == ["lost", 202]
    assert transport.keys == [key, key]
    assert jobs_in(admin, ws) == [job.job_id]


def test_auto_idempotency_makes_a_plain_submit_safe_to_retry(live, admin: AutoScorerClient) -> None:
    ws = live.ws(uid("idem-auto"))
    transport = LoseFirstAnswer()
    with AutoScorerClient(
        live.url,
        api_key=live.admin_key,
        transport=transport,
        retries=RetryPolicy(**FAST),
        auto_idempotency=True,
    ) as c:
        job = c.submit_job(workspace_path=ws)  # synchronous, no job_id, no explicit key
    assert job.status == "completed"
    assert transport.statuses == ["lost", 200]
    assert transport.keys[0] is not None and transport.keys[0] == transport.keys[1]
    assert jobs_in(admin, ws) == [job.job_id]


def test_without_a_key_a_lost_answer_is_an_error_though_the_job_exists(
    live, admin: AutoScorerClient
) -> None:
    ws = live.ws(uid("idem-nokey"))
    transport = LoseFirstAnswer()
    with (
        AutoScorerClient(
            live.url, api_key=live.admin_key, transport=transport, retries=RetryPolicy(**FAST)
        ) as c,
        pytest.raises(TransportError),
    ):
        c.submit_job(workspace_path=ws, async_=True)
    assert transport.statuses == ["lost"]
    assert len(jobs_in(admin, ws)) == 1  # why a key matters: the job was created


def test_a_retry_while_the_first_request_runs_waits_for_its_answer(
    live, admin: AutoScorerClient, slow_scorer: str
) -> None:
    ws = live.ws(uid("idem-busy"), scorer=slow_scorer, task_type="custom")
    key = uid("key")
    transport = LoseFirstAnswer(started=lambda: bool(jobs_in(admin, ws)))
    policy = RetryPolicy(max_retries=30, backoff_base=0.1, backoff_max=0.4)
    with AutoScorerClient(
        live.url, api_key=live.admin_key, transport=transport, retries=policy
    ) as c:
        job = c.submit_job(
            workspace_path=ws, config={"scorer_params": {"seconds": 1.5}}, idempotency_key=key
        )
    assert job.status == "completed"
    assert transport.statuses[0] == "lost" and transport.statuses[-1] == 200
    assert 409 in transport.statuses  # "still being processed", retried until replayed
    assert set(transport.statuses[1:-1]) == {409}
    assert jobs_in(admin, ws) == [job.job_id]


def test_async_client_repeat_and_conflict(live, admin: AutoScorerClient) -> None:
    ws, key = live.ws(uid("idem-async")), uid("key")

    async def main() -> tuple[str, str]:
        async with AsyncAutoScorerClient(live.url, api_key=live.admin_key) as c:
            first = await c.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
            again = await c.submit_job(workspace_path=ws, async_=True, idempotency_key=key)
            with pytest.raises(Conflict):
                await c.submit_job(workspace_path=ws, idempotency_key=key)
            return first.job_id, again.job_id

    first, again = asyncio.run(main())
    assert first == again
    assert jobs_in(admin, ws) == [first]
