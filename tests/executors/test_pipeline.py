"""run_pipeline with executors: overrides, early failures, result.json on failure, the factory."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from exec_helpers import SOLVE, make_executor, python

from autoscorer.errors import ExecutorUnavailable, InvalidParameter
from autoscorer.executors import get_executor
from autoscorer.executors.local import LocalExecutor
from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_pipeline

WsFactory = Callable[..., Path]


def saved_error(root: Path) -> dict[str, object]:
    return dict(json.loads((root / "output" / "result.json").read_text())["error"])


def test_score_only_workspace_needs_no_executor(workspace: WsFactory) -> None:
    root = workspace(None)
    (root / "output" / "pred.csv").write_text((root / "input" / "gt.csv").read_text())
    result = run_pipeline(PipelineRequest(workspace=str(root), executor="no-such-executor"))
    assert result.error is None and result.summary.score == 1.0
    assert result.timing.inference_time == 0 and result.provenance.image_digest is None
    assert not (root / "logs" / "run_info.json").exists()


def test_unknown_scorer_fails_before_inference(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE), scorer="nope")
    result = run_pipeline(PipelineRequest(workspace=str(root), executor="local"))
    assert result.error is not None and result.error.code == "SCORER_NOT_FOUND"
    assert not (root / "logs" / "container.log").exists()  # nothing was run
    assert saved_error(root)["code"] == "SCORER_NOT_FOUND"


def test_overrides_time_limit_and_env(workspace: WsFactory) -> None:
    code = "import os, time\nprint('FLAG=' + os.environ['FLAG'], flush=True)\ntime.sleep(30)"
    root = workspace(python(code))
    overrides = {"time_limit": 0.5, "env": {"FLAG": "from-config"}, "resources": {"cpu": 2}}
    req = PipelineRequest(workspace=str(root), executor="local", overrides=overrides)
    result = run_pipeline(req)
    assert result.error is not None and result.error.code == "TIMEOUT_ERROR"
    assert result.error.details["time_limit"] == 0.5
    assert "FLAG=from-config" in (root / "logs" / "container.log").read_text()
    assert 0.5 <= result.timing.inference_time < 1.5


def test_invalid_override_is_reported_in_result(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    req = PipelineRequest(str(root), executor="local", overrides={"resources": {"memory": "lots"}})
    result = run_pipeline(req)
    assert result.error is not None and result.error.code == "INVALID_PARAMETER"
    assert result.error.field == "config.resources.memory"
    assert saved_error(root)["code"] == "INVALID_PARAMETER"


def test_unknown_executor(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    result = run_pipeline(PipelineRequest(workspace=str(root), executor="podman"))
    assert result.error is not None and result.error.code == "INVALID_PARAMETER"
    assert "choose one of auto, docker, local, kubernetes" in result.error.message


def test_cancelled_before_start(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    token = CancelToken()
    token.cancel("user asked")
    result = run_pipeline(PipelineRequest(str(root), executor="local"), cancel=token)
    assert result.error is not None and result.error.code == "CANCELLED"
    assert result.error.details["fault"] == "host"


def test_log_callback_gets_executor_messages(workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    lines: list[tuple[str, str, str]] = []
    result = run_pipeline(
        PipelineRequest(str(root), executor="local"), on_log=lambda *a: lines.append(a)
    )
    assert result.error is None
    components = {c for _, c, _ in lines}
    assert {"executor", "scorer"} <= components
    assert any("inference finished" in m for _, _, m in lines)


def test_auto_falls_back_to_local_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="autoscorer.executors"):
        ex = get_executor("auto", docker={"base_url": "tcp://127.0.0.1:1", "timeout": 2})
    assert isinstance(ex, LocalExecutor)
    assert "falling back to the local executor" in caplog.text


@pytest.mark.docker
@pytest.mark.usefixtures("require_docker")
def test_auto_prefers_docker() -> None:
    assert get_executor("auto").name == "docker"


def test_missing_client_library_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "autoscorer.executors.kubernetes", raising=False)
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # import kubernetes -> ImportError
    with pytest.raises(ExecutorUnavailable, match=r"pip install 'autoscorer\[k8s\]'"):
        get_executor("k8s", workspace_root="/tmp")


def test_unknown_executor_name() -> None:
    with pytest.raises(InvalidParameter, match="unknown executor 'lxc'"):
        get_executor("lxc")


def test_local_executor_cancel_by_job_id(workspace: WsFactory) -> None:
    import threading
    import time

    ex = make_executor("local")
    root = workspace(python("import time; time.sleep(30)"))
    box: list[object] = []
    req = PipelineRequest(str(root), job_id="job-42")
    t = threading.Thread(target=lambda: box.append(run_pipeline(req, executor=ex)))
    t.start()
    deadline = time.monotonic() + 10
    while not ex.cancel("job-42") and time.monotonic() < deadline:
        time.sleep(0.02)
    t.join(5)
    assert box and box[0].error.code == "CANCELLED"
    assert ex.cancel("job-42") is False  # no active run any more
