"""The disk quota: ``output/`` and ``logs/`` of a run live on a filesystem of the quota's size.

Before the sandbox starts, a sparse file of ``spec.disk_bytes`` is formatted as
ext4 (no journal, no reserved blocks) and loop-mounted ``nosuid,nodev,discard``
on the host; its ``output/`` and ``logs/`` folders are mounted into the sandbox
instead of the workspace's. A write past the quota fails inside the sandbox
with ``ENOSPC``: nothing is checked after the fact. When the sandbox has ended,
the regular files and folders it wrote are copied into the workspace (links,
devices and pipes are left out, nothing is followed on either side) and the
filesystem is removed. Where no loop device can be had, a ``tmpfs`` of the same
size is used. Mounting needs root; see docs/executors.md for a non-root caller.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from autoscorer.errors import ExecutionFailed
from autoscorer.executors.base import SANDBOX_ROOT, Mount, Run, RunSpec, logger

# files AutoScorer itself writes into logs/: never replaced by the sandbox's
RESERVED_LOGS = frozenset({"container.log", "run_info.json"})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def staging_root() -> Path:
    return Path(tempfile.gettempdir()) / "autoscorer-disk"


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise OSError(f"{argv[0]} failed: {(proc.stderr or proc.stdout).strip()[:300]}")


def full_slack(limit: int) -> int:
    """Free bytes below which the quota counts as hit.

    ext4 refuses a large write while a few hundred KiB are still free (its
    delayed-allocation reserve), so "full" means less than 1 MiB, or 2 % of the
    quota (at most 4 MiB), left.
    """
    return min(4 * 1024**2, max(1024**2, limit // 50))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(base: Path) -> list[str]:
    """Remove the filesystems of runs whose process died (a crash, a kill -9)."""
    removed = []
    for root in base.iterdir():
        try:
            pid = int((root / "owner").read_text())
        except (OSError, ValueError):
            pid = 0  # not written yet, or by a process that died before writing it
            with contextlib.suppress(OSError):
                if time.time() - root.stat().st_mtime < 60:
                    continue
        if pid == os.getpid() or (pid and _alive(pid)):
            continue
        mounted = f" {root / 'mnt'} " in Path("/proc/self/mountinfo").read_text()
        DiskQuota(0, root, mounted=mounted).release()
        removed.append(root.name)
    return removed


@dataclass
class DiskQuota:
    """The size-limited filesystem of one run; :meth:`release` always removes it."""

    limit: int
    root: Path
    mounted: bool = False
    kind: str = ""
    skipped: list[str] = field(default_factory=list)

    @property
    def mnt(self) -> Path:
        return self.root / "mnt"

    @classmethod
    def create(cls, limit: int, job_id: str, base: Path | None = None) -> DiskQuota:
        """Make and mount the filesystem (ExecutionFailed when neither way works)."""
        base = base or staging_root()
        base.mkdir(mode=0o711, parents=True, exist_ok=True)
        reap_stale(base)
        quota = cls(limit, base / f"{job_id}-{secrets.token_hex(4)}")
        quota.root.mkdir(mode=0o711)  # traversable: the no-bwrap mode links here
        (quota.root / "owner").write_text(str(os.getpid()))
        quota.mnt.mkdir()
        try:
            quota._mount()
        except OSError as exc:
            quota.release()
            raise ExecutionFailed(
                f"could not set up the disk quota of {limit} bytes: {exc} (a size-limited "
                "filesystem needs root; see docs/executors.md)",
                field="resources.disk",
            ) from exc
        return quota

    def _mount(self) -> None:
        image = self.root / "disk.img"
        with open(image, "wb") as fh:
            fh.truncate(self.limit)
        opts = "nosuid,nodev"
        try:
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", str(image)])
            _run(["mount", "-t", "ext4", "-o", f"loop,{opts},discard", str(image), str(self.mnt)])
            self.kind = "ext4"
        except (OSError, subprocess.SubprocessError):
            image.unlink(missing_ok=True)
            _run(["mount", "-t", "tmpfs", "-o", f"{opts},size={self.limit},mode=0700", "tmpfs",
                  str(self.mnt)])  # fmt: skip
            self.kind = "tmpfs"
        self.mounted = True
        for name in ("output", "logs"):
            (self.mnt / name).mkdir(mode=0o755, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (self.mnt / "lost+found").rmdir()

    def staged(self, spec: RunSpec) -> RunSpec:
        """``spec`` with ``output/`` and ``logs/`` mounted from this filesystem."""
        targets = {f"{SANDBOX_ROOT}/output": "output", f"{SANDBOX_ROOT}/logs": "logs"}
        mounts = [
            Mount(self.mnt / targets[m.target], m.target, read_only=False)
            if m.target in targets and not m.read_only
            else m
            for m in spec.mounts
        ]
        return replace(spec, mounts=mounts)

    def exceeded(self) -> bool:
        """Whether the sandbox ran the filesystem full (bytes or inodes)."""
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize < full_slack(self.limit) or st.f_favail == 0

    def collect(self, spec: RunSpec) -> int:
        """Copy what the sandbox wrote into the workspace; the bytes copied."""
        total = 0
        ws = spec.workspace
        for name, dest in (("output", ws.output_dir), ("logs", ws.logs_dir)):
            src_fd = os.open(self.mnt / name, _DIR_FLAGS)
            try:
                dest.mkdir(parents=True, exist_ok=True)
                dst_fd = os.open(dest, _DIR_FLAGS)
            except OSError:
                os.close(src_fd)
                self.skipped.append(f"{name}/")
                continue
            try:
                reserved = RESERVED_LOGS if name == "logs" else frozenset()
                total += self._copy_dir(src_fd, dst_fd, name, reserved)
            finally:
                os.close(src_fd)
                os.close(dst_fd)
        return total

    def _copy_dir(self, src_fd: int, dst_fd: int, rel: str, reserved: frozenset[str]) -> int:
        total = 0
        for entry in os.scandir(src_fd):
            path = f"{rel}/{entry.name}"
            if entry.name in reserved or entry.is_symlink():
                self.skipped.append(path)
            elif entry.is_dir(follow_symlinks=False):
                total += self._copy_subdir(src_fd, dst_fd, entry.name, path)
            elif entry.is_file(follow_symlinks=False):
                total += self._copy_file(src_fd, dst_fd, entry.name, path)
            else:
                self.skipped.append(path)
        return total

    def _copy_subdir(self, src_fd: int, dst_fd: int, name: str, path: str) -> int:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=dst_fd)
        try:
            sub_dst = os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
        except OSError:  # a file or a link of that name in the workspace: not followed
            self.skipped.append(path)
            return 0
        sub_src = os.open(name, _DIR_FLAGS, dir_fd=src_fd)
        try:
            return self._copy_dir(sub_src, sub_dst, path, frozenset())
        finally:
            os.close(sub_src)
            os.close(sub_dst)

    def _copy_file(self, src_fd: int, dst_fd: int, name: str, path: str) -> int:
        tmp = f".autoscorer-copy-{secrets.token_hex(6)}"
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src_fd)
        try:
            st = os.fstat(src)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            dst = os.open(tmp, flags, 0o600, dir_fd=dst_fd)
            try:
                with os.fdopen(os.dup(src), "rb") as fin, os.fdopen(os.dup(dst), "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1024**2)
                os.fchmod(dst, (st.st_mode & 0o755) | 0o600)
                os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst)
            os.rename(tmp, name, src_dir_fd=dst_fd, dst_dir_fd=dst_fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dst_fd)
            self.skipped.append(path)
            return 0
        finally:
            os.close(src)
        os.unlink(name, dir_fd=src_fd)  # frees the image's blocks (discard) as it goes
        return int(st.st_size)

    def release(self) -> None:
        """Unmount (lazily when still busy) and delete the filesystem; safe to call twice."""
        if self.mounted:
            for attempt in range(5):  # a killed process can take a moment to let go
                try:
                    _run(["umount", *(["-l"] if attempt == 4 else []), str(self.mnt)])
                    self.mounted = False
                    break
                except OSError as exc:
                    if attempt == 4:
                        logger.error("could not unmount %s: %s", self.mnt, exc)
                        return  # never delete files below a live mount
                    time.sleep(0.1 * (attempt + 1))
        shutil.rmtree(self.root, ignore_errors=True)


def stage_disk(run: Run) -> None:
    """Mount ``run``'s output/ and logs/ from a filesystem of ``spec.disk_bytes`` (root only)."""
    assert run.spec.disk_bytes
    if os.geteuid() != 0:
        run.log(
            "WARNING",
            "the disk quota is not enforced: a size-limited filesystem needs root "
            "(each file is still limited to resources.disk)",
        )
        return
    quota = DiskQuota.create(run.spec.disk_bytes, run.spec.job_id)
    run.scratch["disk"] = quota
    run.spec = quota.staged(run.spec)


def collect_disk(run: Run) -> None:
    """After the sandbox ended: whether it filled the quota, its files copied, the fs gone."""
    quota: DiskQuota = run.scratch.pop("disk")
    try:
        run.disk_full = quota.exceeded()
        run.extra["disk_bytes_written"] = quota.collect(run.spec)
        run.scratch["not_copied"] = list(quota.skipped)
        if quota.skipped:
            shown = ", ".join(quota.skipped[:10])
            run.log("WARNING", f"not copied to the workspace (links, special files): {shown}")
    except OSError as exc:
        logger.exception("could not copy the sandbox's files of %s", run.spec.job_id)
        run.log("ERROR", f"could not copy the sandbox's files into the workspace: {exc}")
    finally:
        quota.release()
