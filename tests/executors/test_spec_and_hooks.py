"""RunSpec building, overrides, middleware hooks and the local executor's modes."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from exec_helpers import SOLVE, make_executor, python, write_workspace

from autoscorer.errors import InvalidParameter, WorkspaceInvalid
from autoscorer.executors.base import Middleware, Run, RunSpec
from autoscorer.executors.local import LocalExecutor, LocalSandbox, rlimit_args
from autoscorer.executors.middleware import _LogPump
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import apply_overrides, build_spec, safe_job_id
from autoscorer.workspace.layout import Workspace

WsFactory = Callable[..., Path]


def spec_of(root: Path) -> object:
    ws = Workspace.at(root)
    return build_spec(ws, ws.load_meta())


def test_ground_truth_is_not_mounted(workspace: WsFactory) -> None:
    root = workspace(["true"])
    (root / "input" / "gt.json").write_text("{}")
    (root / "input" / "images.txt").write_text("a\n")
    ws = Workspace.at(root)
    spec = build_spec(ws, ws.load_meta())
    targets = {m.target: m.read_only for m in spec.mounts}
    assert targets == {
        "/workspace/input/data": True,
        "/workspace/input/images.txt": True,
        "/workspace/output": False,
        "/workspace/logs": False,
    }
    exposed = build_spec(ws, ws.load_meta().model_copy(update={"expose_gt": True}))
    assert exposed.mounts[0].source == ws.input_dir and exposed.mounts[0].read_only


def test_overrides_merge_over_meta(workspace: WsFactory) -> None:
    meta = Workspace.at(workspace(["true"])).load_meta()
    merged = apply_overrides(
        meta, {"time_limit": 5, "resources": {"memory": "1Gi", "gpus": 0}, "env": {"A": "1"}}
    )
    assert merged.time_limit == 5 and merged.resources.memory == "1Gi"
    assert merged.resources.cpu == 1 and merged.resources.pids == 64  # untouched
    assert merged.container is not None and merged.container.env == {"A": "1"}
    with pytest.raises(InvalidParameter, match=r"config\.time_limit"):
        apply_overrides(meta, {"time_limit": -1})


def test_spec_needs_a_container(workspace: WsFactory) -> None:
    ws = Workspace.at(workspace(None))
    with pytest.raises(WorkspaceInvalid, match="no 'container' section"):
        build_spec(ws, ws.load_meta())


def test_job_ids_are_made_safe() -> None:
    ws = Workspace.at("/tmp/some ws")
    assert safe_job_id("team a/run #1", ws) == "team-a-run-1"
    assert safe_job_id(None, ws) == "some-ws"


def test_log_pump_truncates_but_keeps_the_tail(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT)
    pump = _LogPump(fd, max_bytes=100, tail_bytes=64)
    for i in range(50):
        pump.feed(f"line {i}\n".encode())
    os.close(fd)
    text = (tmp_path / "log").read_text()
    assert text.startswith("line 0\n") and "log truncated at the size limit" in text
    assert text.index("\n[autoscorer") == 100  # exactly max_bytes of output kept
    assert pump.tail_text(2) == "line 48\nline 49"


class Recorder(Middleware):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def before_run(self, run: Run) -> None:
        self.calls.append("before_run")

    def after_start(self, run: Run) -> None:
        self.calls.append("after_start")

    def on_tick(self, run: Run) -> None:
        if self.calls[-1] != "on_tick":
            self.calls.append("on_tick")

    def after_stop(self, run: Run) -> None:
        self.calls.append("after_stop")

    def after_run(self, run: Run, outcome: RunOutcome) -> None:
        self.calls.append(f"after_run:{outcome.exit_code}")


def test_middleware_hooks_run_in_order(workspace: WsFactory) -> None:
    from autoscorer.executors.middleware import default_middleware

    rec = Recorder()
    ex = make_executor("local", middleware=[*default_middleware(), rec])
    root = workspace(python("import time; time.sleep(0.3)\n" + SOLVE))
    outcome = ex.run(spec_of(root))  # type: ignore[arg-type]
    assert outcome.ok
    assert rec.calls == ["before_run", "after_start", "on_tick", "after_stop", "after_run:0"]


def test_without_middleware_nothing_is_captured(workspace: WsFactory) -> None:
    ex = make_executor("local", middleware=[])
    root = workspace(python("print('x' * 100000)\n" + SOLVE))
    outcome = ex.run(spec_of(root))  # type: ignore[arg-type]
    assert outcome.ok
    assert not (root / "logs" / "run_info.json").exists()
    assert not (root / "logs" / "container.log").exists()


def test_rlimits_follow_the_spec(workspace: WsFactory) -> None:
    root = workspace(["true"], time_limit=10, resources={"memory": "100Mi", "cpu": 2, "pids": 7})
    args = rlimit_args(spec_of(root), 2.0, 1 << 30)  # type: ignore[arg-type]
    assert args == [
        f"--as={200 * 1024**2 + 256 * 1024**2}",
        "--cpu=25",
        "--nproc=7",
        f"--fsize={1 << 30}",
        "--core=0",
        "--nofile=1024",
    ]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A workspace parent the unprivileged run user can traverse (no-sandbox mode)."""
    path = Path(tempfile.mkdtemp(prefix="autoscorer-test-"))
    path.chmod(0o755)
    yield path
    import shutil

    shutil.rmtree(path)


def test_local_without_sandbox_still_runs_with_limits(open_dir: Path) -> None:
    ex = LocalExecutor(sandbox="none")
    assert ex.health()["sandbox"] == "none"
    # without bwrap there is no /workspace: submissions use the AUTOSCORER_* variables
    solve = SOLVE.replace("'/workspace/input", "os.environ['AUTOSCORER_INPUT'] + '")
    ok = write_workspace(open_dir / "ok", python(solve))
    outcome = ex.run(spec_of(ok))  # type: ignore[arg-type]
    assert outcome.ok, (outcome.error, outcome.log_tail)
    slow = write_workspace(open_dir / "slow", python("import time; time.sleep(30)"), time_limit=0.5)
    outcome = ex.run(spec_of(slow))  # type: ignore[arg-type]
    assert outcome.error is not None and outcome.error.code == "TIMEOUT_ERROR"
    info = json.loads((slow / "logs" / "run_info.json").read_text())
    assert info["executor"] == "local" and info["timed_out"] is True


def test_local_describe_shows_the_sandbox_command(workspace: WsFactory) -> None:
    desc = make_executor("local").describe(spec_of(workspace(["python3", "-V"])))
    argv = desc["argv"]
    assert argv[0].endswith("bwrap") and "--unshare-net" in argv
    assert argv[-2:] == ["python3", "-V"]
    assert ["--ro-bind", str(Path(desc["argv"][argv.index("--ro-bind") + 1]))] == argv[
        argv.index("--ro-bind") : argv.index("--ro-bind") + 2
    ]
    assert desc["user"] != "0:0"


def test_summary_line_prefers_the_error() -> None:
    from autoscorer.executors.outcome import summary_line

    # stderr's traceback can land before stdout's last line in the combined log
    tail = "Traceback (most recent call last):\n  File 'x'\nValueError: bad shape\nepoch 3 done\n"
    assert summary_line(tail) == "ValueError: bad shape"
    assert summary_line("step 1\nstep 2\n") == "step 2"
    assert summary_line("") == "(no output)"


class CancelledWhileStarting(LocalExecutor):
    """cancel() lands while start() runs: the run has no sandbox to kill yet."""

    def start(self, spec: RunSpec, run: Run) -> LocalSandbox:
        assert self.cancel(spec.job_id)
        return super().start(spec, run)


def test_cancel_during_start_kills_the_new_sandbox(workspace: WsFactory) -> None:
    import shutil
    import time

    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed")
    ex = CancelledWhileStarting(sandbox="bwrap")
    root = workspace(python("import time; time.sleep(30)"))
    t0 = time.monotonic()
    outcome = ex.run(spec_of(root))  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 5
    assert outcome.error is not None and outcome.error.code == "CANCELLED"


def test_cancel_before_start_runs_nothing(workspace: WsFactory) -> None:
    rec = Recorder()

    class CancelFirst(Middleware):
        def before_run(self, run: Run) -> None:
            run.stop("cancelled")

    ex = make_executor("local", middleware=[CancelFirst(), rec])
    outcome = ex.run(spec_of(workspace(python("import time; time.sleep(30)"))))  # type: ignore[arg-type]
    assert outcome.error is not None and outcome.error.code == "CANCELLED"
    assert outcome.sandbox_id is None
    assert rec.calls == ["before_run", "after_stop", "after_run:None"]


class SlowToReturn(LocalExecutor):
    """start() returns only after the command has already written its prediction (as
    ``docker start`` can for a trivial container)."""

    def start(self, spec: RunSpec, run: Run) -> LocalSandbox:
        import time

        sandbox = super().start(spec, run)
        pred = spec.workspace.output_dir / "pred.csv"
        deadline = time.monotonic() + 5
        while not pred.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        return sandbox


def test_prediction_written_before_start_returns_is_fresh(workspace: WsFactory) -> None:
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed")
    root = workspace(["sh", "-c", "echo id,label > /workspace/output/pred.csv"])
    outcome = SlowToReturn(sandbox="bwrap").run(spec_of(root))  # type: ignore[arg-type]
    assert outcome.ok, outcome.error
    assert outcome.prediction == "output/pred.csv"
