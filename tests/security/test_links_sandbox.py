"""The workspace boundary around real sandboxes: the Docker engine and bwrap (local executor).

The server runs as root and prepares the workspace for a sandbox user (chown of
``output/`` and ``logs/``), bind-mounts ``input/`` entries, captures logs and
writes ``run_info.json`` and ``result.json``. None of it may follow a link out of
the workspace, whether the link was there before the run or planted by the
submission during it.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from boundary_kit import BY_NAME, Scene, digest

from autoscorer.executors.base import Executor
from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.workspace.models import Result

PY_IMAGE = "autoscorer-test/python"
KINDS = ["docker", "local"]

# writes an honest prediction, then tries to overwrite every file it can see in output/ and logs/
WRITER = """
import os
for d in ('/workspace/output', '/workspace/logs'):
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            try:
                open(p, 'w').write('overwritten by the sandbox')
            except OSError as e:
                print('cannot write', name, e.errno)
rows = ''.join(f's{i},{("cat", "dog")[i % 2]}\\n' for i in range(20))
open('/workspace/output/pred.csv', 'w').write('id,label\\n' + rows)
"""

# prints what input/ holds (a mounted link out would show the host's bytes) and predicts
READER = """
import os
for dirpath, dirs, files in os.walk('/workspace/input'):
    for name in files:
        try:
            print(name, open(os.path.join(dirpath, name)).read())
        except OSError as e:
            print(name, 'unreadable', e.errno)
rows = ''.join(f's{i},cat\\n' for i in range(20))
open('/workspace/output/pred.csv', 'w').write('id,label\\n' + rows)
"""

# plants links where the host writes, and a prediction linking to the ground truth
PLANTER = """
import os, sys
out, logs, outside = '/workspace/output', '/workspace/logs', sys.argv[1]
os.symlink(outside, out + '/artifacts')
os.symlink(outside + '/planted-result.json', out + '/result.json')
os.symlink(outside + '/notes.txt', logs + '/run_info.json')
os.remove(out + '/pred.csv')
os.symlink('../input/gt.csv', out + '/pred.csv')
print('planted')
"""


def _executor(kind: str) -> Executor:
    if kind == "docker":
        docker = pytest.importorskip("docker")
        try:
            docker.from_env(timeout=10).images.get(PY_IMAGE)
        except Exception as exc:
            pytest.skip(f"no Docker engine answers (start one with scripts/docker-setup): {exc}")
        from autoscorer.executors.docker import DockerExecutor

        return DockerExecutor(labels={"autoscorer.test": "security-links"})
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed; the local contract needs it (apt install bubblewrap)")
    from autoscorer.executors.local import LocalExecutor

    return LocalExecutor(sandbox="bwrap")


@pytest.fixture(params=KINDS)
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    ex = _executor(request.param)
    yield ex
    ex.close()


def _with_container(scene: Scene, code: str, *args: str) -> None:
    meta = json.loads((scene.ws / "meta.json").read_text())
    meta["container"] = {
        "image": PY_IMAGE,
        "cmd": ["python3", "-u", "-c", code, *args],
        "pull_policy": "never",
    }
    meta.update(time_limit=60, resources={"cpu": 1, "memory": "256Mi", "pids": 64})
    (scene.ws / "meta.json").write_text(json.dumps(meta))


def _run(scene: Scene, executor: Executor) -> tuple[Result, list[str]]:
    lines: list[str] = []
    request = PipelineRequest(workspace=str(scene.ws), executor=executor.name)
    result = run_pipeline(request, executor=executor, on_log=lambda *a: lines.append(" ".join(a)))
    return result, lines


def _texts(result: Result, lines: list[str]) -> list[Any]:
    return [json.dumps(result.to_json_dict()), *lines]


@pytest.fixture()
def scene(tmp_path: Path) -> Scene:
    s = Scene(tmp_path)
    (tmp_path / "outside" / "result.json").write_text('{"planted": true}')
    (tmp_path / "outside" / "container.log").write_text("host log\n")
    s.before = digest(s.outside)
    return s


@pytest.mark.parametrize("name", ["output-folder", "output-folder-relative", "logs-folder"])
def test_a_linked_writable_folder_is_neither_chowned_nor_mounted(
    scene: Scene, executor: Executor, name: str
) -> None:
    _with_container(scene, WRITER)
    scene.plant(BY_NAME[name])
    result, lines = _run(scene, executor)
    scene.assert_held(*_texts(result, lines))
    assert result.error is not None and result.error.code == "WORKSPACE_INVALID", result.error


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_an_input_entry_linked_outside_is_not_mounted(
    scene: Scene, executor: Executor, kind: str
) -> None:
    _with_container(scene, READER)
    link = scene.ws / "input" / ("data" if kind == "folder" else "notes.txt")
    link.symlink_to(scene.outside if kind == "folder" else scene.outside / "notes.txt")
    result, lines = _run(scene, executor)
    scene.assert_held(*_texts(result, lines))
    assert result.error is not None and result.error.code == "WORKSPACE_INVALID", result.error
    assert "symbolic link" in result.error.message


def test_links_planted_by_the_submission_are_not_followed(scene: Scene, executor: Executor) -> None:
    _with_container(scene, PLANTER, str(scene.outside))
    result, lines = _run(scene, executor)
    assert result.error is not None and result.error.code == "NO_PREDICTIONS", result.error
    assert result.summary.score is None
    assert not (scene.ws / "output" / "artifacts").is_symlink()
    run_info = scene.ws / "logs" / "run_info.json"
    assert not run_info.is_symlink() and json.loads(run_info.read_text())["status"] == "failed"
    scene.assert_held(*_texts(result, lines))


def test_an_honest_run_still_scores(scene: Scene, executor: Executor) -> None:
    _with_container(scene, WRITER)
    result, _ = _run(scene, executor)
    assert result.error is None and result.summary.score == 1.0
    scene.assert_held()
