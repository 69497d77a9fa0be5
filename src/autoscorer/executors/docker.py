"""Docker executor: one locked-down container per run, via the docker SDK.

Isolation: network ``none`` (unless the task's network_policy says otherwise),
read-only root fs with a tmpfs ``/tmp``, ``cap_drop=ALL``, ``no-new-privileges``,
a non-root user, a pids limit, memory = memory+swap, a CPU quota, GPUs by
device request. Every container carries ``autoscorer.*`` labels; it is removed
after the run (also on time-out, cancel and errors), and containers left by a
caller that died are removed by :meth:`DockerExecutor.reap_orphans`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import docker.types
from docker.utils import parse_repository_tag

from autoscorer.errors import ExecutionFailed, ExecutorUnavailable, ImageNotFound, InvalidParameter
from autoscorer.executors.base import (
    SANDBOX_ROOT,
    Executor,
    Middleware,
    Run,
    RunSpec,
    Sample,
    SandboxState,
    logger,
)
from autoscorer.executors.base import Sandbox as _Sandbox
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import check_user, default_user, grant_writable
from autoscorer.workspace.models import format_bytes

LABEL = "autoscorer.managed"
LABEL_OWNER = "autoscorer.owner"
LABEL_DEADLINE = "autoscorer.deadline"
LABEL_KEEP = "autoscorer.keep"
LABEL_JOB = "autoscorer.job_id"
# per file of the engine's json log of a container (two files kept)
ENGINE_LOG_SIZE = "10m"
# how long past its time limit a container may live before any executor removes it
ORPHAN_GRACE = 300


def default_runtime() -> str | None:
    """The ``docker_runtime`` setting (``AUTOSCORER_DOCKER_RUNTIME``, config file)."""
    from autoscorer.settings import Settings

    return Settings().docker_runtime or None


def owner_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _connect(base_url: str | None, timeout: int) -> docker.DockerClient:
    try:
        client = (
            docker.DockerClient(base_url=base_url, timeout=timeout)
            if base_url
            else docker.from_env(timeout=timeout)
        )
        client.ping()
    except Exception as exc:
        where = base_url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise ExecutorUnavailable(
            f"the Docker engine at {where} does not answer ({type(exc).__name__}); start "
            "dockerd (scripts/docker-setup) or use --executor local",
            details={"executor": "docker", "base_url": where},
        ) from exc
    return client


def sample_from_stats(s: dict[str, Any]) -> Sample:
    """CPU cores and memory bytes (without page cache) from one engine stats record."""
    cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    ncpu = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [1])
    cores = cpu_delta / sys_delta * ncpu if sys_delta > 0 and pre.get("system_cpu_usage") else None
    mem = s.get("memory_stats") or {}
    usage = mem.get("usage")
    stats = mem.get("stats") or {}
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    memory = None if usage is None else max(usage - cache, 0)
    return Sample(cpu=cores, memory=memory, disk_io=_block_io(s))


def _block_io(s: dict[str, Any]) -> int | None:
    """Bytes the container read and wrote to block devices so far (cgroup v1 and v2)."""
    entries = (s.get("blkio_stats") or {}).get("io_service_bytes_recursive")
    if entries is None:
        return None
    ops = ("read", "write")
    return sum(int(e.get("value", 0)) for e in entries if str(e.get("op", "")).lower() in ops)


def image_digest(attrs: dict[str, Any]) -> str | None:
    """The registry digest when the image came from one, else the image id."""
    repo_digests = attrs.get("RepoDigests") or []
    if repo_digests:
        return str(repo_digests[0]).rsplit("@", 1)[-1]
    return attrs.get("Id")


class DockerSandbox(_Sandbox):
    """A started container; a thread blocks in ``wait`` so the loop never polls the engine."""

    def __init__(self, container: Any, digest: str | None) -> None:
        self.container = container
        self.id = container.name
        self.image_digest = digest
        self._exit: int | None = None
        self._done = threading.Event()
        threading.Thread(target=self._waiter, name=f"wait-{self.id}", daemon=True).start()

    def _waiter(self) -> None:
        try:
            self._exit = int(self.container.wait()["StatusCode"])
        except Exception:
            self._exit = -1  # engine gone; finish() reports what it can
        finally:
            self._done.set()

    def wait(self, timeout: float) -> int | None:
        return self._exit if self._done.wait(timeout) else None

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.APIError):  # already stopped or gone
            self.container.kill()

    def logs(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
            sent += len(chunk)
            yield chunk
        # a follow stream can end at the container's exit before the engine has written its
        # last lines (seen with fast crashes); the full log has the same bytes in the same order
        self._done.wait(5)
        with contextlib.suppress(docker.errors.APIError):
            rest = self.container.logs(stdout=True, stderr=True)[sent:]
            if rest:
                yield rest

    def stats(self) -> Iterator[Sample]:
        for record in self.container.stats(stream=True, decode=True):
            yield sample_from_stats(record)

    def finish(self) -> SandboxState:
        self.container.reload()
        st = self.container.attrs.get("State", {})
        return SandboxState(
            exit_code=st.get("ExitCode", self._exit),
            oom_killed=bool(st.get("OOMKilled")),
            started_at=st.get("StartedAt"),
            finished_at=st.get("FinishedAt"),
        )

    def remove(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True, v=True)


class DockerExecutor(Executor):
    """Runs each spec in a fresh container on a Docker engine."""

    name = "docker"
    stages_disk = True
    reports_start = True  # create + start only: an image pull is not start-up overhead

    def __init__(
        self,
        *,
        base_url: str | None = None,
        user: str | None = None,
        allow_root: bool = False,
        tmpfs_size: str = "256m",
        restricted_network: str | None = None,
        init: bool = True,
        labels: dict[str, str] | None = None,
        reap_orphans: bool = True,
        timeout: int = 120,
        runtime: str | None = None,
        cleanup: bool = True,
        middleware: list[Middleware] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        super().__init__(middleware)
        self.timeout, self.cleanup = timeout, cleanup
        self.client = client or _connect(base_url, timeout)
        if allow_root:
            raise InvalidParameter(
                "allow_root is not supported: submissions never run as root user or group",
                field="allow_root",
            )
        self.user = check_user(user, "user") if user else None
        self.runtime = runtime if runtime is not None else default_runtime()
        if self.runtime:
            self._check_runtime(self.runtime)
        self.tmpfs_size, self.restricted_network, self.init = tmpfs_size, restricted_network, init
        self.labels = dict(labels or {})
        if reap_orphans:
            self.reap_orphans()

    def run(self, spec: RunSpec, **kwargs: Any) -> RunOutcome:
        """:meth:`Executor.run`; with ``cleanup=False`` every container is kept (as with
        ``keep_container``), labelled so the orphan reaper leaves it."""
        if not self.cleanup and not spec.keep:
            spec = dataclasses.replace(spec, keep=True)
        return super().run(spec, **kwargs)

    def _check_runtime(self, runtime: str) -> None:
        """Refuse a runtime the engine does not know, rather than run with a weaker one."""
        known = sorted((self.client.info().get("Runtimes") or {}).keys())
        if runtime not in known:
            raise ExecutorUnavailable(
                f"the Docker engine has no runtime {runtime!r} (it knows {', '.join(known)}); "
                "install it (gVisor: runsc install) or unset docker_runtime",
                details={"executor": "docker", "runtime": runtime, "known": known},
            )

    # -- the container's configuration (pure: also printed by --dry-run) --
    def _user(self, spec: RunSpec) -> str:
        if spec.user:
            return check_user(spec.user, "container.user")
        return check_user(self.user or default_user(), "user")

    def _network(self, spec: RunSpec) -> str:
        if spec.network == "none":
            return "none"
        if spec.network == "bridge":
            return "bridge"
        if self.restricted_network:
            return self.restricted_network
        raise InvalidParameter(
            "network_policy 'restricted' needs the executor option restricted_network "
            "(the name of a Docker network with the allowed egress)",
            field="network_policy",
        )

    def _labels(self, spec: RunSpec) -> dict[str, str]:
        deadline = int(time.time() + spec.time_limit + ORPHAN_GRACE)
        labels = {
            LABEL: "1",
            LABEL_JOB: spec.job_id,
            LABEL_OWNER: owner_tag(),
            LABEL_DEADLINE: str(deadline),
            **self.labels,
            **spec.labels,
        }
        if spec.keep:
            labels[LABEL_KEEP] = "1"
        return labels

    def _tmpfs(self, spec: RunSpec) -> dict[str, str]:
        tmpfs = {"/tmp": f"rw,nosuid,nodev,size={self.tmpfs_size},mode=1777"}
        if not any(m.target.startswith(f"{SANDBOX_ROOT}/input") for m in spec.mounts):
            tmpfs[f"{SANDBOX_ROOT}/input"] = "ro,nosuid,nodev,size=4k"  # nothing visible
        return tmpfs

    def container_kwargs(self, spec: RunSpec) -> dict[str, Any]:
        """Keyword arguments of ``containers.create`` for ``spec``."""
        mounts = [
            docker.types.Mount(m.target, str(m.source), type="bind", read_only=m.read_only)
            for m in spec.mounts
        ]
        gpus = [docker.types.DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])]
        ulimits = [docker.types.Ulimit(name="core", soft=0, hard=0)]
        if spec.disk_bytes:
            ulimits.append(
                docker.types.Ulimit(name="fsize", soft=spec.disk_bytes, hard=spec.disk_bytes)
            )
        return {
            "image": spec.image,
            "command": spec.cmd or None,
            "name": f"autoscorer-{spec.job_id}-{secrets.token_hex(3)}",
            "user": self._user(spec),
            "working_dir": spec.working_dir,
            "environment": spec.env,
            "labels": self._labels(spec),
            "hostname": "sandbox",
            "network_mode": self._network(spec),
            "read_only": True,
            "tmpfs": self._tmpfs(spec),
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": spec.pids,
            "mem_limit": spec.memory_bytes,
            "memswap_limit": spec.memory_bytes,
            "nano_cpus": int(spec.cpu * 1e9),
            "device_requests": gpus if spec.gpus else None,
            "ulimits": ulimits,
            "mounts": mounts,
            "init": self.init,
            # the engine's own copy of stdout/stderr is host disk too: capped (AutoScorer keeps
            # the first 10 MiB in logs/container.log from the live stream)
            "log_config": docker.types.LogConfig(
                type="json-file", config={"max-size": ENGINE_LOG_SIZE, "max-file": "2"}
            ),
            **({"runtime": self.runtime} if self.runtime else {}),
        }

    def describe(self, spec: RunSpec) -> dict[str, Any]:
        return {
            "executor": self.name,
            "pull_policy": spec.pull_policy,
            **self.container_kwargs(spec),
        }

    # -- running --
    def _pull(self, image: str) -> Any:
        repo, tag = parse_repository_tag(image)
        try:
            return self.client.images.pull(repo, tag=tag or "latest")
        except docker.errors.APIError as exc:
            raise ImageNotFound(
                f"image {image!r} is not available locally and could not be pulled: "
                f"{exc.explanation or exc}",
                field="container.image",
                details={"image": image},
            ) from exc

    def _image(self, spec: RunSpec) -> Any:
        if spec.pull_policy == "always":
            return self._pull(spec.image)
        try:
            return self.client.images.get(spec.image)
        except docker.errors.ImageNotFound:
            if spec.pull_policy == "never":
                raise ImageNotFound(
                    f"image {spec.image!r} is not present on the Docker engine and "
                    "container.pull_policy is 'never'; build or load it first",
                    field="container.image",
                    details={"image": spec.image, "pull_policy": "never"},
                ) from None
            return self._pull(spec.image)

    def start(self, spec: RunSpec, run: Run) -> DockerSandbox:
        kwargs = self.container_kwargs(spec)
        image = self._image(spec)
        grant_writable(spec, kwargs["user"])
        t0 = time.perf_counter()
        try:
            container = self.client.containers.create(**kwargs)
        except docker.errors.APIError as exc:
            raise ExecutionFailed(
                f"the Docker engine refused to create the container: {exc.explanation or exc}",
                details={"image": spec.image},
            ) from exc
        try:
            container.start()
        except Exception:
            container.remove(force=True)
            raise
        run.report_start(time.perf_counter() - t0)  # create + start, without the pull
        run.log("INFO", f"container {container.name} started")
        return DockerSandbox(container, image_digest(image.attrs))

    # -- housekeeping --
    def reap_orphans(self) -> list[str]:
        """Remove managed containers whose caller died or whose deadline passed long ago."""
        removed = []
        me = socket.gethostname()
        for c in self.client.containers.list(all=True, sparse=True, filters={"label": LABEL}):
            labels = c.attrs.get("Labels") or {}
            if labels.get(LABEL_KEEP) == "1" or not _is_orphan(labels, me):
                continue
            if self._force_remove(c.id):
                removed.append(c.id)
        return removed

    def _force_remove(self, container_id: str, attempts: int = 3) -> bool:
        """Remove an orphan; True if this call removed it. Transient engine errors (a kill
        or another removal still in progress) are retried with a short back-off."""
        for attempt in range(1, attempts + 1):
            try:
                self.client.api.remove_container(container_id, force=True, v=True)
                return True
            except docker.errors.NotFound:
                return False  # another executor got there first
            except docker.errors.APIError as exc:
                if attempt == attempts:
                    logger.warning(
                        "could not remove orphan container %s after %d attempts: %s",
                        container_id[:12],
                        attempts,
                        exc,
                    )
                    return False
                time.sleep(0.2 * attempt)
        return False

    def managed_containers(self, label: str = LABEL) -> list[str]:
        """Names of containers (any state) carrying ``label`` (``key`` or ``key=value``)."""
        found = self.client.containers.list(all=True, sparse=True, filters={"label": label})
        return [c.attrs.get("Names", [c.id])[0].lstrip("/") for c in found]

    def health(self) -> dict[str, Any]:
        try:
            version = self.client.version()
            info = self.client.info()
            running = self.client.containers.list(sparse=True, filters={"label": LABEL})
        except Exception as exc:
            return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}
        memory = info.get("MemTotal")
        return {
            "status": "healthy",
            "engine_version": version.get("Version"),
            "active_containers": len(running),
            "available_cores": info.get("NCPU"),  # the engine's CPUs and memory (its VM's,
            "available_memory": format_bytes(memory) if memory else None,  # on Docker Desktop)
        }

    def close(self) -> None:
        self.client.close()


def _is_orphan(labels: dict[str, str], host: str) -> bool:
    deadline = labels.get(LABEL_DEADLINE, "")
    if deadline.isdigit() and int(deadline) < time.time():
        return True
    owner_host, _, pid = labels.get(LABEL_OWNER, "").rpartition(":")
    if owner_host != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
