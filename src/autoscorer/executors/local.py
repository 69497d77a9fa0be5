"""Local executor: a subprocess with rlimits, inside ``bwrap`` when available.

Weaker than Docker (see docs/executors.md): it runs the *host's* binaries (the
image is ignored), memory is enforced by an address-space rlimit plus an RSS
watchdog rather than a cgroup, and without bwrap the submission can read
anything the run user can read on the host.

With bwrap the sandbox has its own network (none), pid, ipc and uts
namespaces, a read-only view of the system directories, the same
``/workspace`` layout as Docker, and runs as a non-root user: when AutoScorer
is root, bwrap mounts as root and ``setpriv`` drops to the run user inside;
otherwise bwrap uses an unprivileged user namespace. ``prlimit`` applies the
rlimits as the last step before the submission's command, so the process
limit counts the sandbox's processes.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from autoscorer.errors import ExecutionFailed, ExecutorUnavailable
from autoscorer.executors.base import (
    SANDBOX_ROOT,
    Executor,
    Middleware,
    Run,
    RunSpec,
    Sample,
    SandboxState,
)
from autoscorer.executors.base import Sandbox as _Sandbox
from autoscorer.executors.spec import check_user, default_user, grant_writable

# read-only system paths visible in the sandbox (symlinks are recreated as symlinks)
SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/localtime",
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def rlimit_args(spec: RunSpec, as_factor: float, max_file_bytes: int) -> list[str]:
    """``prlimit`` options: address space, CPU seconds, processes, file size, no core dumps."""
    address_space = int(spec.memory_bytes * as_factor) + 256 * 1024**2
    cpu_seconds = math.ceil(spec.time_limit * max(spec.cpu, 1.0)) + 5
    fsize = spec.disk_bytes or max_file_bytes
    return [
        f"--as={address_space}",
        f"--cpu={cpu_seconds}",
        f"--nproc={spec.pids}",
        f"--fsize={fsize}",
        "--core=0",
        "--nofile=1024",
    ]


def _system_args(paths: tuple[str, ...]) -> list[str]:
    args: list[str] = []
    for p in paths:
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
        elif os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


def _mount_args(spec: RunSpec) -> list[str]:
    # folders holding a nested mount (input/data when only input/data/x is visible) are
    # made explicitly: bwrap would create them 0700 root, unreadable to the run user
    parents = {f"{SANDBOX_ROOT}/input"}
    for m in spec.mounts:
        parent = Path(m.target).parent
        while parent.as_posix().startswith(f"{SANDBOX_ROOT}/input/"):
            parents.add(parent.as_posix())
            parent = parent.parent
    args = []
    for d in sorted(parents):
        args += ["--perms", "0755", "--dir", d]
    for m in spec.mounts:
        args += ["--ro-bind" if m.read_only else "--bind", str(m.source), m.target]
    return args


class LocalSandbox(_Sandbox):
    """A process group (and its bwrap namespaces) watched for memory use."""

    def __init__(self, proc: subprocess.Popen[bytes], memory_limit: int, cleanup: Path | None):
        self.proc, self.memory_limit, self.cleanup = proc, memory_limit, cleanup
        self.id = f"pid-{proc.pid}"
        self.image_digest = None
        self.oom = False
        self.started, self.finished = time.time(), 0.0
        self._samples: queue.Queue[Sample | None] = queue.Queue(maxsize=1000)
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=256)
        self._drained = threading.Event()
        self._reading = threading.Event()  # someone consumes logs(): never drop output
        self._tree: set[psutil.Process] = set()
        self._io: dict[int, int] = {}  # pid -> bytes read + written, as last seen
        threading.Thread(target=self._watch, name=f"watch-{proc.pid}", daemon=True).start()
        threading.Thread(target=self._drain, name=f"out-{proc.pid}", daemon=True).start()

    def _processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        self._tree.update(found)
        return found

    def _measure(self, procs: list[psutil.Process]) -> tuple[int, float]:
        rss, cpu = 0, 0.0
        for p in procs:
            try:
                rss += p.memory_info().rss
                times = p.cpu_times()
                cpu += times.user + times.system
                io = p.io_counters()
                self._io[p.pid] = io.read_bytes + io.write_bytes
            except (psutil.Error, AttributeError):  # AttributeError: no io_counters here
                continue
        return rss, cpu

    def _watch(self, interval: float = 0.1) -> None:
        last_cpu, last_t = 0.0, time.monotonic()
        while self.proc.poll() is None:
            rss, cpu = self._measure(self._processes())
            now = time.monotonic()
            cores = max(cpu - last_cpu, 0.0) / max(now - last_t, 1e-3)
            last_cpu, last_t = cpu, now
            if rss > self.memory_limit:
                self.oom = True
                self.kill()
            with contextlib.suppress(queue.Full):
                io = sum(self._io.values()) if self._io else None  # exited ones as last seen
                self._samples.put_nowait(Sample(cpu=cores, memory=rss, disk_io=io))
            time.sleep(interval)
        self._samples.put(None)

    def wait(self, timeout: float) -> int | None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.finished = self.finished or time.time()
        return 128 - code if code < 0 else code  # -9 -> 137, as a container reports it

    def kill(self) -> None:
        procs = self._processes() or list(self._tree)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for p in procs:  # children that left the group with setsid()
            with contextlib.suppress(psutil.Error):
                p.kill()

    def _drain(self) -> None:
        """Always read the pipe, so a process never blocks on a full pipe.

        Without a consumer of :meth:`logs` (no LogCapture) output beyond the
        queue is dropped; with one, the queue applies back-pressure instead.
        """
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 65536):
                if self._reading.is_set():
                    self._chunks.put(chunk)
                else:
                    with contextlib.suppress(queue.Full):
                        self._chunks.put_nowait(chunk)
        except OSError:
            pass  # pipe closed by remove()
        finally:
            self._drained.set()

    def logs(self) -> Iterator[bytes]:
        self._reading.set()
        while True:
            try:
                yield self._chunks.get(timeout=0.1)
            except queue.Empty:
                if self._drained.is_set():
                    break
        while not self._chunks.empty():  # what arrived between the last get and the end
            yield self._chunks.get_nowait()

    def stats(self) -> Iterator[Sample]:
        while (sample := self._samples.get()) is not None:
            yield sample

    def finish(self) -> SandboxState:
        self.kill()  # the run ends with its main process, as in a container
        code = self.wait(5)
        return SandboxState(
            exit_code=code,
            oom_killed=self.oom,
            started_at=_iso(self.started),
            finished_at=_iso(self.finished or time.time()),
        )

    def remove(self) -> None:
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.cleanup is not None:
            shutil.rmtree(self.cleanup, ignore_errors=True)


class LocalExecutor(Executor):
    """Runs each spec as a local process tree; ``sandbox`` is ``auto``, ``bwrap`` or ``none``."""

    name = "local"
    stages_disk = True

    def __init__(
        self,
        *,
        sandbox: str = "auto",
        user: str | None = None,
        system_paths: tuple[str, ...] = SYSTEM_PATHS,
        address_space_factor: float = 2.0,
        max_file_bytes: int = 1024**3,
        tmpfs_bytes: int = 256 * 1024**2,
        middleware: list[Middleware] | None = None,
    ) -> None:
        super().__init__(middleware)
        if sandbox not in ("auto", "bwrap", "none"):
            raise ValueError(f"sandbox must be auto, bwrap or none, not {sandbox!r}")
        self.bwrap = shutil.which("bwrap") if sandbox != "none" else None
        if sandbox == "bwrap" and self.bwrap is None:
            raise ExecutorUnavailable(
                "bwrap (bubblewrap) is not installed; apt-get install bubblewrap, "
                "or use sandbox='none' (much weaker isolation)",
                details={"executor": "local"},
            )
        self.prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
        self.user = check_user(user, "user") if user else None
        self.system_paths, self.as_factor = system_paths, address_space_factor
        self.max_file_bytes, self.tmpfs_bytes = max_file_bytes, tmpfs_bytes

    @property
    def sandboxed(self) -> bool:
        return self.bwrap is not None

    def _user(self, spec: RunSpec) -> tuple[int, int]:
        if spec.user:
            user = check_user(spec.user, "container.user")
        else:
            user = check_user(self.user or default_user(), "user")
        uid, _, gid = user.partition(":")
        return int(uid), int(gid)

    def _bwrap_argv(self, spec: RunSpec, uid: int, gid: int) -> list[str]:
        assert self.bwrap is not None
        ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        ns += ["--unshare-cgroup-try"]
        drop: list[str] = []
        if os.geteuid() == 0:  # mount as root, then drop to the run user inside
            drop = [
                "setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
            ]  # fmt: skip
        else:
            ns += ["--unshare-user", "--uid", str(uid), "--gid", str(gid)]
        return [
            self.bwrap, *ns, "--die-with-parent", "--new-session", "--hostname", "sandbox",
            *_system_args(self.system_paths), "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(self.tmpfs_bytes), "--tmpfs", "/tmp",
            *_mount_args(spec), "--remount-ro", "/", "--chdir", spec.working_dir,
            *drop, "prlimit", *rlimit_args(spec, self.as_factor, self.max_file_bytes), "--",
        ]  # fmt: skip

    def argv(self, spec: RunSpec) -> list[str]:
        """The full command line (bwrap mode) or the rlimit wrapper (no sandbox)."""
        if not spec.cmd:
            raise ExecutionFailed(
                "container.cmd is empty; the local executor cannot use an image's default command",
                field="container.cmd",
            )
        if self.bwrap is None:
            return [self.prlimit, *rlimit_args(spec, self.as_factor, self.max_file_bytes), "--"]
        return [*self._bwrap_argv(spec, *self._user(spec)), *spec.cmd]

    def describe(self, spec: RunSpec) -> dict[str, Any]:
        uid, gid = self._user(spec)
        return {
            "executor": self.name,
            "sandbox": "bwrap" if self.sandboxed else "none",
            "argv": self.argv(spec) + ([] if self.sandboxed else spec.cmd),
            "user": f"{uid}:{gid}",
            "env": spec.env,
            "working_dir": spec.working_dir,
            "memory_watchdog_bytes": spec.memory_bytes,
            "image_ignored": spec.image,
        }

    def start(self, spec: RunSpec, run: Run) -> LocalSandbox:
        uid, gid = self._user(spec)
        grant_writable(spec, f"{uid}:{gid}")
        if spec.gpus:
            run.log("WARNING", "the local executor does not isolate GPUs; gpus ignored")
        argv, env, cwd, cleanup = self._plain(spec, run) if not self.sandboxed else (
            self.argv(spec), spec.env, "/", None)  # fmt: skip
        as_root = os.geteuid() == 0
        try:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=uid if as_root and not self.sandboxed else None,
                group=gid if as_root and not self.sandboxed else None,
                extra_groups=[] if as_root and not self.sandboxed else None,
            )
        except OSError as exc:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
            raise ExecutorUnavailable(f"could not start {argv[0]}: {exc}") from exc
        run.log(
            "INFO", f"process {proc.pid} started ({'bwrap' if self.sandboxed else 'no sandbox'})"
        )
        return LocalSandbox(proc, spec.memory_bytes, cleanup)

    def _plain(self, spec: RunSpec, run: Run) -> tuple[list[str], dict[str, str], str, Path]:
        """No bwrap: a view directory standing in for /workspace (symlinks, gt left out)."""
        run.log("WARNING", "bwrap is not available: running WITHOUT a sandbox (rlimits only)")
        view = Path(tempfile.mkdtemp(prefix="autoscorer-view-"))
        view.chmod(0o755)
        for m in spec.mounts:
            link = view / Path(m.target).relative_to(SANDBOX_ROOT)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(m.source)
        (view / "input").mkdir(exist_ok=True)

        def remap(value: str) -> str:
            return (
                str(view) + value[len(SANDBOX_ROOT) :] if value.startswith(SANDBOX_ROOT) else value
            )

        env = {k: remap(v) for k, v in spec.env.items()}
        argv = [*self.argv(spec), *(remap(a) for a in spec.cmd)]
        return argv, env, remap(spec.working_dir), view

    def health(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "sandbox": "bwrap" if self.sandboxed else "none",
            "bwrap": self.bwrap,
        }
