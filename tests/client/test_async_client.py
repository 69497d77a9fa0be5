"""Every method of the asynchronous client against the real server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sklearn.metrics import f1_score

from autoscorer.client import (
    AsyncAutoScorerClient,
    Conflict,
    ResourceNotFound,
    ScorerNotFound,
    Unauthorized,
)

F1_MACRO = f1_score(list("ababab"), list("abbbaa"), average="macro")


def run(
    live, body: Callable[[AsyncAutoScorerClient], Awaitable[Any]], key: str | None = None
) -> Any:
    async def main() -> Any:
        api_key = live.admin_key if key is None else key
        async with AsyncAutoScorerClient(live.url, api_key=api_key) as client:
            return await body(client)

    return asyncio.run(main())


def test_system_calls(live) -> None:
    async def body(c: AsyncAutoScorerClient) -> None:
        health, status = await asyncio.gather(c.health(), c.status())
        assert health.status == "healthy"
        assert "total_jobs" in status.metrics

    run(live, body)


def test_submit_wait_status_result_logs(live) -> None:
    async def body(c: AsyncAutoScorerClient) -> None:
        job = await c.submit_job(workspace_path=live.ws("a-flow"), async_=True)
        result = await c.wait_for_completion(job.job_id, timeout=60)
        assert result.success
        assert result.data.result.summary.score == pytest.approx(F1_MACRO, abs=1e-12)
        status = await c.get_job_status(job.job_id)
        assert status.status == "completed"
        res = await c.get_job_result(job.job_id, include_logs=True)
        assert res.result.summary.score == pytest.approx(F1_MACRO, abs=1e-12)
        assert (await c.get_job_logs(job.job_id, tail=1)).logs
        sync_job = await c.submit_job(workspace_path=live.ws("a-flow"))
        assert sync_job.status == "completed"

    run(live, body)


def test_stream_logs_until_the_job_ends(live, slow_scorer) -> None:
    ws = live.ws("a-slow-stream", scorer=slow_scorer, task_type="custom")

    async def body(c: AsyncAutoScorerClient) -> None:
        job = await c.submit_job(
            workspace_path=ws, async_=True, config={"scorer_params": {"seconds": 1.0}}
        )
        entries = [e async for e in c.stream_logs(job.job_id, timeout=60)]
        assert (await c.get_job_status(job.job_id)).status == "completed"
        logged = (await c.get_job_logs(job.job_id)).logs
        assert [e.message for e in entries] == [e.message for e in logged]

    run(live, body)


def test_cancel_and_batches(live, slow_scorer) -> None:
    ws = live.ws("a-slow-batch", scorer=slow_scorer, task_type="custom")
    ids = [f"ab-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    cfg = {"scorer_params": {"seconds": 5.0}}

    async def body(c: AsyncAutoScorerClient) -> None:
        batch = await c.submit_batch(
            [{"job_id": i, "workspace_path": ws, "config": cfg} for i in ids], async_=True
        )
        assert batch.job_ids == ids
        assert len((await c.batch_status(ids)).jobs) == 3
        for _ in range(600):  # cancel it while it runs, not while it is queued
            if (await c.get_job_status(ids[0])).status == "running":
                break
            await asyncio.sleep(0.05)
        assert (await c.cancel_job(ids[0])).status == "cancelled"
        with pytest.raises(Conflict):
            await c.cancel_job(ids[0])
        out = await c.cancel_batch(ids[1:])
        assert out.total_cancelled == 2

    run(live, body)


def test_pagination_iterator(live) -> None:
    async def body(c: AsyncAutoScorerClient) -> None:
        for _ in range(3):
            await c.submit_job(workspace_path=live.ws("a-page"))
        total = (await c.list_jobs(limit=1)).pagination.total
        ids = [j.job_id async for j in c.iter_jobs(page_size=2)]
        assert len(ids) == len(set(ids)) == total

    run(live, body)


def test_scorers_workspaces_config(live, slow_scorer) -> None:
    path = str(live.scorer_file)

    async def body(c: AsyncAutoScorerClient) -> None:
        assert "classification_f1" in [s.name for s in await c.scorers.list()]
        assert (await c.scorers.get("classification_f1")).name == "classification_f1"
        test = await c.scorers.test("classification_f1", live.ws("a-test"))
        assert test.result.summary.score == pytest.approx(F1_MACRO)
        assert (await c.scorers.load(path, force_reload=True)).total_loaded == 1
        assert (await c.scorers.reload(path)).total_reloaded == 0  # just loaded: unchanged
        live.scorer_file.write_text(live.scorer_file.read_text() + "\n# touched (async test)\n")
        assert (await c.scorers.reload(path)).total_reloaded == 1
        assert (await c.scorers.watch(path)).watch_started
        assert (await c.scorers.watch_status()).total_watched >= 1
        assert (await c.scorers.unwatch(path)).watch_stopped
        assert (await c.workspaces.validate(live.ws("a-test"))).valid
        made = await c.workspaces.init(str(live.workspaces / "a-init"), template="classification")
        assert "meta.json" in made.created_files
        assert "logging" in (await c.config.get()).to_dict()
        upd = await c.config.update("logging", {"level": "INFO"})
        assert upd.updated_section == "logging"

    run(live, body)


def test_errors(live) -> None:
    async def body(c: AsyncAutoScorerClient) -> None:
        with pytest.raises(ScorerNotFound):
            await c.scorers.get("nope")
        with pytest.raises(ResourceNotFound):
            await c.get_job_result("nope")

    run(live, body)
    with pytest.raises(Unauthorized):
        run(live, lambda c: c.list_jobs(), key="")
