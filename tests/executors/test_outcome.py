"""executors.outcome on hand-built runs: which error a finished run gets, and its record.

No sandbox runs here: each test sets the fields a backend would have set on a
:class:`Run` and checks :func:`classify` (and its helpers) against known values.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from autoscorer.errors import Cancelled, ExitNonZero, InfrastructureFailure
from autoscorer.executors.base import Run, RunSpec, Sample, SandboxState
from autoscorer.executors.outcome import (
    RunOutcome,
    classify,
    find_prediction,
    remove_planted_links,
    summary_line,
)
from autoscorer.workspace.layout import Workspace

MiB = 1024 * 1024


def make_spec(root: Path, **over: Any) -> RunSpec:
    (root / "output").mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {
        "workspace": Workspace(root),
        "job_id": "job-1",
        "image": "img:1",
        "cmd": ["run"],
        "env": {},
        "working_dir": "/workspace",
        "mounts": [],
        "time_limit": 2.5,
        "cpu": 1.0,
        "memory_bytes": 256 * MiB,
    }
    return RunSpec(**(fields | over))


def make_run(
    root: Path, state: SandboxState | None = None, *, cancelled: bool = False, **spec: Any
) -> Run:
    token = SimpleNamespace(cancelled=cancelled)
    run = Run(make_spec(root, **spec), token, None)
    run.state = state
    run.log_tail = "starting\nValueError: bad input\nbye\n"
    return run


def write_pred(root: Path, name: str = "pred.csv") -> None:
    (root / "output" / name).write_text("id,label\n")


def error_of(outcome: RunOutcome) -> dict[str, Any]:
    assert outcome.error is not None
    return outcome.error.to_dict()


def test_a_clean_run_finds_its_prediction_and_copies_the_run(tmp_path: Path) -> None:
    state = SandboxState(exit_code=0, started_at="t0", finished_at="t1")
    run = make_run(tmp_path, state)
    write_pred(tmp_path)
    run.sandbox = SimpleNamespace(id="sb-9", image_digest="sha256:abc")  # type: ignore[assignment]
    run.started, run.ended = 10.0, 12.5
    run.peak_cpu, run.peak_memory, run.disk_io = 0.75, 3 * MiB, 4096
    run.last_sample = Sample(cpu=0.5, memory=MiB, disk_io=4096)
    run.extra["node"] = "n1"
    out = classify("docker", run)
    assert (out.ok, out.error, out.prediction) == (True, None, "output/pred.csv")
    assert (out.executor, out.job_id, out.image, out.exit_code) == ("docker", "job-1", "img:1", 0)
    assert (out.duration, out.started_at, out.finished_at) == (2.5, "t0", "t1")
    assert (out.sandbox_id, out.image_digest) == ("sb-9", "sha256:abc")
    assert (out.peak_cpu, out.peak_memory, out.disk_io) == (0.75, 3 * MiB, 4096)
    assert out.last_sample == Sample(cpu=0.5, memory=MiB, disk_io=4096)
    assert (out.oom_killed, out.timed_out, out.cancelled) == (False, False, False)
    assert out.log_tail == run.log_tail and out.extra == {"node": "n1"}
    assert out.extra is not run.extra


def test_without_a_sandbox_the_duration_is_zero(tmp_path: Path) -> None:
    run = make_run(tmp_path, None)
    write_pred(tmp_path)
    run.started, run.ended = 10.0, 12.5
    out = classify("local", run)
    assert (out.duration, out.sandbox_id, out.image_digest) == (0.0, None, None)
    assert out.exit_code is None
    assert (out.started_at, out.finished_at, out.prediction) == (None, None, "output/pred.csv")


@pytest.mark.parametrize("by_token", [False, True])
def test_cancelled_wins_over_everything_else(tmp_path: Path, by_token: bool) -> None:
    state = SandboxState(exit_code=137, oom_killed=True, deadline_exceeded=True)
    run = make_run(tmp_path, state, cancelled=by_token, disk_bytes=MiB)
    run.stop_reason = None if by_token else "cancelled"
    run.disk_full = True
    out = classify("docker", run)
    assert error_of(out) == {
        "code": "CANCELLED",
        "message": "run of job-1 was cancelled",
        "field": None,
        "details": {"exit_code": 137, "fault": "host"},
    }
    assert (out.cancelled, out.timed_out, out.oom_killed) == (True, False, False)


@pytest.mark.parametrize("by_deadline", [False, True])
def test_timeout_wins_over_oom(tmp_path: Path, by_deadline: bool) -> None:
    state = SandboxState(exit_code=137, oom_killed=True, deadline_exceeded=by_deadline)
    run = make_run(tmp_path, state)
    run.stop_reason = None if by_deadline else "timeout"
    out = classify("docker", run)
    assert error_of(out) == {
        "code": "TIMEOUT_ERROR",
        "message": "inference ran past its time limit of 2.5 s and was killed; "
        "speed it up or raise time_limit",
        "field": "time_limit",
        "details": {"time_limit": 2.5, "log_tail": run.log_tail, "fault": "participant"},
    }
    assert (out.cancelled, out.timed_out, out.oom_killed) == (False, True, False)


def test_oom_wins_over_the_disk_quota_and_the_exit_code(tmp_path: Path) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=137, oom_killed=True), disk_bytes=MiB)
    run.disk_full = True
    out = classify("docker", run)
    assert error_of(out) == {
        "code": "OOM_KILLED",
        "message": "inference used more than its memory limit of 256.0Mi and was killed; "
        "use less memory or raise resources.memory",
        "field": "resources.memory",
        "details": {
            "memory_limit": "256.0Mi",
            "exit_code": 137,
            "log_tail": run.log_tail,
            "fault": "participant",
        },
    }
    assert (out.cancelled, out.timed_out, out.oom_killed) == (False, False, True)


@pytest.mark.parametrize(
    "line", ["MemoryError", "Cannot allocate memory", "std::bad_alloc", "CUDA out of memory"]
)
def test_an_allocation_failure_in_the_log_is_an_oom(tmp_path: Path, line: str) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=1))
    run.log_tail = f"loading\n{line}\n"
    out = classify("local", run)
    assert error_of(out)["code"] == "OOM_KILLED" and out.oom_killed is True


@pytest.mark.parametrize("code", [0, None])
def test_an_allocation_message_without_a_failing_exit_is_not_an_oom(
    tmp_path: Path, code: int | None
) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=code))
    run.log_tail = "MemoryError caught and handled\n"
    write_pred(tmp_path)
    out = classify("local", run)
    assert (out.error, out.oom_killed, out.prediction) == (None, False, "output/pred.csv")


def test_disk_quota_wins_over_the_exit_code(tmp_path: Path) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=1), disk_bytes=2 * MiB)
    run.disk_full = True
    assert error_of(classify("local", run)) == {
        "code": "DISK_QUOTA_EXCEEDED",
        "message": "inference wrote more than its disk quota of 2.0Mi into output/ and logs/; "
        "writes past it failed; write less or raise resources.disk",
        "field": "resources.disk",
        "details": {
            "disk_limit": "2.0Mi",
            "exit_code": 1,
            "log_tail": run.log_tail,
            "fault": "participant",
        },
    }


def test_disk_full_without_a_quota_names_zero_bytes(tmp_path: Path) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=1))
    run.disk_full = True
    assert error_of(classify("local", run))["details"]["disk_limit"] == "0B"


def test_a_non_zero_exit_names_the_error_line(tmp_path: Path) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=3))
    write_pred(tmp_path)  # a prediction does not make a failed exit a success
    out = classify("local", run)
    assert error_of(out) == {
        "code": "EXIT_NONZERO",
        "message": "inference exited with code 3: ValueError: bad input",
        "field": None,
        "details": {"exit_code": 3, "log_tail": run.log_tail, "fault": "participant"},
    }
    assert (out.prediction, out.oom_killed) == (None, False)


def test_the_backends_own_error_comes_first(tmp_path: Path) -> None:
    failure = InfrastructureFailure("node lost")
    state = SandboxState(exit_code=137, oom_killed=True, error=failure)
    run = make_run(tmp_path, state)
    run.stop_reason = "cancelled"
    out = classify("kubernetes", run)
    assert out.error is failure
    assert (out.oom_killed, out.cancelled) == (False, False)


def test_a_prediction_the_quota_copy_left_out_is_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path, SandboxState(exit_code=0))
    write_pred(tmp_path)
    run.scratch["not_copied"] = ["output/pred.csv"]
    assert error_of(classify("local", run)) == {
        "code": "NO_PREDICTIONS",
        "message": "output/pred.csv is a symbolic link (or not a regular file); "
        "write a regular file",
        "field": "output/pred.csv",
        "details": {"file": "output/pred.csv", "fault": "participant"},
    }


def test_no_prediction_names_every_expected_file(tmp_path: Path) -> None:
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "pred.csv").mkdir()  # a folder is not a prediction
    prediction, error = find_prediction(make_spec(tmp_path), 0.0)
    assert prediction is None and error is not None
    assert error.to_dict() == {
        "code": "NO_PREDICTIONS",
        "message": "inference exited 0 but wrote no output/pred.csv or output/pred.json",
        "field": "output",
        "details": {"expected": ["output/pred.csv", "output/pred.json"], "fault": "participant"},
    }


def test_the_first_expected_output_wins_and_the_second_is_found(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    write_pred(tmp_path, "pred.json")
    assert find_prediction(spec, 0.0) == ("output/pred.json", None)
    write_pred(tmp_path, "pred.csv")
    assert find_prediction(spec, 0.0) == ("output/pred.csv", None)


def test_a_leftover_older_than_the_start_is_stale_with_50ms_slack(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, expected_outputs=("pred.csv",))
    write_pred(tmp_path)
    since = 1_700_000_000.0
    start_ns = int(since * 1e9)
    os.utime(tmp_path / "output" / "pred.csv", ns=(start_ns, start_ns - 50_000_000))
    assert find_prediction(spec, since) == ("output/pred.csv", None)
    os.utime(tmp_path / "output" / "pred.csv", ns=(start_ns, start_ns - 50_000_001))
    prediction, error = find_prediction(spec, since)
    assert prediction is None and error is not None and error.code == "NO_PREDICTIONS"


def test_a_linked_prediction_is_refused(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    write_pred(tmp_path, "real.csv")
    (tmp_path / "output" / "pred.csv").symlink_to("real.csv")
    prediction, error = find_prediction(spec, 0.0)
    assert prediction is None and error is not None
    assert error.details == {"file": "output/pred.csv", "reason": "symbolic_link"}


def test_remove_planted_links_removes_only_links(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    out = tmp_path / "output"
    (out / "artifacts").symlink_to("/etc")
    (out / "result.json").symlink_to("/etc/hostname")
    (out / "keep.txt").symlink_to("/etc/hostname")
    assert remove_planted_links(spec) == ["output/artifacts", "output/result.json"]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    (out / "artifacts").mkdir()
    (out / "result.json").write_text("{}")
    assert remove_planted_links(spec) == []
    assert sorted(p.name for p in out.iterdir()) == ["artifacts", "keep.txt", "result.json"]


def test_remove_planted_links_without_a_usable_output(tmp_path: Path) -> None:
    spec = make_spec(tmp_path)
    (tmp_path / "output").rmdir()
    assert remove_planted_links(spec) == []
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "artifacts").symlink_to("/etc")
    (tmp_path / "output").symlink_to("elsewhere")
    assert remove_planted_links(spec) == []
    assert (tmp_path / "elsewhere" / "artifacts").is_symlink()


@pytest.mark.parametrize(
    ("tail", "line"),
    [
        ("a\nTraceback (most recent call last):\nKeyError: 'x'\nafter\n", "KeyError: 'x'"),
        ("first error here\nplain\nSystemExit: 2\nplain again\n", "SystemExit: 2"),
        ("RuntimeException raised\nlast\n", "RuntimeException raised"),
        ("ok\nFATAL: disk\nok\n", "FATAL: disk"),
        ("goroutine panic: nil map\nok\n", "goroutine panic: nil map"),
        ("an error\nno errors here\n", "an error"),
        ("  only plain  \n\n   \n", "only plain"),
        ("", "(no output)"),
        ("\n  \n", "(no output)"),
        ("ErrorCount: 0\nlast\n", "last"),
    ],
)
def test_summary_line(tail: str, line: str) -> None:
    assert summary_line(tail) == line


def test_summary_line_is_cut_at_300_characters() -> None:
    assert summary_line("x" * 400) == "x" * 300
    assert summary_line("error " + "y" * 400 + "\nlast") == ("error " + "y" * 400)[:300]


def test_run_info_of_a_success() -> None:
    out = RunOutcome(
        executor="docker",
        job_id="job-1",
        image="img:1",
        exit_code=0,
        duration=1.23456,
        started_at="t0",
        finished_at="t1",
        peak_cpu=0.5,
        peak_memory=2048,
        image_digest="sha256:abc",
        sandbox_id="sb-1",
        prediction="output/pred.csv",
        extra={"node": "n1"},
    )
    assert out.to_run_info() == {
        "job_id": "job-1",
        "executor": "docker",
        "sandbox_id": "sb-1",
        "image": "img:1",
        "image_digest": "sha256:abc",
        "exit_code": 0,
        "oom_killed": False,
        "timed_out": False,
        "cancelled": False,
        "started_at": "t0",
        "finished_at": "t1",
        "duration": 1.235,
        "peak_cpu": 0.5,
        "peak_memory_bytes": 2048,
        "peak_memory": "2.0Ki",
        "prediction": "output/pred.csv",
        "status": "succeeded",
        "error": None,
        "node": "n1",
    }


def test_run_info_of_a_failure_and_the_defaults() -> None:
    out = RunOutcome("local", "job-2", "img:2", 3, 0.0, error=ExitNonZero("exit 3"))
    assert (out.oom_killed, out.timed_out, out.cancelled, out.ok) == (False, False, False, False)
    assert (out.log_tail, out.extra, out.last_sample, out.disk_io) == ("", {}, None, None)
    info = out.to_run_info()
    assert info["status"] == "failed"
    assert (info["peak_memory"], info["peak_memory_bytes"]) == (None, None)
    assert info["error"] == {
        "code": "EXIT_NONZERO",
        "message": "exit 3",
        "field": None,
        "details": {"fault": "participant"},
    }
    cancelled = RunOutcome("local", "j", "i", None, 0.0, error=Cancelled("c"), cancelled=True)
    assert cancelled.to_run_info()["cancelled"] is True
