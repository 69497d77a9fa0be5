"""The safe-open primitives every workspace file operation goes through (``workspace.safeio``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from boundary_kit import Scene

from autoscorer.errors import WorkspaceInvalid
from autoscorer.workspace import safeio


@pytest.fixture()
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


def test_write_atomic_replaces_a_planted_link_and_writes_nothing_outside(scene: Scene) -> None:
    (scene.ws / "logs" / "run_info.json").symlink_to(scene.outside / "notes.txt")
    with safeio.open_dir(scene.ws, "logs") as fd:
        safeio.write_atomic(fd, "run_info.json", b"{}")
    info = scene.ws / "logs" / "run_info.json"
    assert not info.is_symlink() and info.read_bytes() == b"{}"
    assert [p.name for p in (scene.ws / "logs").iterdir()] == ["run_info.json"]  # no temp left
    scene.assert_held()


def test_create_fresh_drops_a_planted_link(scene: Scene) -> None:
    (scene.ws / "logs" / "container.log").symlink_to(scene.outside / "notes.txt")
    with safeio.open_dir(scene.ws, "logs") as fd:
        os.close(safeio.create_fresh(fd, "container.log"))
    assert not (scene.ws / "logs" / "container.log").is_symlink()
    scene.assert_held()


def test_chown_entries_changes_links_not_their_targets(scene: Scene) -> None:
    """As root (the server's case) the ids really change; otherwise the caller's own ids."""
    uid = 65534 if os.geteuid() == 0 else os.geteuid()
    (scene.ws / "output" / "notes").symlink_to(scene.outside / "notes.txt")
    (scene.ws / "output" / "deep").symlink_to(scene.outside / "deep")
    safeio.chown_entries(scene.ws, "output", uid=uid, gid=uid)
    assert os.lstat(scene.ws / "output" / "notes").st_uid == uid
    assert os.stat(scene.ws / "output").st_uid == uid
    scene.assert_held()


def test_open_dir_refuses_a_nested_link(scene: Scene) -> None:
    (scene.ws / "output" / "artifacts").symlink_to(scene.outside)
    with pytest.raises(safeio.OutsideWorkspace), safeio.open_dir(scene.ws, "output", "artifacts"):
        pass
    (scene.ws / "output" / "artifacts").unlink()
    (scene.ws / "output" / "artifacts").write_text("a file")
    with (
        pytest.raises(WorkspaceInvalid, match="not a folder"),
        safeio.open_dir(scene.ws, "output", "artifacts", create=True),
    ):
        pass
    scene.assert_held()


def test_a_fifo_is_refused_without_blocking(scene: Scene) -> None:
    fifo = scene.ws / "output" / "pred.csv"
    fifo.unlink()
    os.mkfifo(fifo)
    with safeio.boundary(scene.ws), pytest.raises(IsADirectoryError):
        safeio.open_fd(fifo)


def test_internal_links_inside_the_same_top_folder_are_allowed(scene: Scene) -> None:
    (scene.ws / "input" / "alias.csv").symlink_to("gt.csv")
    with safeio.boundary(scene.ws), safeio.open_file(scene.ws / "input" / "alias.csv") as fh:
        assert fh.read().startswith(b"id,label")


def test_without_a_boundary_only_the_last_component_is_checked(scene: Scene) -> None:
    link = scene.tmp / "link.csv"
    link.symlink_to(scene.outside / "secret.csv")
    with pytest.raises(safeio.OutsideWorkspace):
        safeio.open_fd(link)
