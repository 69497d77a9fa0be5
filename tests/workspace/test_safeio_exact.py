"""workspace.safeio word for word: each error whole, each flag by what it does.

The flags are checked by their effects on real files: a link planted where a
file is opened or created is refused or replaced, never followed (and the folder
``outside/`` it points at stays byte-, mode- and owner-identical), ``O_EXCL``
refuses what is there, a created file gets the mode asked for, descriptors are
close-on-exec and none is left open, and an atomic replace leaves no temporary
file behind, also when it fails.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "security"))

from boundary_kit import Scene

from autoscorer.errors import AutoScorerError, NoPredictions, WorkspaceInvalid
from autoscorer.workspace import safeio

from .test_readers import outside

HOST, PART = "host", "participant"


@pytest.fixture()
def scene(tmp_path: Path) -> Scene:
    return Scene(tmp_path)


@pytest.fixture()
def umask022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture()
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder, empty: a name meant for a folder descriptor must not land here."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def cloexec(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)


def error(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    err: AutoScorerError = exc.value
    return err.to_dict()


def top_link(entry: str) -> dict[str, Any]:
    return {
        "code": "WORKSPACE_INVALID",
        "message": f"{entry} in the workspace is a symbolic link; the workspace's top-level "
        "entries (meta.json, input/, output/, logs/) must be real files and folders",
        "field": entry,
        "details": {"entry": entry, "reason": "symlink", "fault": HOST},
    }


def not_a_folder(rel: str) -> dict[str, Any]:
    return {
        "code": "WORKSPACE_INVALID",
        "message": f"{rel} in the workspace is not a folder",
        "field": rel,
        "details": {"entry": rel, "fault": HOST},
    }


def link_top(scene: Scene, entry: str) -> None:
    """Move the workspace's ``entry`` out and leave a link to it in its place."""
    real = scene.tmp / f"real-{entry}"
    (scene.ws / entry).rename(real)
    (scene.ws / entry).symlink_to(real)


# -- boundary, relative_name, confine --------------------------------------------------


def test_boundary_holds_the_real_root_only_within_the_block(scene: Scene) -> None:
    alias = scene.tmp / "alias"
    alias.symlink_to(scene.ws)
    assert safeio.active_root() is None
    with safeio.boundary(alias) as real:
        assert real == scene.ws
        assert safeio.active_root() == scene.ws
        with safeio.boundary(scene.outside):
            assert safeio.active_root() == scene.outside
        assert safeio.active_root() == scene.ws
    assert safeio.active_root() is None


def test_relative_name(scene: Scene) -> None:
    assert safeio.relative_name(scene.ws / "output" / "sub" / "p.csv", scene.ws) == (
        "output/sub/p.csv"
    )
    assert safeio.relative_name(scene.outside / "deep" / "key.txt", scene.ws) == "key.txt"


def test_confine_gives_the_real_parts(scene: Scene) -> None:
    (scene.ws / "input" / "sub").mkdir()
    (scene.ws / "input" / "sub" / "a.csv").write_text("a")
    (scene.ws / "input" / "alias.csv").symlink_to("sub/a.csv")
    assert safeio.confine(scene.ws / "input" / "alias.csv", scene.ws) == ("input", "sub", "a.csv")
    assert safeio.confine(scene.ws / "output" / "pred.csv", scene.ws) == ("output", "pred.csv")


def test_confine_refuses_the_root_and_paths_outside_it(scene: Scene) -> None:
    with pytest.raises(safeio.OutsideWorkspace) as root:
        safeio.confine(scene.ws, scene.ws)
    assert error(root) == outside(".")
    with pytest.raises(safeio.OutsideWorkspace) as out:
        safeio.confine(scene.outside / "secret.csv", scene.ws)
    assert error(out) == outside("secret.csv")
    scene.assert_held()


def test_confine_keeps_a_link_inside_its_own_top_folder(scene: Scene) -> None:
    """input/x pointing at output/pred.csv stays in the workspace but leaves input/."""
    (scene.ws / "input" / "x.csv").symlink_to(scene.ws / "output" / "pred.csv")
    with pytest.raises(safeio.OutsideWorkspace) as exc:
        safeio.confine(scene.ws / "input" / "x.csv", scene.ws)
    assert error(exc) == outside("input/x.csv")


def test_confine_checks_the_top_entries_first(scene: Scene) -> None:
    link_top(scene, "output")
    with pytest.raises(WorkspaceInvalid) as exc:
        safeio.confine(scene.ws / "input" / "gt.csv", scene.ws)
    assert error(exc) == top_link("output")


# -- open_fd, open_checked, open_file, is_regular --------------------------------------


def test_open_fd_gives_a_nonblocking_close_on_exec_read_only_descriptor(scene: Scene) -> None:
    before = fds()
    for root in (None, scene.ws):
        fd = safeio.open_fd(scene.ws / "input" / "gt.csv", root)
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            assert flags & os.O_ACCMODE == os.O_RDONLY
            assert flags & os.O_NONBLOCK
            assert cloexec(fd)
            assert os.read(fd, 6) == b"id,lab"
        finally:
            os.close(fd)
    assert fds() == before


def test_open_fd_with_a_root_is_confined_without_a_boundary(scene: Scene) -> None:
    (scene.ws / "output" / "pred.csv").unlink()
    (scene.ws / "output" / "pred.csv").symlink_to(scene.outside / "pred.csv")
    with pytest.raises(safeio.OutsideWorkspace) as confined:
        safeio.open_fd(scene.ws / "output" / "pred.csv", scene.ws)
    assert error(confined) == outside("output/pred.csv")
    with pytest.raises(safeio.OutsideWorkspace) as plain:
        safeio.open_fd(scene.ws / "output" / "pred.csv")
    assert error(plain) == outside("pred.csv")
    scene.assert_held()


def test_a_link_swapped_in_after_the_check_is_not_followed(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between confine() and the open, output/sub/pred.csv becomes a link out: ELOOP, named."""
    (scene.ws / "output" / "sub").mkdir()
    pred = scene.ws / "output" / "sub" / "pred.csv"
    pred.write_text("id,label\n")
    checked = safeio.open_checked

    def swap_then_open(root: Path, parts: tuple[str, ...], flags: int) -> int:
        pred.unlink()
        pred.symlink_to(scene.outside / "pred.csv")
        return checked(root, parts, flags)

    monkeypatch.setattr(safeio, "open_checked", swap_then_open)
    before = fds()
    with pytest.raises(safeio.OutsideWorkspace) as exc, safeio.boundary(scene.ws):
        safeio.open_fd(pred)
    assert error(exc) == outside("output/sub/pred.csv")
    assert isinstance(exc.value.__cause__, OSError)
    assert exc.value.__cause__.errno == errno.ELOOP
    assert fds() == before
    scene.assert_held()


def test_open_fd_keeps_other_errors(scene: Scene) -> None:
    before = fds()
    for root in (None, scene.ws):
        with pytest.raises(FileNotFoundError) as exc:
            safeio.open_fd(scene.ws / "output" / "missing.csv", root)
        assert exc.value.errno == errno.ENOENT
    assert fds() == before


def test_open_fd_refuses_a_folder_by_name_and_closes_it(scene: Scene) -> None:
    (scene.ws / "output" / "sub").mkdir()
    before = fds()
    for root in (None, scene.ws):
        with pytest.raises(IsADirectoryError) as exc:
            safeio.open_fd(scene.ws / "output" / "sub", root)
        assert (exc.value.errno, exc.value.strerror, exc.value.filename) == (
            errno.EISDIR,
            "not a regular file",
            "sub",
        )
    assert fds() == before


def test_hard_links_are_refused_in_output_only(scene: Scene) -> None:
    gt = scene.ws / "input" / "gt.csv"
    (scene.ws / "input" / "copy.csv").hardlink_to(gt)
    os.close(safeio.open_fd(gt, scene.ws))  # two names, both in input/: allowed
    os.close(safeio.open_fd(scene.ws / "output" / "pred.csv", scene.ws))  # one name
    (scene.ws / "output" / "p2.csv").hardlink_to(gt)  # now three names
    before = fds()
    with pytest.raises(safeio.OutsideWorkspace) as exc:
        safeio.open_fd(scene.ws / "output" / "p2.csv", scene.ws)
    assert error(exc) == {
        "code": "WORKSPACE_INVALID",
        "message": "output/p2.csv is a hard link; the submission must write a file of its own",
        "field": "output/p2.csv",
        "details": {"file": "output/p2.csv", "reason": "hard_link", "fault": HOST},
    }
    assert fds() == before


def test_open_checked_walks_every_component_without_following_links(scene: Scene) -> None:
    deep = scene.ws / "output" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "c.txt").write_text("deep")
    before = fds()
    fd = safeio.open_checked(scene.ws, ("output", "a", "b", "c.txt"))
    try:
        assert os.read(fd, 10) == b"deep"
        assert cloexec(fd)
    finally:
        os.close(fd)
    (deep / "d.txt").symlink_to(scene.outside / "notes.txt")
    with pytest.raises(OSError) as last:
        safeio.open_checked(scene.ws, ("output", "a", "b", "d.txt"))
    assert last.value.errno == errno.ELOOP
    (scene.ws / "output" / "x").symlink_to(scene.outside / "deep")
    with pytest.raises(OSError) as middle:
        safeio.open_checked(scene.ws, ("output", "x", "key.txt"))
    assert middle.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert fds() == before
    scene.assert_held()


def test_open_file_modes_and_blocking(scene: Scene) -> None:
    gt = scene.ws / "input" / "gt.csv"
    with safeio.open_file(gt) as raw:
        assert raw.read(3) == b"id,"
        assert os.get_blocking(raw.fileno()) is True
    with safeio.open_file(gt, "r", encoding="ascii", newline="") as text:
        assert text.read(3) == "id,"
        assert os.get_blocking(text.fileno()) is True
    before = fds()
    with pytest.raises(LookupError):  # open(fd, "r", encoding=...) closed fd, then a 2nd close
        safeio.open_file(gt, "r", encoding="no-such-codec")
    for wrong in ("w", "r+", "rb+", "wb", "a"):
        with pytest.raises(ValueError) as exc:
            safeio.open_file(gt, wrong)
        assert str(exc.value) == "open_file opens for reading only"
    assert fds() == before


def test_open_file_closes_the_descriptor_once_when_it_fails(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the file object owns the descriptor, open_file closes it; after, the object."""
    gt = scene.ws / "input" / "gt.csv"
    before = fds()

    def refuse(fd: int, blocking: bool) -> None:
        raise OSError(errno.EIO, "cannot")

    with monkeypatch.context() as patch:
        patch.setattr(os, "set_blocking", refuse)
        with pytest.raises(OSError) as exc:
            safeio.open_file(gt)
    assert (exc.value.errno, exc.value.strerror) == (errno.EIO, "cannot")
    assert fds() == before


def test_is_regular(scene: Scene) -> None:
    (scene.ws / "output" / "sub").mkdir()
    (scene.ws / "output" / "out.csv").symlink_to(scene.outside / "pred.csv")
    before = fds()
    with safeio.boundary(scene.ws):
        assert safeio.is_regular(scene.ws / "output" / "pred.csv") is True
        assert safeio.is_regular(scene.ws / "output" / "sub") is False  # OSError
        assert safeio.is_regular(scene.ws / "output" / "none.csv") is False  # OSError
        assert safeio.is_regular(scene.ws / "output" / "out.csv") is False  # WorkspaceInvalid
    assert fds() == before
    scene.assert_held()


# -- open_dir, _open_subdir -------------------------------------------------------------


def test_open_dir_opens_nested_folders(scene: Scene) -> None:
    (scene.ws / "output" / "a" / "b").mkdir(parents=True)
    (scene.ws / "output" / "a" / "b" / "f.txt").write_text("f")
    before = fds()
    with safeio.open_dir(scene.ws, "output", "a", "b") as fd:
        assert os.listdir(fd) == ["f.txt"]
        assert cloexec(fd)
    with safeio.open_dir(scene.ws) as top:
        assert sorted(os.listdir(top)) == ["input", "logs", "meta.json", "output"]
    assert fds() == before


def test_open_dir_creates_only_when_asked(scene: Scene, umask022: None) -> None:
    before = fds()
    with pytest.raises(FileNotFoundError), safeio.open_dir(scene.ws, "output", "new"):
        pass
    assert not (scene.ws / "output" / "new").exists()
    with safeio.open_dir(scene.ws, "output", "new", "deeper", create=True) as fd:
        os.close(safeio.create_new(fd, "f"))
    assert (scene.ws / "output" / "new" / "deeper" / "f").is_file()
    assert mode(scene.ws / "output" / "new") == 0o755
    assert mode(scene.ws / "output" / "new" / "deeper") == 0o755
    with safeio.open_dir(scene.ws, "output", "new", "deeper", create=True) as again:
        assert os.listdir(again) == ["f"]  # an existing folder is kept
    assert fds() == before


def test_open_dir_checks_the_top_entries(scene: Scene) -> None:
    link_top(scene, "logs")
    before = fds()
    with pytest.raises(WorkspaceInvalid) as exc, safeio.open_dir(scene.ws, "logs", create=True):
        pass
    assert error(exc) == top_link("logs")
    assert fds() == before


def test_open_dir_names_the_link_or_the_file_in_the_way(scene: Scene) -> None:
    (scene.ws / "output" / "a").mkdir()
    (scene.ws / "output" / "a" / "to-deep").symlink_to(scene.outside / "deep")
    (scene.ws / "output" / "a" / "dangling").symlink_to(scene.outside / "none")
    (scene.ws / "output" / "a" / "file").write_text("x")
    before = fds()
    for name in ("to-deep", "dangling"):
        with (
            pytest.raises(safeio.OutsideWorkspace) as link,
            safeio.open_dir(scene.ws, "output", "a", name, "more", create=True),
        ):
            pass
        assert error(link) == outside(f"output/a/{name}")
    with (
        pytest.raises(WorkspaceInvalid) as file,
        safeio.open_dir(scene.ws, "output", "a", "file", "more", create=True),
    ):
        pass
    assert type(file.value) is WorkspaceInvalid
    assert error(file) == not_a_folder("output/a/file")
    with pytest.raises(FileNotFoundError) as missing, safeio.open_dir(scene.ws, "output", "b"):
        pass
    assert (missing.value.errno, missing.value.filename) == (errno.ENOENT, "b")
    assert fds() == before
    assert not (scene.outside / "deep" / "more").exists()
    scene.assert_held()


# -- write_atomic, create_new, create_fresh, unlink_if_link -----------------------------


def test_write_atomic_sets_the_mode_whatever_the_umask(scene: Scene, elsewhere: Path) -> None:
    old = os.umask(0o077)
    try:
        with safeio.open_dir(scene.ws, "logs") as fd:
            safeio.write_atomic(fd, "a.json", b"{}")
            safeio.write_atomic(fd, "b.json", b"[]", mode=0o640)
    finally:
        os.umask(old)
    assert mode(scene.ws / "logs" / "a.json") == 0o644
    assert mode(scene.ws / "logs" / "b.json") == 0o640
    assert (scene.ws / "logs" / "b.json").read_bytes() == b"[]"
    assert sorted(os.listdir(scene.ws / "logs")) == ["a.json", "b.json"]
    assert os.listdir(elsewhere) == []


def test_write_atomic_creates_its_temp_file_with_the_mode(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, umask022: None
) -> None:
    """The temporary file is never wider than asked, even before its fchmod."""
    monkeypatch.setattr(os, "fchmod", lambda fd, m: None)
    with safeio.open_dir(scene.ws, "logs") as fd:
        safeio.write_atomic(fd, "result.json", b"{}", mode=0o600)
    assert mode(scene.ws / "logs" / "result.json") == 0o600


def test_write_atomic_replaces_a_file_and_a_link(scene: Scene, elsewhere: Path) -> None:
    logs = scene.ws / "logs"
    (logs / "old.json").write_text("old")
    (logs / "link.json").symlink_to(scene.outside / "notes.txt")
    (elsewhere / "old.json").write_text("cwd")
    before = fds()
    with safeio.open_dir(scene.ws, "logs") as fd:
        safeio.write_atomic(fd, "old.json", b"new")
        safeio.write_atomic(fd, "link.json", b"data")
    assert fds() == before
    assert (logs / "old.json").read_bytes() == b"new"
    assert not (logs / "link.json").is_symlink()
    assert (logs / "link.json").read_bytes() == b"data"
    assert sorted(os.listdir(logs)) == ["link.json", "old.json"]
    assert os.listdir(elsewhere) == ["old.json"]
    assert (elsewhere / "old.json").read_text() == "cwd"
    scene.assert_held()


def test_a_failed_write_atomic_leaves_no_temp_file(scene: Scene, elsewhere: Path) -> None:
    logs = scene.ws / "logs"
    (logs / "taken").mkdir()
    (logs / "taken" / "keep").write_text("k")
    before = fds()
    with safeio.open_dir(scene.ws, "logs") as fd, pytest.raises(OSError) as exc:
        safeio.write_atomic(fd, "taken", b"x")
    assert exc.value.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST)
    assert fds() == before
    assert os.listdir(logs) == ["taken"]
    assert os.listdir(logs / "taken") == ["keep"]
    assert os.listdir(elsewhere) == []


def test_create_new_refuses_anything_already_there(
    scene: Scene, umask022: None, elsewhere: Path
) -> None:
    logs = scene.ws / "logs"
    (logs / "file").write_text("there")
    (logs / "link").symlink_to(scene.outside / "new.txt")  # dangling: would create outside
    (logs / "out").symlink_to(scene.outside / "notes.txt")
    before = fds()
    with safeio.open_dir(scene.ws, "logs") as fd:
        for name in ("file", "link", "out"):
            with pytest.raises(FileExistsError) as exc:
                safeio.create_new(fd, name)
            assert (exc.value.errno, exc.value.filename) == (errno.EEXIST, name)
        new = safeio.create_new(fd, "fresh")
        narrow = safeio.create_new(fd, "narrow", 0o600)
    try:
        assert fcntl.fcntl(new, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
        assert cloexec(new)
        os.write(new, b"written")
    finally:
        os.close(new)
        os.close(narrow)
    assert fds() == before
    assert (logs / "fresh").read_bytes() == b"written"
    assert mode(logs / "fresh") == 0o644
    assert mode(logs / "narrow") == 0o600
    assert (logs / "file").read_text() == "there"
    assert not (scene.outside / "new.txt").exists()
    assert os.listdir(elsewhere) == []
    scene.assert_held()


def test_create_fresh_replaces_a_file_or_a_link_by_an_empty_file(
    scene: Scene, umask022: None, elsewhere: Path
) -> None:
    logs = scene.ws / "logs"
    (logs / "file").write_text("old text")
    (logs / "link").symlink_to(scene.outside / "notes.txt")
    (elsewhere / "file").write_text("cwd")
    before = fds()
    with safeio.open_dir(scene.ws, "logs") as fd:
        made = [safeio.create_fresh(fd, n) for n in ("file", "link", "none")]
        made.append(safeio.create_fresh(fd, "narrow", 0o600))
    try:
        assert all(cloexec(f) for f in made)
        assert all(fcntl.fcntl(f, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY for f in made)
        os.write(made[1], b"mine")
    finally:
        for f in made:
            os.close(f)
    assert fds() == before
    assert (logs / "file").read_bytes() == b""
    assert not (logs / "link").is_symlink() and (logs / "link").read_bytes() == b"mine"
    assert [mode(logs / n) for n in ("file", "link", "none", "narrow")] == [0o644] * 3 + [0o600]
    assert (elsewhere / "file").read_text() == "cwd"
    scene.assert_held()


def test_unlink_if_link_removes_links_only(scene: Scene, elsewhere: Path) -> None:
    out = scene.ws / "output"
    (out / "link").symlink_to(scene.outside / "notes.txt")
    (out / "dangling").symlink_to(scene.outside / "none")
    (elsewhere / "link").symlink_to(scene.outside / "notes.txt")
    with safeio.open_dir(scene.ws, "output") as fd:
        assert safeio.unlink_if_link(fd, "link") is True
        assert safeio.unlink_if_link(fd, "dangling") is True
        assert safeio.unlink_if_link(fd, "pred.csv") is False
        assert safeio.unlink_if_link(fd, "missing") is False
    assert os.listdir(out) == ["pred.csv"]
    assert (elsewhere / "link").is_symlink()
    scene.assert_held()


# -- chown_entries ----------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_chown_entries_gives_the_folder_and_its_entries_not_deeper_or_outside(
    scene: Scene,
) -> None:
    out = scene.ws / "output"
    (out / "sub").mkdir()
    (out / "sub" / "deep.txt").write_text("d")
    (out / "notes").symlink_to(scene.outside / "notes.txt")
    safeio.chown_entries(scene.ws, "output", uid=65534, gid=65533)
    for path in (out, out / "pred.csv", out / "sub", out / "notes"):
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (65534, 65533), path
    assert (os.lstat(out / "sub" / "deep.txt").st_uid, os.lstat(scene.ws).st_uid) == (0, 0)
    scene.assert_held()


# -- linked_part, refuse_linked_prediction ----------------------------------------------


def test_linked_part_names_the_first_link_below_the_top_folder(scene: Scene) -> None:
    out = scene.ws / "output"
    assert safeio.linked_part(scene.ws, "output/pred.csv") is None
    (out / "a").mkdir()
    (out / "a" / "b").symlink_to(scene.outside / "deep")
    (out / "c").symlink_to(out / "a")
    assert safeio.linked_part(scene.ws, "output/a/b/key.txt") == "output/a/b"
    assert safeio.linked_part(scene.ws, "output/c/b/key.txt") == "output/c"
    link_top(scene, "input")
    assert safeio.linked_part(scene.ws, "input/gt.csv") is None  # check_top_level's part


def predictions(link: str, kind: str) -> dict[str, Any]:
    return {
        "code": "NO_PREDICTIONS",
        "message": f"{link} is a {kind} link; write a regular file",
        "field": link,
        "details": {"file": link, "reason": f"{kind}_link", "fault": PART},
    }


def test_refuse_linked_prediction(scene: Scene) -> None:
    out = scene.ws / "output"
    safeio.refuse_linked_prediction(scene.ws, "output/pred.csv")  # a file of its own
    safeio.refuse_linked_prediction(scene.ws, "output/none.csv")  # missing: not a link
    (out / "dir").mkdir()
    safeio.refuse_linked_prediction(scene.ws, "output/dir")  # a folder has links of its own
    (out / "gt.csv").symlink_to(scene.ws / "input" / "gt.csv")
    with pytest.raises(NoPredictions) as sym:
        safeio.refuse_linked_prediction(scene.ws, "output/gt.csv")
    assert error(sym) == predictions("output/gt.csv", "symbolic")
    (out / "sub").symlink_to(scene.outside / "deep")
    with pytest.raises(NoPredictions) as under:
        safeio.refuse_linked_prediction(scene.ws, "output/sub/key.txt")
    assert error(under) == predictions("output/sub", "symbolic")
    (out / "hard.csv").hardlink_to(scene.ws / "input" / "gt.csv")
    with pytest.raises(NoPredictions) as hard:
        safeio.refuse_linked_prediction(scene.ws, "output/hard.csv")
    assert error(hard) == predictions("output/hard.csv", "hard")
    scene.assert_held()


def test_refuse_linked_prediction_checks_the_top_entries(scene: Scene) -> None:
    link_top(scene, "output")
    with pytest.raises(WorkspaceInvalid) as exc:
        safeio.refuse_linked_prediction(scene.ws, "output/pred.csv")
    assert error(exc) == top_link("output")


def test_write_atomic_raises_the_first_error_when_the_cleanup_fails_too(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file already gone (removed by someone else): the replace's error stays."""

    def replace(src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
        os.unlink(src, dir_fd=src_dir_fd)
        raise OSError(errno.EIO, "replace failed")

    monkeypatch.setattr(os, "replace", replace)
    with safeio.open_dir(scene.ws, "logs") as fd, pytest.raises(OSError) as exc:
        safeio.write_atomic(fd, "run_info.json", b"{}")
    assert (exc.value.errno, exc.value.strerror) == (errno.EIO, "replace failed")
    assert os.listdir(scene.ws / "logs") == []
