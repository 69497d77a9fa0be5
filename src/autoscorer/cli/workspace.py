"""CLI: ``validate``, ``init-workspace`` and ``score``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from autoscorer.cli.common import (
    JsonOpt,
    console,
    escape,
    handle_errors,
    parse_json_option,
    print_json,
    say_line,
)


def validate_cmd(
    workspace: Path = typer.Argument(..., help="Workspace directory."),
    task_type: str | None = typer.Option(None, help="Expected task type."),
    scorer: str | None = typer.Option(None, help="Scorer to check the data against."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    auto_fix: bool = typer.Option(
        False, "--auto-fix", help="Create missing folders and fill missing meta.json defaults."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Check a workspace's layout, meta.json and data files."""
    from autoscorer.pipeline.validate import validate

    with handle_errors(as_json):
        report = validate(
            workspace, task_type=task_type, scorer=scorer, strict=strict, auto_fix=auto_fix
        )
    if as_json:
        print_json(report)
    else:
        _print_report(report)
    if report["validation_status"] != "valid":
        raise typer.Exit(code=2)


def _print_report(report: dict[str, Any]) -> None:
    ok = report["validation_status"] == "valid"
    console.print(
        f"[bold]{report['workspace_path']}[/]: {'[green]valid' if ok else '[red]invalid'}"
    )
    for name, check in report["checks"].items():
        console.print(f"  {name:<14} {check['status']}")
    for label, style in (("errors", "red"), ("warnings", "yellow"), ("suggestions", "cyan")):
        for line in report.get(label, []):
            console.print(f"  [{style}]{label[:-1]}[/]: {escape(line)}", highlight=False)


def init_cmd(
    workspace: Path = typer.Argument(..., help="Directory to create."),
    template: str = typer.Option(
        "classification", help="classification|regression|detection|segmentation"
    ),
    job_id: str | None = typer.Option(None, help="job_id written into meta.json."),
    task_type: str | None = typer.Option(None, help="task_type written into meta.json."),
    scorer: str | None = typer.Option(None, help="Scorer written into meta.json."),
    config: str | None = typer.Option(None, help="JSON object merged into meta.json."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing meta.json."),
    as_json: bool = JsonOpt,
) -> None:
    """Create the standard workspace layout from a template."""
    from autoscorer.workspace.templates import init_workspace

    with handle_errors(as_json):
        report = init_workspace(
            workspace,
            template=template,
            job_id=job_id,
            task_type=task_type,
            scorer=scorer,
            config=parse_json_option(config, "--config"),
            overwrite=overwrite,
        )
    if as_json:
        print_json(report)
        return
    console.print(f"created [bold]{escape(report['workspace_path'])}[/] from template '{template}'")
    for step in report["next_steps"]:
        console.print(f"  - {escape(step)}", highlight=False)


def score_cmd(
    workspaces: list[Path] = typer.Argument(..., help="One or more workspace directories."),
    scorer: str | None = typer.Option(None, "--scorer", "-s", help="Override meta.json's scorer."),
    scorer_params: str | None = typer.Option(
        None, "--scorer-params", help="JSON object of params."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Also write results here (JSON)."
    ),
    no_artifacts: bool = typer.Option(False, "--no-artifacts", help="Skip plots and tables."),
    jobs: int = typer.Option(
        0, "--jobs", "-j", min=0, help="Processes for many workspaces [default: 0, one per core]."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Score predictions in each workspace and write output/result.json."""
    from autoscorer.pipeline.batch import score_many

    with handle_errors(as_json):
        params = parse_json_option(scorer_params, "--scorer-params")
    outcomes = score_many(
        [str(ws) for ws in workspaces],
        scorer,
        params,
        write_artifacts=not no_artifacts,
        jobs=jobs,
    )
    results: dict[str, Any] = {}
    with _progress(len(workspaces), quiet=as_json) as advance:
        for outcome in outcomes:
            results[outcome.workspace] = outcome.to_json()
            advance(outcome.workspace)
    _emit(results, as_json, output)
    if any(not entry["success"] for entry in results.values()):
        raise typer.Exit(code=2)


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A progress bar for two or more workspaces (rich loads only then)."""
    if quiet or total < 2 or not sys.stdout.isatty():
        yield lambda _ws: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console.get(), transient=True) as progress:
        task = progress.add_task("scoring", total=total)

        def advance(ws: str) -> None:
            progress.update(task, description=f"scored {ws}", advance=1)

        yield advance


def _emit(results: dict[str, Any], as_json: bool, output: Path | None) -> None:
    import json

    if output is not None:
        output.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    if as_json:
        print_json(results if len(results) > 1 else next(iter(results.values())))
        return
    for ws, entry in results.items():
        say_line(*_line(ws, entry))


def _line(ws: str, entry: dict[str, Any]) -> tuple[bool, str]:
    if entry["success"]:
        s = entry["result"]["summary"]
        metric = entry["result"]["versioning"]["scorer"]
        return True, f"{ws}: score={s['score']:.6g} rank={s['rank']} pass={s['pass']} ({metric})"
    e = entry["error"]
    return False, f"{ws}: [{e['code']}] {e['message']}"


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_cmd)
    app.command("init-workspace")(init_cmd)
    app.command("score")(score_cmd)
