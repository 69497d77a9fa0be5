"""The injectable transport: the async client against the real app, in-process."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from autoscorer.client import AsyncAutoScorerClient, ScorerNotFound


def test_async_client_over_asgi_transport(tmp_path) -> None:
    from autoscorer.api.main import create_app
    from autoscorer.settings import Settings

    ws = tmp_path / "ws"
    (ws / "input").mkdir(parents=True)
    (ws / "output").mkdir()
    (ws / "meta.json").write_text('{"task_type": "classification", "scorer": "classification_f1"}')
    (ws / "input" / "gt.csv").write_text("id,label\n1,a\n2,b\n")
    (ws / "output" / "pred.csv").write_text("id,label\n1,a\n2,a\n")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        queue="inprocess",
        workspace_roots=[str(tmp_path)],
        scorer_roots=[str(tmp_path)],
    )
    app = create_app(settings)

    async def main() -> None:
        # ASGITransport does not run the lifespan; run it around the calls.
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with AsyncAutoScorerClient("http://testserver", transport=transport) as c:
                assert (await c.health()).status == "healthy"
                job = await c.submit_job(workspace_path=str(ws), async_=True)
                result = await c.wait_for_completion(job.job_id, timeout=30, poll_interval=0.05)
                assert result.success
                assert result.data.result.summary.score == pytest.approx(1 / 3)
                with pytest.raises(ScorerNotFound):
                    await c.scorers.get("nope")

    asyncio.run(main())
