"""CLI remote mode: drive an AutoScorer server through the Python SDK.

``autoscorer submit|status|result|logs|cancel|jobs --server URL [--api-key KEY]``;
``--server`` defaults to ``$AUTOSCORER_SERVER``, ``--api-key`` to ``$AUTOSCORER_API_KEY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from autoscorer.cli.common import (
    console,
    err_console,
    escape,
    one_line,
    parse_json_option,
    print_json,
    table,
)
from autoscorer.errors import InvalidParameter

if TYPE_CHECKING:  # the SDK (httpx, pydantic models) loads only when a remote command runs
    from autoscorer.client import AutoScorerClient, JobStatus, LogEntry, Response, ResultData

DEFAULT_BASE_URL = "http://localhost:8000"  # the SDK's default too

ServerOpt = typer.Option(
    DEFAULT_BASE_URL, "--server", envvar="AUTOSCORER_SERVER", help="Base URL of the API."
)
ApiKeyOpt = typer.Option(None, "--api-key", envvar="AUTOSCORER_API_KEY", help="API key.")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")


@contextmanager
def _remote(server: str, api_key: str | None, as_json: bool) -> Iterator[AutoScorerClient]:
    """A client for the command; any SDK error becomes one line and a non-zero exit."""
    from autoscorer.client import AutoScorerClient, AutoScorerClientError

    try:
        with AutoScorerClient(server, api_key=api_key) as client:
            yield client
    except (AutoScorerClientError, InvalidParameter) as exc:
        _fail(exc, as_json)


def _fail(exc: Exception, as_json: bool) -> None:
    code = getattr(exc, "code", "CLIENT_ERROR")
    message = getattr(exc, "message", str(exc))
    if as_json:
        error = {
            "code": code,
            "message": message,
            "field": getattr(exc, "field", None),
            "details": getattr(exc, "details", {}),
        }
        print_json({"success": False, "error": error})
    else:
        err_console.print(
            f"[bold red]error[/] [{code}] {escape(one_line(str(message)))}",
            highlight=False,
            soft_wrap=True,
        )
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    if status is None and code == "INVALID_PARAMETER":
        status = 400  # refused client-side, before sending
    raise typer.Exit(code=2 if status is not None and status < 500 else 1)


def _params(values: list[str]) -> dict[str, Any]:
    """``name=value`` pairs; a value that parses as JSON (1, true, [..]) keeps its type."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"--param {item!r} must look like name=value", field="param")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _print_result(job_id: str, status: str | None, result: ResultData | None) -> None:
    summary = result.summary if result else None
    rows: list[tuple[str, Any]] = [("job", job_id), ("status", status)]
    if summary is not None:
        rows += [("score", summary.score), ("rank", summary.rank), ("pass", summary.pass_)]
        rows += [("message", summary.message)]
    if result is not None and result.error is not None:
        rows.append(("error", f"[{result.error.code}] {result.error.message}"))
    console.print(table("Result", ["field", "value"], rows))
    if result is not None and result.metrics:
        scalars = [(k, v) for k, v in result.metrics.items() if not isinstance(v, dict | list)]
        console.print(table("Metrics", ["metric", "value"], scalars))


def _wait_with_progress(client: AutoScorerClient, job_id: str, timeout: float) -> Response:
    """Wait for the job while drawing its progress on stderr (so stdout stays clean)."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err_console.get(), transient=True) as bar:
        task = bar.add_task(job_id, total=1.0)

        def show(s: JobStatus) -> None:
            bar.update(task, completed=s.progress or 0.0, description=f"{job_id} {s.status}")

        return client.wait_for_completion(job_id, timeout=timeout, on_status=show)


def submit(
    workspace_path: str = typer.Argument(..., help="Workspace path as the server sees it."),
    scorer: str = typer.Option(None, "--scorer", help="Scorer (default: meta.json's)."),
    task_type: str = typer.Option(None, "--task-type"),
    job_id: str = typer.Option(None, "--job-id", help="Id to use (makes retries safe)."),
    executor: str = typer.Option(None, "--executor", help="docker | kubernetes | local | auto"),
    param: list[str] = typer.Option([], "--param", "-p", help="Scorer parameter name=value."),
    config: str = typer.Option(None, "--config", help="JSON object overriding meta.json."),
    wait: bool = typer.Option(False, "--wait", help="Wait for the result (live progress bar)."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds --wait waits at most."),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Submit a job (asynchronously); with --wait, wait for and print its result."""
    with _remote(server, api_key, as_json) as client:
        overrides = parse_json_option(config, "--config")
        if param:
            overrides["scorer_params"] = {**overrides.get("scorer_params", {}), **_params(param)}
        job = client.submit_job(
            job_id=job_id,
            task_type=task_type,
            scorer=scorer,
            workspace_path=workspace_path,
            executor=executor,
            config=overrides or None,
            async_=True,
        )
        if not wait:
            if as_json:
                print_json(job.to_dict())
            else:
                console.print(f"submitted [bold]{job.job_id}[/] ({job.status})")
            return
        if as_json:
            outcome = client.wait_for_completion(job.job_id, timeout=timeout)
            print_json(outcome.to_dict())
        else:
            outcome = _wait_with_progress(client, job.job_id, timeout)
            data = outcome.data
            _print_result(job.job_id, data.status if data else None, data.result if data else None)
        if not outcome.success:
            raise typer.Exit(code=1)


def status(
    job_id: str = typer.Argument(...),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show a job's state and progress."""
    with _remote(server, api_key, as_json) as client:
        st = client.get_job_status(job_id)
        if as_json:
            print_json(st.to_dict())
            return
        progress = None if st.progress is None else f"{st.progress:.0%}"
        rows = [
            ("job", st.job_id),
            ("status", st.status),
            ("progress", progress),
            ("created", st.created_at),
            ("started", st.started_at),
            ("completed", st.completed_at),
            ("executor", st.executor),
        ]
        if st.error is not None:
            rows.append(("error", f"[{st.error.code}] {st.error.message}"))
        console.print(table("Job status", ["field", "value"], rows))


def result(
    job_id: str = typer.Argument(...),
    include_logs: bool = typer.Option(False, "--logs", help="Include the job's logs."),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Show a finished job's summary and metrics."""
    with _remote(server, api_key, as_json) as client:
        res = client.get_job_result(job_id, include_logs=include_logs or None)
        if as_json:
            print_json(res.to_dict())
            return
        _print_result(res.job_id, res.status, res.result)
        for entry in res.logs or []:
            _print_entry(entry)


def _print_entry(entry: LogEntry) -> None:
    where = f" {entry.component}" if entry.component else ""
    console.print(
        f"[{entry.timestamp}] {entry.level}{where}: {entry.message}", highlight=False, markup=False
    )


def logs(
    job_id: str = typer.Argument(...),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the job ends."),
    level: str = typer.Option(None, "--level", help="debug | info | warning | error"),
    tail: int = typer.Option(None, "--tail", help="Only the last N lines."),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Print a job's logs; --follow streams them until the job ends."""
    with _remote(server, api_key, as_json) as client:
        if follow:
            entries: Iterator[LogEntry] = client.stream_logs(job_id, level=level)
        else:
            entries = iter(client.get_job_logs(job_id, level=level, tail=tail).logs)
        for entry in entries:
            if as_json:  # one JSON object per line, so a pipe can read as it arrives
                console.print_json(data=entry.to_dict(), indent=None)
            else:
                _print_entry(entry)


def cancel(
    job_ids: list[str] = typer.Argument(..., help="One or more job ids."),
    reason: str = typer.Option(None, "--reason"),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Cancel queued or running jobs."""
    with _remote(server, api_key, as_json) as client:
        if len(job_ids) == 1 and reason is None:
            done = client.cancel_job(job_ids[0])
            rows: list[tuple[Any, ...]] = [(done.job_id, done.status, done.cancelled_at, "")]
            payload: dict[str, Any] = done.to_dict()
        else:
            batch = client.cancel_batch(job_ids, reason=reason)
            rows = [(c.job_id, c.status, c.cancelled_at, "") for c in batch.cancelled_jobs]
            rows += [
                (f.get("job_id"), "not cancelled", "", f.get("reason") or f.get("error"))
                for f in batch.failed_cancellations
            ]
            payload = batch.to_dict()
        if as_json:
            print_json(payload)
        else:
            console.print(table("Cancelled", ["job", "status", "at", "why not"], rows))


def jobs(
    status_: str = typer.Option(None, "--status", help="submitted|running|completed|failed|..."),
    scorer: str = typer.Option(None, "--scorer"),
    task_type: str = typer.Option(None, "--task-type"),
    limit: int = typer.Option(50, "--limit", help="Page size (with --all: per request)."),
    offset: int = typer.Option(0, "--offset"),
    all_pages: bool = typer.Option(False, "--all", help="Fetch every page."),
    server: str = ServerOpt,
    api_key: str | None = ApiKeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List jobs (newest first)."""
    with _remote(server, api_key, as_json) as client:
        filters: dict[str, Any] = dict(status=status_, scorer=scorer, task_type=task_type)
        if all_pages:
            found = list(client.iter_jobs(page_size=limit, offset=offset, **filters))
            total = len(found)
        else:
            page = client.list_jobs(limit=limit, offset=offset, **filters)
            found, total = page.jobs, page.pagination.total or len(page.jobs)
        if as_json:
            print_json({"jobs": [j.to_dict() for j in found], "total": total})
            return
        rows = [
            (j.job_id, j.status, j.scorer, _num(j.score), (j.created_at or "")[:19]) for j in found
        ]
        title = f"Jobs ({len(found)} of {total})"
        console.print(table(title, ["job", "status", "scorer", "score", "created"], rows))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def register(app: typer.Typer) -> None:
    """Add the remote job commands to ``app``."""
    for fn in (submit, status, result, logs, cancel, jobs):
        app.command(fn.__name__)(fn)
