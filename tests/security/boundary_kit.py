"""Link tricks on workspace paths, an outside folder to guard, and a secret that must not leak.

Every test builds a :class:`Scene`: a workspace under ``workspaces/`` (the allowed
root) and a folder ``outside/`` beside it holding files whose bytes carry
:data:`SECRET`. A trick replaces one workspace path by a symbolic link; the test
then drives a surface (library, CLI, API, sandbox) and checks, with
:meth:`Scene.assert_held`, that the outside folder is byte-, owner- and
mode-identical and that the secret (and ``/etc/passwd``'s first line) appears in
no response, log line or file of the workspace.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET = f"HOSTSECRET{uuid.uuid4().hex}"
PASSWD_MARK = "0:0:root"  # /etc/passwd's first line is root:x:0:0:root:/root:/bin/bash
N = 20
LABELS = ("cat", "dog")


def gt_rows() -> list[tuple[str, str]]:
    return [(f"s{i}", LABELS[i % 2]) for i in range(N)]


def write_classification(root: Path) -> Path:
    """A score-only workspace whose honest prediction scores below 1 (four rows wrong)."""
    for name in ("input", "output", "logs"):
        (root / name).mkdir(parents=True, exist_ok=True)
    gt = gt_rows()
    pred = [(i, LABELS[(LABELS.index(v) + (k < 4)) % 2]) for k, (i, v) in enumerate(gt)]
    (root / "input" / "gt.csv").write_text(_csv(gt))
    (root / "output" / "pred.csv").write_text(_csv(pred))
    meta = {"job_id": root.name, "task_type": "classification", "scorer": "classification_f1"}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def _csv(rows: list[tuple[str, str]]) -> str:
    return "id,label\n" + "".join(f"{i},{v}\n" for i, v in rows)


def write_outside(path: Path) -> Path:
    """Files a link trick points at: each would leak :data:`SECRET` if read and quoted."""
    path.mkdir(parents=True)
    secret_csv = f"{SECRET},{SECRET}\n{SECRET}1,x\n"
    (path / "secret.csv").write_text(secret_csv)
    (path / "gt.csv").write_text(secret_csv)  # what a linked input/ would offer as gt
    (path / "pred.csv").write_text(_csv(gt_rows()))  # a valid, perfect prediction
    meta = {"scorer": "classification_f1", "description": SECRET, "job_id": "outside"}
    (path / "meta.json").write_text(json.dumps(meta))
    (path / "notes.txt").write_text(f"{SECRET}\n")
    os.chmod(path / "notes.txt", 0o640)
    (path / "deep").mkdir()
    (path / "deep" / "key.txt").write_text(f"{SECRET}-deep\n")
    os.chmod(path / "deep", 0o750)
    return path


def digest(folder: Path) -> list[tuple[Any, ...]]:
    """Names, types, modes, owners and contents under ``folder`` (links not followed)."""
    out: list[tuple[Any, ...]] = []
    for dirpath, dirs, files in os.walk(folder, followlinks=False):
        for name in [".", *sorted(dirs), *sorted(files)]:
            path = Path(dirpath) / name
            st = path.lstat()
            content: str | None = None
            if path.is_symlink():
                content = os.readlink(path)
            elif path.is_file():
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            rel = path.relative_to(folder).as_posix()
            out.append((rel, st.st_mode, st.st_uid, st.st_gid, st.st_size, content))
    return sorted(out)


def workspace_text(root: Path) -> str:
    """Every regular file of the workspace (not through links), as one text to search."""
    parts = []
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def _replace(path: Path, target: str | Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


@dataclass(frozen=True)
class Trick:
    """One link planted in a workspace, and the error code that refuses it."""

    name: str
    plant: Callable[[Path, Path], None]
    code: str
    top_level: bool = False


def _link(rel: str, target: Callable[[Path, Path], str | Path]) -> Callable[[Path, Path], None]:
    def plant(ws: Path, outside: Path) -> None:
        _replace(ws / rel, target(ws, outside))

    return plant


def _rel(ws: Path, rel: str, to: Path) -> str:
    return os.path.relpath(to, (ws / rel).parent)


def _hard_link_to_gt(ws: Path, outside: Path) -> None:
    """Score-only: the prediction is another name of the ground truth (same inode)."""
    (ws / "output" / "pred.csv").unlink()
    os.link(ws / "input" / "gt.csv", ws / "output" / "pred.csv")


WI, NP = "WORKSPACE_INVALID", "NO_PREDICTIONS"
TRICKS = [
    Trick("gt-absolute", _link("input/gt.csv", lambda w, o: o / "secret.csv"), WI),
    Trick(
        "gt-relative",
        _link("input/gt.csv", lambda w, o: _rel(w, "input/gt.csv", o / "secret.csv")),
        WI,
    ),
    Trick("gt-etc-passwd", _link("input/gt.csv", lambda w, o: "/etc/passwd"), WI),
    Trick("pred-absolute", _link("output/pred.csv", lambda w, o: o / "secret.csv"), NP),
    Trick(
        "pred-relative",
        _link("output/pred.csv", lambda w, o: _rel(w, "output/pred.csv", o / "secret.csv")),
        NP,
    ),
    Trick(
        "pred-into-input",
        _link("output/pred.csv", lambda w, o: "../input/gt.csv"),
        NP,
    ),
    Trick("pred-hard-link-to-gt", _hard_link_to_gt, NP),
    Trick(
        "pred-into-input-absolute",
        _link("output/pred.csv", lambda w, o: w / "input" / "gt.csv"),
        NP,
    ),
    Trick("input-folder", _link("input", lambda w, o: o), WI, top_level=True),
    Trick("output-folder", _link("output", lambda w, o: o), WI, top_level=True),
    Trick(
        "output-folder-relative",
        _link("output", lambda w, o: os.path.relpath(o, w)),
        WI,
        top_level=True,
    ),
    Trick("logs-folder", _link("logs", lambda w, o: o), WI, top_level=True),
    Trick("logs-to-etc", _link("logs", lambda w, o: "/etc"), WI, top_level=True),
    Trick("meta-json", _link("meta.json", lambda w, o: o / "meta.json"), WI, True),
]
BY_NAME = {t.name: t for t in TRICKS}


@dataclass
class Scene:
    """``tmp/workspaces/ws`` (the workspace), ``tmp/outside`` (guarded) and its digest."""

    tmp: Path
    roots: Path = field(init=False)
    ws: Path = field(init=False)
    outside: Path = field(init=False)
    before: list[tuple[Any, ...]] = field(init=False)
    etc_before: list[tuple[Any, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.roots = self.tmp / "workspaces"
        self.ws = write_classification(self.roots / "ws")
        self.outside = write_outside(self.tmp / "outside")
        self.before = digest(self.outside)
        self.etc_before = _etc_digest()

    def plant(self, trick: Trick) -> Scene:
        trick.plant(self.ws, self.outside)
        return self

    def assert_held(self, *texts: object) -> None:
        """Outside unchanged; neither the secret nor /etc/passwd in any text or workspace file."""
        assert digest(self.outside) == self.before, "a file outside the workspace changed"
        assert _etc_digest() == self.etc_before, "/etc/passwd or /etc/.gitkeep changed"
        blob = "\n".join(str(t) for t in texts) + workspace_text(self.ws)
        assert SECRET not in blob, "bytes of a file outside the workspace leaked"
        assert PASSWD_MARK not in blob, "bytes of /etc/passwd leaked"


def _etc_digest() -> list[tuple[Any, ...]]:
    out = []
    for name in ("passwd", ".gitkeep", "result.json", "container.log", "run_info.json"):
        path = Path("/etc") / name
        if path.exists():
            st = path.stat()
            out.append((name, st.st_mode, st.st_uid, st.st_gid, path.read_bytes()))
    return out
