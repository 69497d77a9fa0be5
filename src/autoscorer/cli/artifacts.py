"""``autoscorer artifacts JOB [--out DIR] [--name NAME]``: download a finished job's artifacts
(confusion matrix, per-class tables, ...) from a server through the Python SDK."""

from __future__ import annotations

from pathlib import Path

import typer

from autoscorer.cli.common import console, print_json, table
from autoscorer.cli.jobs_remote import ApiKeyOpt, JsonOpt, ServerOpt, _remote


def artifacts(
    job_id: str = typer.Argument(...),
    out: Path = typer.Option(Path("."), "--out", "-o", help="Directory to write them to."),
    names: list[str] = typer.Option([], "--name", "-n", help="Only these artifacts."),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Download a finished job's artifacts into --out (default: the current directory)."""
    with _remote(server, api_key, as_json) as client:
        res = client.get_job_result(job_id, include_artifacts=True)
        listed = res.result.artifacts if res.result is not None else {}
        wanted = names or sorted(listed)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for name in wanted:
            path = client.download_artifact(job_id, name, out)
            entry = listed.get(name)
            rows.append((name, str(path), path.stat().st_size, entry.type if entry else None))
        if as_json:
            keys = ("name", "file", "size", "type")
            found = [dict(zip(keys, r, strict=True)) for r in rows]
            print_json({"job_id": job_id, "artifacts": found})
        elif rows:
            console.print(table(f"Artifacts of {job_id}", ["name", "file", "size", "type"], rows))
        else:
            console.print(f"job {job_id} has no artifacts")


def register(app: typer.Typer) -> None:
    app.command("artifacts")(artifacts)
