"""CLI: ``validate``, ``init-workspace`` and ``score``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from autoscorer.cli.common import JsonOpt, console, handle_errors, parse_json_option, print_json
from autoscorer.errors import AutoScorerError


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
    from autoscorer.workspace.validate import validate

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
    as_json: bool = JsonOpt,
) -> None:
    """Score predictions in each workspace and write output/result.json."""
    from autoscorer.pipeline.scoring import score as score_workspace

    with handle_errors(as_json):
        params = parse_json_option(scorer_params, "--scorer-params")
    results: dict[str, Any] = {}
    failed = 0
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=as_json or len(workspaces) < 2,
        transient=True,
    )
    with progress:
        task = progress.add_task("scoring", total=len(workspaces))
        for ws in workspaces:
            progress.update(task, description=f"scoring {ws}")
            try:
                res = score_workspace(ws, scorer, params, write_artifacts=not no_artifacts)
                results[str(ws)] = {"success": True, "result": res.to_json_dict()}
            except AutoScorerError as exc:
                failed += 1
                results[str(ws)] = {"success": False, "error": exc.to_dict()}
            progress.advance(task)
    _emit(results, as_json, output)
    if failed:
        raise typer.Exit(code=2)


def _emit(results: dict[str, Any], as_json: bool, output: Path | None) -> None:
    import json

    if output is not None:
        output.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    if as_json:
        print_json(results if len(results) > 1 else next(iter(results.values())))
        return
    for ws, entry in results.items():
        if entry["success"]:
            s = entry["result"]["summary"]
            metric = entry["result"]["versioning"]["scorer"]
            console.print(
                f"[green]✓[/] {ws}: score={s['score']:.6g} rank={s['rank']} "
                f"pass={s['pass']} ({metric})",
                highlight=False,
            )
        else:
            e = entry["error"]
            code = escape(f"[{e['code']}]")
            console.print(f"[red]✗[/] {escape(ws)}: {code} {escape(e['message'])}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_cmd)
    app.command("init-workspace")(init_cmd)
    app.command("score")(score_cmd)
