"""The workspace boundary through the library and the CLI: link tricks on every path.

Each case plants one symbolic link (absolute, relative, into ``input/``, to ``/etc``,
the top-level entries themselves), runs a surface, and asserts the refusal's code,
that the folder outside is unchanged (contents, owners, modes) and that no byte of
it (nor of ``/etc/passwd``) appears in any message, result or log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from boundary_kit import BY_NAME, SECRET, TRICKS, Scene, Trick, digest

from autoscorer.errors import AutoScorerError, WorkspaceInvalid
from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.pipeline.scoring import score
from autoscorer.pipeline.validate import validate
from autoscorer.workspace import safeio
from autoscorer.workspace.templates import init_workspace

REPO = Path(__file__).resolve().parents[2]
IDS = [t.name for t in TRICKS]


@pytest.fixture()
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


@pytest.mark.parametrize("trick", TRICKS, ids=IDS)
def test_score_refuses_the_link(scene: Scene, trick: Trick) -> None:
    scene.plant(trick)
    with pytest.raises(AutoScorerError) as caught:
        score(scene.ws)
    assert caught.value.code == trick.code, caught.value.to_dict()
    scene.assert_held(caught.value.message, json.dumps(caught.value.to_dict()))


@pytest.mark.parametrize("trick", TRICKS, ids=IDS)
def test_validate_refuses_the_link(scene: Scene, trick: Trick) -> None:
    scene.plant(trick)
    if trick.top_level:
        with pytest.raises(WorkspaceInvalid) as caught:
            validate(scene.ws, auto_fix=True)
        scene.assert_held(json.dumps(caught.value.to_dict()))
        return
    report = validate(scene.ws)
    assert report["validation_status"] == "invalid", report
    assert any(" link" in e for e in report["errors"]), report["errors"]
    scene.assert_held(json.dumps(report))


@pytest.mark.parametrize("trick", TRICKS, ids=IDS)
def test_pipeline_ends_with_the_refusal(scene: Scene, trick: Trick) -> None:
    scene.plant(trick)
    lines: list[str] = []
    result = run_pipeline(
        PipelineRequest(workspace=str(scene.ws)), on_log=lambda *a: lines.append(" ".join(a))
    )
    assert result.error is not None and result.error.code == trick.code
    assert result.summary.score is None
    scene.assert_held(json.dumps(result.to_json_dict()), *lines)


def test_a_linked_artifacts_folder_receives_nothing(scene: Scene) -> None:
    (scene.ws / "output" / "artifacts").symlink_to(scene.outside)
    with pytest.raises(WorkspaceInvalid):
        score(scene.ws)
    assert not (scene.ws / "output" / "result.json").exists()
    scene.assert_held()


@pytest.mark.parametrize("name", ["input-folder", "output-folder", "logs-folder", "logs-to-etc"])
def test_init_workspace_writes_nothing_through_a_linked_folder(scene: Scene, name: str) -> None:
    scene.plant(BY_NAME[name])
    with pytest.raises(WorkspaceInvalid):
        init_workspace(scene.ws, template="classification", overwrite=True)
    assert not (scene.outside / ".gitkeep").exists()
    scene.assert_held()


def test_init_workspace_leaves_a_planted_gitkeep_link_alone(scene: Scene) -> None:
    target = scene.outside / "created-by-init"
    (scene.ws / "input" / ".gitkeep").symlink_to(target)  # dangling: touch() would create it
    init_workspace(scene.ws, template="classification", overwrite=True)
    assert not target.exists()
    scene.assert_held()


def test_a_ground_truth_mask_linked_outside_is_not_read(tmp_path: Path) -> None:
    """Segmentation reads nested files of input/: a mask that is a link out is refused."""
    scene = Scene(tmp_path)
    ws = tmp_path / "workspaces" / "seg"
    shutil.copytree(REPO / "examples" / "segmentation", ws)
    mask = ws / "input" / "masks" / "frame_0001.png"
    shutil.copy(mask, scene.outside / "frame.png")
    scene.before = digest(scene.outside)
    mask.unlink()
    mask.symlink_to(scene.outside / "frame.png")
    with pytest.raises(AutoScorerError) as caught:
        score(ws)
    assert "frame_0001.png" in caught.value.message
    scene.assert_held(caught.value.message)


def test_predicted_masks_hard_linked_to_the_ground_truth_are_refused(tmp_path: Path) -> None:
    """Nested prediction files too: a mask that is another name of a gt mask is not read."""
    ws = tmp_path / "seg"
    shutil.copytree(REPO / "examples" / "segmentation", ws)
    for mask in (ws / "output" / "masks").iterdir():
        mask.unlink()
        os.link(ws / "input" / "masks" / mask.name, mask)
    with pytest.raises(AutoScorerError) as caught:
        score(ws)
    assert caught.value.code == "WORKSPACE_INVALID" and "hard link" in caught.value.message


def test_a_link_swapped_in_after_the_check_is_not_followed(scene: Scene) -> None:
    """The open walks the checked real path with O_NOFOLLOW: a later swap fails, never leaks."""
    parts = safeio.confine(scene.ws / "input" / "gt.csv", scene.ws)
    shutil.rmtree(scene.ws / "input")
    (scene.ws / "input").symlink_to(scene.outside)
    with pytest.raises(OSError):
        safeio.open_checked(scene.ws, parts)
    scene.assert_held()


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    code = "from autoscorer.cli.main import main; main()"
    env = {**os.environ, "COLUMNS": "400"}  # PYTHONPATH (if set) picks the code under test
    cmd = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


CLI_TRICKS = ["gt-etc-passwd", "gt-relative", "pred-into-input", "output-folder", "meta-json"]


@pytest.mark.parametrize("command", ["score", "validate", "pipeline"])
@pytest.mark.parametrize("name", CLI_TRICKS)
def test_cli_refuses_the_link(scene: Scene, command: str, name: str) -> None:
    trick = BY_NAME[name]
    scene.plant(trick)
    proc = _cli(command, scene.ws, "--json")
    assert proc.returncode != 0, proc.stdout
    out = proc.stdout + proc.stderr
    assert trick.code in out or "symbolic link" in out, out
    scene.assert_held(out)
    assert SECRET not in out


def test_a_job_whose_workspace_path_gains_a_link_after_submission_is_refused(
    scene: Scene, tmp_path: Path
) -> None:
    """The job keeps the path resolved at submission; the worker refuses it if it changed."""
    from autoscorer.jobs.records import JobRecord, JobSubmission
    from autoscorer.jobs.runner import _request
    from autoscorer.jobs.service import prepare
    from autoscorer.jobs.store import JobStore

    alias = scene.roots / "alias"
    alias.symlink_to(scene.ws)
    new = prepare(JobSubmission(workspace_path=str(alias), job_id="job-swap"))
    assert new.workspace_path == str(scene.ws)
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    job: JobRecord = store.add(new)
    store.close()
    shutil.copytree(scene.ws, scene.outside / "ws")  # what the swapped path will lead to
    scene.before = digest(scene.outside)
    scene.ws.rename(scene.roots / "moved")
    scene.ws.symlink_to(scene.outside / "ws")
    result = run_pipeline(_request(job))
    assert result.error is not None and result.error.code == "WORKSPACE_INVALID"
    assert "symbolic link" in result.error.message
    scene.assert_held(json.dumps(result.to_json_dict()))
