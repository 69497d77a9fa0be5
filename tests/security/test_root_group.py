"""Attack: run the submission with the root user or the root group (issue 11, item 5).

A uid or gid 0 in ``container.user`` or in an executor's own ``user`` is refused
before anything runs, naming the field; a name is refused too (the submitted
image's ``/etc/passwd`` decides what it maps to); a bare uid gets its own number
as group, never 0; the defaults are never root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import python, write_workspace

from autoscorer.errors import InvalidParameter
from autoscorer.executors.base import Executor
from autoscorer.executors.spec import build_spec, default_user
from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.workspace.layout import Workspace

ROOTISH = ["65534:0", "0", "0:0", "0:65534", "root", "nobody", "1000:root", "1000:", " 0 "]
IDS = "import os, json\njson.dump([os.getuid(), os.getgid(), os.getgroups()], "
IDS += "open('/workspace/output/ids.json', 'w'))\nopen('/workspace/output/pred.csv', 'w')\n"


def _docker_ok(docker_client: Any) -> None:
    if docker_client is None:
        pytest.skip("no Docker engine answers")


@pytest.mark.parametrize("user", ROOTISH)
def test_container_user_with_root_group_is_refused(
    user: str, executor: Executor, tmp_path: Path
) -> None:
    root = write_workspace(tmp_path / "ws", python(IDS), container={"user": user})
    ws = Workspace.at(root)
    with pytest.raises(InvalidParameter, match=r"container\.user") as info:
        build_spec(ws, ws.load_meta())
    assert info.value.field == "container.user"
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert result.error is not None and result.error.field == "container.user"
    assert not (root / "output" / "ids.json").exists()  # nothing ran


@pytest.mark.parametrize("kind_name", ["docker", "local"])
def test_executor_user_with_root_group_is_refused(kind_name: str, docker_client: Any) -> None:
    from autoscorer.executors import get_executor

    if kind_name == "docker":
        _docker_ok(docker_client)
    assert "0" not in default_user().split(":")  # the default when none is configured
    for user in ("65534:0", "0:0", "root"):
        with pytest.raises(InvalidParameter, match="user") as info:
            get_executor(kind_name, user=user)
        assert info.value.field == "user"
    if kind_name == "docker":
        with pytest.raises(InvalidParameter, match="allow_root"):
            get_executor("docker", allow_root=True)


def test_a_bare_uid_never_runs_with_group_zero(executor: Executor, tmp_path: Path) -> None:
    """Docker gives a uid the image does not list group 0; the spec says uid:uid instead."""
    root = write_workspace(tmp_path / "ws", python(IDS), container={"user": "4242"})
    ws = Workspace.at(root)
    assert build_spec(ws, ws.load_meta()).user == "4242:4242"
    outcome = executor.run(build_spec(ws, ws.load_meta()))
    assert outcome.ok, (outcome.error, outcome.log_tail)
    uid, gid, groups = json.loads((root / "output" / "ids.json").read_text())
    assert (uid, gid) == (4242, 4242) and 0 not in groups
    assert "0" not in executor.describe(build_spec(ws, ws.load_meta()))["user"].split(":")
