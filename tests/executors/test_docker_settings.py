"""The ``docker_*`` settings reach the Docker executor through ``make_executor``:
cleanup=false keeps every container, the API timeout and the restricted network apply."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import BUSYBOX_IMAGE

from autoscorer.executors.docker import LABEL_KEEP
from autoscorer.executors.factory import make_executor
from autoscorer.executors.spec import build_spec
from autoscorer.settings import Settings
from autoscorer.workspace.layout import Workspace

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("require_docker")]


def test_docker_settings_reach_the_executor(
    workspace: Callable[..., Path], docker_client: Any
) -> None:
    settings = Settings(docker_cleanup=False, docker_timeout=33, docker_network_mode="egress-only")
    ex = make_executor("docker", settings)
    try:
        assert (ex.timeout, ex.restricted_network) == (33, "egress-only")  # type: ignore[attr-defined]
        assert ex.client.api.timeout == 33  # type: ignore[attr-defined]
        root = workspace(["sh", "-c", "echo id,label > /workspace/output/pred.csv"])
        meta = json.loads((root / "meta.json").read_text())
        meta["container"]["image"] = BUSYBOX_IMAGE
        (root / "meta.json").write_text(json.dumps(meta))
        ws = Workspace.at(root)
        outcome = ex.run(build_spec(ws, ws.load_meta()))  # keep not asked: the setting keeps it
        assert outcome.ok, outcome.error
        kept = docker_client.containers.get(outcome.sandbox_id)
        try:
            assert kept.labels[LABEL_KEEP] == "1" and kept.status == "exited"
        finally:
            kept.remove(force=True)
    finally:
        ex.close()


def test_by_default_containers_are_removed(
    workspace: Callable[..., Path], docker_client: Any
) -> None:
    ex = make_executor("docker", Settings())
    try:
        root = workspace(["sh", "-c", "echo id,label > /workspace/output/pred.csv"])
        meta = json.loads((root / "meta.json").read_text())
        meta["container"]["image"] = BUSYBOX_IMAGE
        (root / "meta.json").write_text(json.dumps(meta))
        ws = Workspace.at(root)
        outcome = ex.run(build_spec(ws, ws.load_meta()))
        assert outcome.ok, outcome.error
        names = [c.name for c in docker_client.containers.list(all=True)]
        assert outcome.sandbox_id not in names
    finally:
        ex.close()
