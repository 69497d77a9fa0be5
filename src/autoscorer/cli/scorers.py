"""CLI: ``autoscorer scorers list|describe|test|load|reload``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from autoscorer.cli.common import (
    JsonOpt,
    console,
    handle_errors,
    parse_json_option,
    print_json,
    table,
)
from autoscorer.cli.common import escape as esc

if TYPE_CHECKING:
    from autoscorer.scorers.registry import Registry

scorers_app = typer.Typer(
    name="scorers",
    help="List, inspect, try and load scorers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def ensure_builtins() -> Registry:
    """The registry with the built-ins, imported when a command needs it (fast start-up)."""
    from autoscorer.scorers.registry import ensure_builtins as load

    return load()


def say(markup: str) -> None:
    """Print one line of rich markup; user text in it must be passed through ``esc``."""
    console.print(markup, highlight=False, soft_wrap=True)


def scorer_info(name: str, *, include_examples: bool) -> dict[str, Any]:
    """A scorer's metadata plus when and from where it was registered."""
    registry = ensure_builtins()
    info = registry.info(name)
    data = registry.get(name).describe(include_examples=include_examples)
    return {**data, "created_at": info["registered_at"], "source": info["source"]}


def list_infos(task_type: str | None) -> list[dict[str, Any]]:
    infos = [scorer_info(n, include_examples=False) for n in ensure_builtins().names()]
    return [i for i in infos if task_type is None or i["task_type"] == task_type]


@scorers_app.command("list")
def list_cmd(
    task_type: str | None = typer.Option(None, "--task-type", help="Only this task type."),
    as_json: bool = JsonOpt,
) -> None:
    """List the registered scorers."""
    with handle_errors(as_json):
        infos = list_infos(task_type)
    if as_json:
        print_json(infos)
        return
    rows = [
        (
            i["name"],
            i["version"],
            i["task_type"],
            f"{i['output_format']['primary_metric']} "
            f"{'↑' if i['output_format']['higher_is_better'] else '↓'}",
            i["source"],
        )
        for i in infos
    ]
    columns = ("name", "version", "task", "primary", "source")
    t = table("Scorers", columns, rows)
    t.columns[0].no_wrap = True  # names are what users copy; never break them
    console.print(t)


@scorers_app.command("describe")
def describe_cmd(
    name: str = typer.Argument(..., help="Scorer name."),
    as_json: bool = JsonOpt,
) -> None:
    """Show a scorer's parameters, input and output format and examples."""
    with handle_errors(as_json):
        info = scorer_info(name, include_examples=True)
    if as_json:
        print_json(info)
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    out, inp = info["output_format"], info["input_format"]
    direction = "higher is better" if out["higher_is_better"] else "lower is better"
    say(f"[bold]{esc(info['name'])}[/] {esc(info['version'])} ({esc(info['task_type'])})")
    say(esc(info["description"]))
    columns = ", ".join(inp["required_columns"])
    say(esc(f"gt: {inp['gt_file']}  pred: {inp['pred_file']}  columns: {columns}"))
    also = ", ".join(out["additional_metrics"]) or "-"
    say(esc(f"primary metric: {out['primary_metric']} ({direction}); also: {also}"))
    rows = [
        (
            k,
            p["type"],
            repr(p["default"]),
            ", ".join(map(str, p.get("choices") or [])),
            "yes" if p["required"] else "",
            p["description"],
        )
        for k, p in info["parameters"].items()
    ]
    if rows:
        cols = ("parameter", "type", "default", "choices", "required", "description")
        console.print(table("Parameters", cols, rows))
    for ex in info.get("examples", []):
        say(esc(f"example: {ex.get('name', '')}: {ex.get('parameters', {})}"))
    say(esc(f"source: {info['source']}"))


@scorers_app.command("test")
def test_cmd(
    name: str = typer.Argument(..., help="Scorer name."),
    workspace: Path = typer.Argument(..., help="Workspace to try it on."),
    params: str | None = typer.Option(None, "--params", help="JSON object of parameters."),
    validate_only: bool = typer.Option(False, "--validate-only", help="Check, do not score."),
    as_json: bool = JsonOpt,
) -> None:
    """Try a scorer on a workspace without writing result.json."""
    from autoscorer.pipeline.trial import run_scorer_test

    with handle_errors(as_json):
        parsed = parse_json_option(params, "--params")
        report = run_scorer_test(name, workspace, params=parsed, validate_only=validate_only)
    if as_json:
        print_json(report)
    else:
        _print_test(report)
    if report["test_status"] != "passed":
        raise typer.Exit(code=2)


def _print_test(r: dict[str, Any]) -> None:
    ok = r["test_status"] == "passed"
    status = "[green]passed[/]" if ok else "[red]failed[/]"
    say(f"{esc(r['scorer'])}: {status} in {r['execution_time']:.3f}s")
    for key, value in r["validation"].items():
        say(f"  {key:<18} {'yes' if value else '[red]no[/]'}")
    if r.get("result"):
        s = r["result"]["summary"]
        say(esc(f"  score={s['score']} rank={s['rank']} pass={s['pass']}"))
    if r.get("performance"):
        p = r["performance"]
        say(f"  memory {p['memory_usage']}, cpu {p['cpu_time']:.3f}s")
    for line in r.get("errors", []):
        say(f"  [red]error[/]: {esc(line)}")
    if r.get("error"):
        e = r["error"]
        code = esc(f"[{e['code']}]")
        say(f"  [red]error[/] {code} {esc(e['message'])}")


@scorers_app.command("load")
def load_cmd(
    file: Path = typer.Argument(..., help="Python file defining @register_scorer classes."),
    watch: bool = typer.Option(False, "--watch", help="Keep running; reload on every change."),
    interval: float = typer.Option(1.0, "--interval", help="Watch check interval (s)."),
    watch_seconds: float | None = typer.Option(
        None, "--watch-seconds", help="Stop watching after this many seconds (default: Ctrl-C)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Load scorers from a file into this process (checks the file; --watch hot-reloads it).

    A running server loads files through POST /api/v1/scorers/load instead.
    """
    from autoscorer.scorers.watcher import Watcher, load_and_watch

    watcher = Watcher(on_event=lambda event: _print_event(event, as_json))
    with handle_errors(as_json):
        data = load_and_watch(file, auto_watch=watch, check_interval=interval, watcher=watcher)
    if as_json:
        print_json(data)
    else:
        for s in data["loaded_scorers"]:
            say(f"loaded [bold]{esc(s['name'])}[/] {esc(s['version'])} from {esc(s['file_path'])}")
    if watch:
        _watch_until_stopped(watcher, watch_seconds, as_json)


def _print_event(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(event)
    elif event["event"] == "reloaded":
        for s in event["scorers"]:
            say(esc(f"reloaded {s['name']}: {s['old_version']} -> {s['new_version']}"))
    else:
        say(f"[red]reload failed[/] (old version kept): {esc(event['error']['message'])}")


def _watch_until_stopped(watcher: Any, seconds: float | None, as_json: bool) -> None:
    if not as_json:
        console.print("watching for changes; Ctrl-C to stop")
    try:
        threading.Event().wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop_all()


@scorers_app.command("reload")
def reload_cmd(
    file: Path = typer.Argument(..., help="Python file defining the scorers."),
    name: str | None = typer.Option(None, "--name", help="Reload only this scorer."),
    as_json: bool = JsonOpt,
) -> None:
    """Import a scorer file again and report the versions (old version is kept on failure)."""
    from autoscorer.scorers.loader import default_loader, reload_data

    with handle_errors(as_json):
        loader = default_loader()
        reloaded = loader.reload_file(file, scorer_name=name)
        live = {k: v for k, v in loader.versions(file).items() if name is None or k == name}
        data = reload_data(reloaded, live)
    if as_json:
        print_json(data)
        return
    for s in data["reloaded_scorers"]:
        say(esc(f"reloaded {s['name']}: {s['old_version']} -> {s['new_version']}"))
    for s in data["unchanged_scorers"]:
        say(esc(f"unchanged {s['name']} {s['version']}: the file's content is already loaded"))
    if not data["reloaded_scorers"] and not data["unchanged_scorers"]:
        say(esc(data["message"]))


def register(app: typer.Typer) -> None:
    """Add the ``scorers`` command group to ``app``."""
    app.add_typer(scorers_app, name="scorers")
