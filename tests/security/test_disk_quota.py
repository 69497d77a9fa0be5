"""Attack: fill the host's disk from inside the sandbox (issue 11, item 4).

``resources.disk`` bounds the *total* bytes a sandbox writes into ``output/`` and
``logs/``: the writes past it fail inside the sandbox, the job ends with
``DISK_QUOTA_EXCEEDED``, the workspace holds no more than the quota afterwards,
and nothing outside the workspace changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import python, write_workspace

from autoscorer.executors.base import Executor
from autoscorer.executors.quota import staging_root
from autoscorer.executors.spec import build_spec
from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.workspace.layout import Workspace

QUOTA = 8 * 1024**2
HOST_FILES = {"container.log", "run_info.json", "result.json"}  # written by AutoScorer

# six 4 MiB files (each below the quota, 24 MiB together), split over output/ and logs/
FILL = r"""
import os, json
done, errors = [], []
for i in range(6):
    folder = '/workspace/output' if i % 2 else '/workspace/logs'
    try:
        with open(f'{folder}/blob{i}', 'wb') as fh:
            for _ in range(4):
                fh.write(os.urandom(1024 * 1024))
        done.append(i)
    except OSError as exc:
        errors.append(exc.errno)
print('written', done, 'errors', errors, flush=True)
open('/workspace/output/pred.csv', 'w').write('id,label\n')
"""


def tree_digest(root: Path) -> dict[str, Any]:
    """Every entry under ``root``: content digest, owner and mode."""
    out: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        out[str(path.relative_to(root))] = (digest, st.st_uid, st.st_gid, oct(st.st_mode))
    return out


def sandbox_bytes(root: Path) -> int:
    """Bytes in output/ and logs/ besides the files AutoScorer writes itself."""
    total = 0
    for folder in ("output", "logs"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and not path.is_symlink() and path.name not in HOST_FILES:
                total += path.stat().st_size
    return total


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "keep.txt").write_text("host data\n")
    return folder


def _no_staging_left() -> None:
    root = staging_root()
    assert not root.exists() or list(root.iterdir()) == []
    assert str(root) not in Path("/proc/self/mountinfo").read_text()


def _workspace(tmp_path: Path, code: str, **resources: Any) -> Path:
    res = {"cpu": 1, "memory": "256Mi", "pids": 64, "disk": "8Mi", **resources}
    return write_workspace(tmp_path / "ws", python(code), resources=res)


@pytest.mark.skipif(os.geteuid() != 0, reason="the size-limited filesystem needs root")
def test_writes_stop_at_the_quota(executor: Executor, tmp_path: Path, outside: Path) -> None:
    before = tree_digest(outside)
    root = _workspace(tmp_path, FILL)
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert result.error is not None and result.error.code == "DISK_QUOTA_EXCEEDED"
    assert result.error.details["fault"] == "participant"
    log = (root / "logs" / "container.log").read_text()
    assert "errors [28" in log  # ENOSPC inside the sandbox: the writes really stopped
    assert sandbox_bytes(root) <= QUOTA
    assert tree_digest(outside) == before
    run_info = json.loads((root / "logs" / "run_info.json").read_text())
    assert run_info["error"]["code"] == "DISK_QUOTA_EXCEEDED"
    _no_staging_left()


@pytest.mark.skipif(os.geteuid() != 0, reason="the size-limited filesystem needs root")
def test_within_the_quota_everything_is_copied_back(executor: Executor, tmp_path: Path) -> None:
    code = (
        "import os\nos.makedirs('/workspace/output/deep/er')\n"
        "open('/workspace/output/deep/er/data.bin', 'wb').write(b'x' * (2 << 20))\n"
        "open('/workspace/logs/mine.log', 'w').write('hello')\n"
        "open('/workspace/logs/container.log', 'w').write('forged')\n"
        "os.symlink('/etc/passwd', '/workspace/output/link')\n"
        "os.mkfifo('/workspace/output/fifo')\n"
        "ids = open('/workspace/input/data/ids.txt').read().split()\n"
        "open('/workspace/output/pred.csv', 'w').write("
        "'id,label\\n' + ''.join(f'{i},{int(i) % 3}\\n' for i in ids))\n"
    )
    root = _workspace(tmp_path, code)
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert result.error is None and result.summary.score == 1.0
    assert (root / "output" / "deep" / "er" / "data.bin").stat().st_size == 2 << 20
    assert (root / "logs" / "mine.log").read_text() == "hello"
    assert "forged" not in (root / "logs" / "container.log").read_text()
    assert not (root / "output" / "link").exists() and not (root / "output" / "link").is_symlink()
    assert not (root / "output" / "fifo").exists()
    _no_staging_left()


@pytest.mark.skipif(os.geteuid() != 0, reason="the size-limited filesystem needs root")
def test_copy_back_never_follows_a_link_in_the_workspace(
    executor: Executor, tmp_path: Path, outside: Path
) -> None:
    before = tree_digest(outside)
    code = (
        "import os\nos.makedirs('/workspace/output/sub')\n"
        "open('/workspace/output/sub/keep.txt', 'w').write('overwritten')\n"
        "open('/workspace/output/pred.csv', 'w').write('id,label\\n')\n"
    )
    root = _workspace(tmp_path, code)
    (root / "output" / "sub").symlink_to(outside)  # planted before the run
    run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert tree_digest(outside) == before
    _no_staging_left()


def test_the_default_quota_applies_without_resources_disk(tmp_path: Path) -> None:
    root = write_workspace(tmp_path / "ws", ["true"])
    ws = Workspace.at(root)
    assert build_spec(ws, ws.load_meta()).disk_bytes == 1024**3  # settings' default_disk


def test_a_tiny_or_malformed_disk_is_refused(tmp_path: Path) -> None:
    from autoscorer.errors import WorkspaceInvalid

    for disk in ("10", "lots"):
        root = write_workspace(tmp_path / f"ws-{disk}", ["true"], resources={"disk": disk})
        with pytest.raises((WorkspaceInvalid, ValueError), match=r"disk|memory quantity"):
            Workspace.at(root).load_meta()


@pytest.mark.skipif(os.geteuid() != 0, reason="the size-limited filesystem needs root")
def test_without_a_loop_device_a_tmpfs_of_the_quota_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from autoscorer.executors import quota as quota_module

    real_run = quota_module._run

    def no_mkfs(argv: list[str]) -> None:
        if argv[0] == "mkfs.ext4":
            raise OSError("mkfs.ext4 failed: no loop device here")
        real_run(argv)

    monkeypatch.setattr(quota_module, "_run", no_mkfs)
    disk = quota_module.DiskQuota.create(QUOTA, "tmpfs-test")
    try:
        assert disk.kind == "tmpfs"
        with pytest.raises(OSError, match="No space left"):
            (disk.mnt / "output" / "big").write_bytes(b"x" * (QUOTA + 4096))
        assert disk.exceeded()
    finally:
        disk.release()
    _no_staging_left()
