"""Defense in depth: a stronger OCI runtime for Docker sandboxes (issue 11, item 8).

The ``docker_runtime`` setting (or the executor's ``runtime`` option) is passed to
every container; a runtime the engine does not have is refused at start, never
silently replaced by the default one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SESSION, SOLVE, TEST_LABEL, python, write_workspace

from autoscorer.errors import ExecutorUnavailable
from autoscorer.executors.docker import DockerExecutor
from autoscorer.executors.spec import build_spec
from autoscorer.workspace.layout import Workspace


@pytest.fixture
def engine(docker_client: Any) -> Any:
    if docker_client is None:
        pytest.skip("no Docker engine answers (start one with scripts/docker-setup)")
    return docker_client


@pytest.mark.docker
def test_the_configured_runtime_runs_the_container(engine: Any, tmp_path: Path) -> None:
    """Both options reach the engine: the container's HostConfig names the runtime."""
    ws = Workspace.at(write_workspace(tmp_path / "ws", python(SOLVE)))
    ex = DockerExecutor(labels={TEST_LABEL: SESSION}, runtime="runc")
    spec = build_spec(ws, ws.load_meta(), keep=True)
    assert ex.describe(spec)["runtime"] == "runc"
    outcome = ex.run(spec)
    try:
        assert outcome.ok, (outcome.error, outcome.log_tail)
        container = engine.containers.get(outcome.sandbox_id)
        assert container.attrs["HostConfig"]["Runtime"] == "runc"
    finally:
        engine.containers.get(outcome.sandbox_id).remove(force=True)


@pytest.mark.docker
def test_an_unknown_runtime_is_refused(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ExecutorUnavailable, match="no runtime 'runsc-absent'"):
        DockerExecutor(runtime="runsc-absent", reap_orphans=False)
    monkeypatch.setenv("AUTOSCORER_DOCKER_RUNTIME", "runsc-absent")
    with pytest.raises(ExecutorUnavailable, match="runsc-absent"):
        DockerExecutor(reap_orphans=False)  # the setting is the default
