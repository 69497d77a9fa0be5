"""``autoscorer run`` and ``autoscorer pipeline``: output, exit codes, dry run, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SESSION, SOLVE, TEST_LABEL, python
from typer.testing import CliRunner

from autoscorer.cli.main import app

WsFactory = Callable[..., Path]
runner = CliRunner()


def test_run_json_reports_run_info(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    res = runner.invoke(app, ["run", str(root), "-e", "local", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["success"] is True and data["run_info"]["exit_code"] == 0
    assert data["run_info"]["prediction"] == "output/pred.csv"
    assert not (root / "output" / "result.json").exists()  # inference only


def test_run_text_and_failure_line(workspace: WsFactory) -> None:
    ok = runner.invoke(app, ["run", str(workspace(python(SOLVE))), "-e", "local"])
    assert ok.exit_code == 0 and "inference finished" in ok.stdout
    crash = python("import sys; print('boom'); sys.exit(4)")
    res = runner.invoke(app, ["run", str(workspace(crash)), "-e", "local"])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        "error [EXIT_NONZERO] inference exited with code 4: boom"
    ]


def test_pipeline_scores_and_applies_limits(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    res = runner.invoke(
        app,
        ["pipeline", str(root), "-e", "local", "--timeout", "20", "--memory", "512Mi", "--json"],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["success"] is True and data["result"]["summary"]["score"] == 1.0
    slow = workspace(python("import time; time.sleep(30)"))
    res = runner.invoke(app, ["pipeline", str(slow), "-e", "local", "--timeout", "0.5"])
    assert res.exit_code == 2  # TIMEOUT_ERROR is a 408
    assert "[TIMEOUT_ERROR]" in res.stderr and "0.5 s" in res.stderr
    saved = json.loads((slow / "output" / "result.json").read_text())
    assert saved["error"]["code"] == "TIMEOUT_ERROR"


def test_env_option(workspace: WsFactory) -> None:
    code = "import os; print('GREETING', os.environ['GREETING'])\n" + SOLVE
    root = workspace(python(code))
    res = runner.invoke(app, ["run", str(root), "-e", "local", "--env", "GREETING=hi=there"])
    assert res.exit_code == 0, res.output
    assert "GREETING hi=there" in (root / "logs" / "container.log").read_text()
    bad = runner.invoke(app, ["run", str(root), "-e", "local", "--env", "NOEQUALS"])
    assert bad.exit_code == 2 and "[INVALID_PARAMETER] --env expects KEY=VALUE" in bad.stderr


def test_dry_run_prints_the_sandbox_and_runs_nothing(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    res = runner.invoke(app, ["pipeline", str(root), "-e", "local", "--dry-run", "--cpu", "0.5"])
    assert res.exit_code == 0, res.output
    desc = json.loads(res.stdout)
    assert desc["executor"] == "local" and "--unshare-net" in desc["argv"]
    assert not (root / "logs" / "container.log").exists()
    assert not (root / "output" / "result.json").exists()


def test_dry_run_kubernetes_manifest(workspace: WsFactory, tmp_path: Path) -> None:
    root = workspace(python(SOLVE))
    config = json.dumps({"host": "http://127.0.0.1:1", "workspace_root": str(tmp_path)})
    args = ["run", str(root), "-e", "k8s", "--executor-config", config, "--dry-run", "--gpus", "2"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    job = json.loads(res.stdout)["job"]
    limits = job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "2" and job["spec"]["backoffLimit"] == 0


def test_missing_workspace_is_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", str(tmp_path / "nope"), "-e", "local"])
    assert res.exit_code == 2
    assert res.stderr.startswith("error [RESOURCE_NOT_FOUND]") and "Traceback" not in res.output


@pytest.mark.docker
@pytest.mark.usefixtures("require_docker")
def test_ctrl_c_cancels_and_removes_the_container(workspace: WsFactory, docker_client: Any) -> None:
    root = workspace(python("import time; print('up', flush=True); time.sleep(60)"))
    config = json.dumps({"labels": {TEST_LABEL: SESSION}})
    cli = shutil.which("autoscorer") or "autoscorer"
    proc = subprocess.Popen(
        [cli, "run", str(root), "-e", "docker", "--executor-config", config],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    label = {"label": f"{TEST_LABEL}={SESSION}"}
    deadline = time.monotonic() + 30
    while not docker_client.containers.list(filters=label) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert docker_client.containers.list(filters=label), "no container started"
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 1 and "[CANCELLED]" in err
    assert docker_client.containers.list(all=True, filters=label) == []
