"""The pod side of the Kubernetes executor: the group-writable hand-over and the poller.

:class:`KubernetesSandbox` observes one Job and its pod: the time limit starts when
the container does (``run.started`` follows it), the start-up has its own limit, and
what the platform did (eviction, preemption, node loss, unschedulable, not creatable)
is raised as a system-fault error (:mod:`autoscorer.executors.k8s_status`). The log
stream has a connect timeout, a bounded idle read and is closed at the end of the run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from autoscorer.errors import ExecutorUnavailable, InfrastructureFailure, WorkspaceInvalid
from autoscorer.executors import k8s_status as st
from autoscorer.executors.base import Run, RunSpec, SandboxState
from autoscorer.executors.base import Sandbox as _Sandbox
from autoscorer.executors.k8s_manifests import CONTAINER, PodSettings

_KILLED = 137
API_TIMEOUT = 30.0  # seconds for one API call (connect + read)
LOG_CONNECT_TIMEOUT = 10.0
LOG_DRAIN_SECONDS = 2.0  # after the container ended
LOG_IDLE_MARGIN = 60.0  # a log read waits at most the time limit + this (closed at the end too)


def _image_digest(image_id: str | None) -> str | None:
    if not image_id:
        return None
    return image_id.rsplit("@", 1)[-1] if "@" in image_id else image_id


def grant_group_writable(spec: RunSpec, gid: int) -> None:
    """Hand the writable mounts (and what is already in them) to group ``gid``, mode g+rwX.

    Directories get the set-group-id bit, so files the pod creates stay readable by the
    worker (a member of the group). Everything is opened with ``O_NOFOLLOW`` and changed
    through its descriptor: a link is never followed, a link at a mount is refused.
    """
    for mount in spec.mounts:
        if mount.read_only:
            continue
        try:
            _grant(mount.source, gid, top=True)
        except PermissionError as exc:
            raise ExecutorUnavailable(
                f"cannot hand {mount.source} to group {gid} ({exc.strerror}); run the worker "
                f"with group {gid} in its supplementalGroups (see docs/deployment.md)",
                details={"executor": "kubernetes", "fs_group": gid},
            ) from exc
        for entry in os.scandir(mount.source):
            with contextlib.suppress(OSError):  # a link, a pipe, an unreadable leftover
                _grant(Path(entry.path), gid, top=False)


def _grant(path: Path, gid: int, *, top: bool) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP and top:
            raise WorkspaceInvalid(
                f"{path} is a symbolic link; refused", field="workspace_path"
            ) from exc
        raise
    try:
        info = os.fstat(fd)
        if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
            return
        mode = 0o2770 if stat.S_ISDIR(info.st_mode) else 0o660
        if info.st_gid == gid and info.st_mode & mode == mode:
            return  # already handed over (e.g. by whoever prepared the workspace)
        os.fchown(fd, -1, gid)
        os.fchmod(fd, (info.st_mode & 0o7777) | mode)
    finally:
        os.close(fd)


class KubernetesSandbox(_Sandbox):
    """A Job and its single pod, observed by polling the API server."""

    def __init__(self, api: k8s.ApiClient, name: str, run: Run, s: PodSettings, poll: float):
        self.batch, self.core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)
        self.id, self.namespace, self.poll, self.run = name, s.namespace, poll, run
        self.startup_timeout = s.startup_timeout
        self.image_digest = None
        self.state: SandboxState | None = None
        self.pod: Any = None
        self.running = False  # the container has started: the time limit counts
        self.pending: tuple[str, str] = ("Pending", "")
        self._created = self._last_poll = self._prev_poll = time.monotonic()
        self._last_poll -= poll
        self._seen_pod = self._killed = False
        self._log_resp: Any = None
        self._lock = threading.Lock()
        self._gone = threading.Event()

    # -- observing --
    def wait(self, timeout: float) -> int | None:
        if not self.running:
            self.run.started = time.monotonic()  # the clock starts when the container does
        if time.monotonic() - self._last_poll < self.poll:
            time.sleep(timeout)
            return None
        self._prev_poll, self._last_poll = self._last_poll, time.monotonic()
        with self._lock:
            try:
                self.state = self._observe(*self._read())
            except BaseException:
                self._end_streams()
                raise
        if self.state is None:
            return None
        # the log stream ends with the container; one that hangs is closed after a short drain
        timer = threading.Timer(LOG_DRAIN_SECONDS, self._end_streams)
        timer.daemon = True
        timer.start()
        return self.state.exit_code

    def _read(self) -> tuple[Any, Any, bool]:
        """The Job, then its pod: read in this order, the pod is never older than the Job
        (a Job already Complete next to a pod still shown Running would lose the exit code)."""
        try:
            job = self.batch.read_namespaced_job(
                self.id, self.namespace, _request_timeout=API_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            job = None
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"job-name={self.id}", _request_timeout=API_TIMEOUT
        )
        pod = pods.items[0] if pods.items else None
        vanished = pod is None and self._seen_pod and not self._killed
        self._seen_pod = self._seen_pod or pod is not None
        self.pod = pod or self.pod
        return pod, job, vanished

    def _observe(self, pod: Any, job: Any, vanished: bool) -> SandboxState | None:
        cs = st.container_status(pod)
        if cs is not None:
            self.image_digest = _image_digest(cs.image_id) or self.image_digest
        if not self.running and st.has_started(cs):
            self.running = True
            # it started between the previous poll and now; startedAt (whole seconds) says when
            ago = min(st.seconds_since_start(cs), self._last_poll - self._prev_poll)
            self.run.started = self._last_poll - max(0.0, ago)
            self.run.log("INFO", f"container started after {self._startup_seconds():.1f} s")
            self.run.report_start(self._startup_seconds())  # from Job creation
        lost = st.disruption_error(pod, vanished and self.running)
        if lost is not None:
            raise lost
        if not self.running:
            return self._starting(pod, cs, job)
        failure = st.job_failure(job)
        if failure is not None and failure.reason == "DeadlineExceeded":
            return self._from_container(cs, deadline=True)
        phase = pod.status.phase if pod is not None and pod.status else None
        ended = cs is not None and cs.state is not None and cs.state.terminated is not None
        if phase in ("Succeeded", "Failed") or ended:
            return self._from_container(cs)
        if (failure is not None or st.job_succeeded(job)) and pod is None:
            return self._from_container(cs)  # the pod is gone: no exit code to wait for
        return self._job_gone() if job is None else None

    def _starting(self, pod: Any, cs: Any, job: Any) -> SandboxState | None:
        """Before the container runs: fail fast on what waiting cannot cure, else wait."""
        self.pending = st.pending_reason(pod, cs)
        error = st.startup_error(cs)
        failure = st.job_failure(job)
        if error is None and failure is not None:
            error = st.failed_before_start(failure, self.startup_timeout, self.pending)
        if error is None and self._startup_seconds() > self.startup_timeout:
            image = cs.image if cs is not None else self.run.spec.image
            error = st.startup_expired(*self.pending, limit=self.startup_timeout, image=image)
        if error is not None:
            raise error
        return self._job_gone() if job is None else None

    def _job_gone(self) -> SandboxState:
        if self._killed:  # our own delete (cancel, time-out)
            return SandboxState(exit_code=_KILLED)
        raise InfrastructureFailure(
            f"Job {self.namespace}/{self.id} was deleted by someone else during the run",
            details={"reason": "JobDeleted"},
        )

    def _startup_seconds(self) -> float:
        return time.monotonic() - self._created

    @staticmethod
    def _from_container(cs: Any, deadline: bool = False) -> SandboxState:
        term = cs.state.terminated if cs is not None and cs.state else None
        if term is None:
            return SandboxState(exit_code=_KILLED if deadline else 1, deadline_exceeded=deadline)
        return SandboxState(
            exit_code=term.exit_code,
            oom_killed=term.reason == "OOMKilled",
            started_at=term.started_at.isoformat() if term.started_at else None,
            finished_at=term.finished_at.isoformat() if term.finished_at else None,
            deadline_exceeded=deadline,
        )

    # -- acting --
    def kill(self) -> None:
        self._killed = True
        self.remove()

    def remove(self) -> None:
        body = k8s.V1DeleteOptions(propagation_policy="Background", grace_period_seconds=0)
        try:
            self.batch.delete_namespaced_job(
                self.id, self.namespace, body=body, _request_timeout=API_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        finally:
            self._end_streams()

    def _end_streams(self) -> None:
        """Release the log reader: nothing outlives the run."""
        self._gone.set()
        resp, self._log_resp = self._log_resp, None
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.shutdown()

    def _container_started(self) -> bool:
        """Block until the container runs or ran (True) or the run ended without it (False)."""
        while not self._gone.is_set():
            if self.running:
                return True
            if self.state is not None:
                return False
            time.sleep(self.poll)
        return False

    def logs(self) -> Iterator[bytes]:
        if not self._container_started():
            return
        resp: Any = self.core.read_namespaced_pod_log(
            self.pod.metadata.name,
            self.namespace,
            container=CONTAINER,
            follow=True,
            _preload_content=False,
            _request_timeout=(LOG_CONNECT_TIMEOUT, self.run.spec.time_limit + LOG_IDLE_MARGIN),
        )
        self._log_resp = resp
        if self._gone.is_set():
            self._end_streams()
        try:
            yield from resp.stream(65536)
        except Exception as exc:
            if not self._gone.is_set():
                raise
            del exc  # closed by the end of the run
        finally:
            with contextlib.suppress(Exception):
                resp.release_conn()

    def finish(self) -> SandboxState:
        assert self.state is not None
        return self.state
