"""Downloading a job's artifacts against the real server: sync and async SDK and the CLI.
Every download is compared byte for byte with the file the job published."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoscorer.cli.main import app
from autoscorer.client import (
    Artifact,
    AsyncAutoScorerClient,
    AutoScorerClient,
    ResourceNotFound,
    Unauthorized,
)

NAMES = {"confusion_matrix", "confusion_matrix_json", "per_class", "error_cases"}


def _finished_job(live, admin: AutoScorerClient, name: str) -> tuple[str, dict[str, Artifact]]:
    job = admin.submit_job(job_id=f"{name}-{uuid.uuid4().hex[:8]}", workspace_path=live.ws(name))
    assert job.status == "completed"
    res = admin.get_job_result(job.job_id, include_artifacts=True)
    assert res.result is not None and set(res.result.artifacts) == NAMES
    return job.job_id, res.result.artifacts


def test_sync_download_bytes_and_to_a_directory(live, admin: AutoScorerClient, tmp_path) -> None:
    job_id, listed = _finished_job(live, admin, "sdk-art")
    for name, entry in listed.items():
        on_disk = Path(entry.path).read_bytes()
        assert len(on_disk) == entry.size
        assert admin.download_artifact(job_id, name) == on_disk
        saved = admin.download_artifact(job_id, name, tmp_path)
        assert saved == tmp_path / Path(entry.path).name and saved.read_bytes() == on_disk
    png = admin.download_artifact(job_id, "confusion_matrix.png", tmp_path / "cm.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(ResourceNotFound):
        admin.download_artifact(job_id, "../meta.json", tmp_path)
    with pytest.raises(ResourceNotFound):
        admin.download_artifact(job_id, "nope")
    assert not (tmp_path / "nope").exists()
    with AutoScorerClient(live.url, api_key="wrong") as stranger, pytest.raises(Unauthorized):
        stranger.download_artifact(job_id, "per_class")


def test_async_download(live, admin: AutoScorerClient, tmp_path) -> None:
    job_id, listed = _finished_job(live, admin, "sdk-art-async")

    async def body() -> None:
        async with AsyncAutoScorerClient(live.url, api_key=live.reader_key) as client:
            for name, entry in listed.items():
                on_disk = Path(entry.path).read_bytes()
                assert await client.download_artifact(job_id, name) == on_disk
                saved = await client.download_artifact(job_id, name, tmp_path)
                assert saved.read_bytes() == on_disk
            with pytest.raises(ResourceNotFound):
                await client.download_artifact(job_id, "nope")

    asyncio.run(body())


def test_cli_artifacts_downloads_every_artifact(live, admin: AutoScorerClient, tmp_path) -> None:
    job_id, listed = _finished_job(live, admin, "cli-art")
    env = {"AUTOSCORER_SERVER": live.url, "AUTOSCORER_API_KEY": live.reader_key}
    out = CliRunner().invoke(app, ["artifacts", job_id, "--out", str(tmp_path), "--json"], env=env)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["artifacts"]
    assert {r["name"] for r in rows} == NAMES
    for row in rows:
        entry = listed[row["name"]]
        assert Path(row["file"]).read_bytes() == Path(entry.path).read_bytes()
        assert row["size"] == entry.size and row["type"] == entry.type
    one = CliRunner().invoke(
        app, ["artifacts", job_id, "-o", str(tmp_path / "one"), "-n", "per_class"], env=env
    )
    assert one.exit_code == 0, one.output
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["per_class.csv"]
    bad = CliRunner().invoke(app, ["artifacts", job_id, "-n", "nope", "-o", str(tmp_path)], env=env)
    assert bad.exit_code == 2 and "RESOURCE_NOT_FOUND" in bad.output
