"""CLI: ``run`` (inference only) and ``pipeline`` (inference, then scoring).

Both take the executor and limit options; ``--dry-run`` prints what would be
created (container options, bwrap command line or Kubernetes manifests)
without running anything. Ctrl-C or SIGTERM cancels the run cleanly: the
sandbox is stopped and removed, and the error is CANCELLED.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from autoscorer.cli.common import (
    JsonOpt,
    console,
    fail,
    handle_errors,
    parse_json_option,
    print_json,
)
from autoscorer.errors import AutoScorerError, InvalidParameter, from_dict

if TYPE_CHECKING:
    from autoscorer.executors import Executor, RunOutcome
    from autoscorer.pipeline.run import CancelToken, PipelineRequest

ExecutorOpt = typer.Option("auto", "--executor", "-e", help="auto | docker | local | kubernetes")
ExecutorConfigOpt = typer.Option(
    None, "--executor-config", help='JSON options of the executor, e.g. \'{"user": "1000:1000"}\''
)
TimeoutOpt = typer.Option(None, "--timeout", help="Time limit of inference in seconds.")
CpuOpt = typer.Option(None, "--cpu", help="CPU cores (fractional allowed).")
MemoryOpt = typer.Option(None, "--memory", help="Memory limit, e.g. 512Mi or 4Gi.")
GpusOpt = typer.Option(None, "--gpus", help="Number of GPUs.")
EnvOpt = typer.Option(None, "--env", help="KEY=VALUE added to the container env (repeatable).")
KeepOpt = typer.Option(False, "--keep-container", help="Do not remove the container afterwards.")
DryRunOpt = typer.Option(False, "--dry-run", help="Print the sandbox spec; run nothing.")


def parse_env(pairs: list[str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"--env expects KEY=VALUE, got {pair!r}", field="env")
        env[key] = value
    return env


def build_overrides(
    timeout: float | None,
    cpu: float | None,
    memory: str | None,
    gpus: int | None,
    env: list[str] | None,
    keep: bool,
) -> dict[str, Any]:
    """The API's ``config`` object from the CLI options (only what was given)."""
    resources = {
        k: v for k, v in (("cpu", cpu), ("memory", memory), ("gpus", gpus)) if v is not None
    }
    overrides: dict[str, Any] = {"keep_container": keep}
    if timeout is not None:
        overrides["time_limit"] = timeout
    if resources:
        overrides["resources"] = resources
    if env:
        overrides["env"] = parse_env(env)
    return overrides


@contextmanager
def cancel_on_signals(token: CancelToken) -> Iterator[None]:
    """Ctrl-C and SIGTERM cancel the run (the sandbox is removed) instead of killing us."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: token.cancel("interrupted from the command line"))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def spinner(quiet: bool) -> Iterator[Callable[[str, float], None]]:
    """A live spinner with the current stage and elapsed time; yields the progress callback."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    )
    with progress:
        task = progress.add_task("validating", total=None)

        def update(stage: str, value: float) -> None:
            progress.update(task, description=f"{stage} ({value:.0%})")

        yield update


def _make_executor(request: PipelineRequest, config: str | None) -> Executor:
    from autoscorer.executors.factory import make_executor

    overrides = parse_json_option(config, "--executor-config")
    return make_executor(request.executor, None, **overrides)


def _dry_run(request: PipelineRequest, executor: Executor, scorer: str | None) -> None:
    from autoscorer.errors import MissingParameter
    from autoscorer.pipeline.plan import JobPlan, plan_job
    from autoscorer.pipeline.run import inference_spec

    plan: JobPlan | None = None
    try:
        plan = plan_job(
            request.workspace, scorer=scorer, overrides=request.overrides, job_id=request.job_id
        )
    except MissingParameter:  # no scorer anywhere: the spec expects pred.csv or pred.json
        plan = None
    print_json(executor.describe(inference_spec(request, plan)))


def _say_outcome(outcome: RunOutcome) -> None:
    mem = outcome.to_run_info()["peak_memory"] or "n/a"
    cpu = "n/a" if outcome.peak_cpu is None else f"{outcome.peak_cpu:.2f} cores"
    console.print(
        f"[green]✓[/] inference finished in {outcome.duration:.2f} s (exit {outcome.exit_code}) "
        f"→ {outcome.prediction} · peak {mem}, {cpu}",
        highlight=False,
    )


def run_cmd(
    workspace: Path = typer.Argument(..., help="Workspace directory with meta.json."),
    executor: str = ExecutorOpt,
    executor_config: str | None = ExecutorConfigOpt,
    timeout: float | None = TimeoutOpt,
    cpu: float | None = CpuOpt,
    memory: str | None = MemoryOpt,
    gpus: int | None = GpusOpt,
    env: list[str] | None = EnvOpt,
    keep_container: bool = KeepOpt,
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run the submission's inference in a sandbox (no scoring)."""
    from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_inference

    with handle_errors(as_json):
        overrides = build_overrides(timeout, cpu, memory, gpus, env, keep_container)
        request = PipelineRequest(str(workspace), executor=executor, overrides=overrides)
        ex = _make_executor(request, executor_config)
        if dry_run:
            _dry_run(request, ex, None)
            return
        token = CancelToken()
        with ex, cancel_on_signals(token), spinner(as_json) as progress:
            outcome = run_inference(request, on_progress=progress, cancel=token, executor=ex)
    if as_json:
        print_json({"success": outcome.ok, "run_info": outcome.to_run_info()})
    if outcome.error is not None:
        _stop(outcome.error, as_json)
    if not as_json:
        _say_outcome(outcome)


def _stop(error: AutoScorerError, as_json: bool) -> None:
    """One error line (unless the JSON document was printed) and a non-zero exit."""
    if not as_json:
        fail(error, as_json=False)
    raise typer.Exit(code=2 if error.http_status < 500 else 1)


def _say_result(workspace: Path, data: dict[str, Any]) -> None:
    s, t = data["summary"], data["timing"]
    score = "n/a" if s["score"] is None else f"{s['score']:.6g}"
    console.print(
        f"[green]✓[/] {workspace}: score={score} rank={s['rank']} pass={s['pass']} "
        f"({data['versioning']['scorer']}) · inference {t['inference_time']:.2f} s · "
        f"scoring {t['scoring_time']:.2f} s · total {t['total_time']:.2f} s",
        highlight=False,
    )


def pipeline_cmd(
    workspace: Path = typer.Argument(..., help="Workspace directory with meta.json."),
    scorer: str | None = typer.Option(None, "--scorer", "-s", help="Override meta.json's scorer."),
    scorer_params: str | None = typer.Option(None, "--scorer-params", help="JSON object."),
    executor: str = ExecutorOpt,
    executor_config: str | None = ExecutorConfigOpt,
    timeout: float | None = TimeoutOpt,
    cpu: float | None = CpuOpt,
    memory: str | None = MemoryOpt,
    gpus: int | None = GpusOpt,
    env: list[str] | None = EnvOpt,
    keep_container: bool = KeepOpt,
    no_artifacts: bool = typer.Option(False, "--no-artifacts", help="Skip plots and tables."),
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run inference (when meta.json has a container) and score: output/result.json."""
    from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_pipeline

    with handle_errors(as_json):
        overrides = build_overrides(timeout, cpu, memory, gpus, env, keep_container)
        request = PipelineRequest(
            str(workspace),
            scorer=scorer,
            params=parse_json_option(scorer_params, "--scorer-params"),
            executor=executor,
            overrides=overrides,
            write_artifacts=not no_artifacts,
        )
        ex = _make_executor(request, executor_config)
        if dry_run:
            _dry_run(request, ex, scorer)
            return
        token = CancelToken()
        with ex, cancel_on_signals(token), spinner(as_json) as progress:
            result = run_pipeline(request, on_progress=progress, cancel=token, executor=ex)
    data = result.to_json_dict()
    if as_json:
        print_json({"success": result.error is None, "result": data})
    if result.error is not None:
        _stop(from_dict(result.error.model_dump()), as_json)
    if not as_json:
        _say_result(workspace, data)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``pipeline`` to ``app``."""
    app.command("run")(run_cmd)
    app.command("pipeline")(pipeline_cmd)
