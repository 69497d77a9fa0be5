"""The pod side of the Kubernetes executor: following a Job and its pod to the end.

:class:`KubernetesSandbox` observes one Job and its pod, by watch
(:mod:`autoscorer.executors.k8s_watch`) or, when the watch cannot be used, by polling:
the time limit starts when the container does (``run.started`` follows it), the
start-up has its own limit, and what the platform did (eviction, preemption, node loss,
unschedulable, not creatable) is raised as a system-fault error
(:mod:`autoscorer.executors.k8s_status`). The log stream has a connect timeout, a
bounded idle read and is closed at the end of the run, as are the watches.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from autoscorer.errors import InfrastructureFailure
from autoscorer.executors import k8s_status as st
from autoscorer.executors.base import Run, SandboxState
from autoscorer.executors.base import Sandbox as _Sandbox
from autoscorer.executors.k8s_manifests import CONTAINER, PodSettings
from autoscorer.executors.k8s_watch import API_TIMEOUT, Follower, Snapshot

_KILLED = 137
LOG_CONNECT_TIMEOUT = 10.0
LOG_DRAIN_SECONDS = 2.0  # after the container ended
LOG_IDLE_MARGIN = 60.0  # a log read waits at most the time limit + this (closed at the end too)


class _Stale(Exception):
    """A verdict from the Job needs the pod read after it (see ``Follower.refresh_pod``)."""


def _image_digest(image_id: str | None) -> str | None:
    if not image_id:
        return None
    return image_id.rsplit("@", 1)[-1] if "@" in image_id else image_id


class KubernetesSandbox(_Sandbox):
    """A Job and its single pod, followed by watch (``watch_timeout``) or by polling."""

    def __init__(self, api: k8s.ApiClient, job: Any, run: Run, s: PodSettings, poll: float,
                 watch_timeout: int | None = None) -> None:  # fmt: skip
        """``job``: the created Job, as the API returned it."""
        name = job.metadata.name
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
        self._killed_at = 0.0
        self._log_resp: Any = None
        self._lock = threading.Lock()
        self._gone = threading.Event()  # the streams are ended
        self._ready = threading.Event()  # the container runs, or the run ended without it
        self._version = -1  # of the latest snapshot observed
        self.follower: Follower | None = None
        if watch_timeout is not None:
            self.follower = Follower(api, s.namespace, job, watch_timeout)
            self.follower.start()

    # -- observing --
    def wait(self, timeout: float) -> int | None:
        if not self.running:
            self.run.started = time.monotonic()  # the clock starts when the container does
        snap = self._next(timeout)
        if snap is None:
            return None
        with self._lock:
            try:
                self.state = self._judge(snap)
            except BaseException:
                self._end_streams()
                self._stop_watch()
                raise
        if self.state is None and self._killed and time.monotonic() - self._killed_at > API_TIMEOUT:
            self.state = SandboxState(exit_code=_KILLED)  # deleted, whatever the API still shows
        if self.state is None:
            return None
        self._ready.set()
        self._stop_watch()
        # the log stream ends with the container; one that hangs is closed after a short drain
        timer = threading.Timer(LOG_DRAIN_SECONDS, self._end_streams)
        timer.daemon = True
        timer.start()
        return self.state.exit_code

    def _next(self, timeout: float) -> Snapshot | None:
        """The next state to judge: from the watch, else from a poll when one is due."""
        if self.follower is not None and self.follower.failed is not None:
            self.run.log("WARNING", f"{self.follower.failed}; polling every {self.poll:g} s")
            self._stop_watch()
        if self.follower is not None:
            snap = self.follower.next(self._version, timeout)
            self._version = snap.version
            return snap
        if time.monotonic() - self._last_poll < self.poll:
            time.sleep(timeout)
            return None
        self._prev_poll, self._last_poll = self._last_poll, time.monotonic()
        return self._read()

    def _judge(self, snap: Snapshot) -> SandboxState | None:
        """The verdict on ``snap``; one taken from the Job is taken again on a fresh pod."""
        try:
            return self._observe(snap)
        except _Stale:
            assert self.follower is not None
            return self._observe(self.follower.refresh_pod())

    def _confirm(self, snap: Snapshot) -> None:
        if not snap.fresh:
            raise _Stale

    def _read(self) -> Snapshot:
        """Poll the Job, then its pod: read in this order, the pod is never older than the
        Job (a Job already Complete next to a pod still shown Running would lose the exit
        code)."""
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
        seen = self._seen_pod or pod is not None
        return Snapshot(job, pod, True, seen, self._last_poll, self._prev_poll, 0, fresh=True)

    def _observe(self, snap: Snapshot) -> SandboxState | None:
        pod, job = snap.pod, snap.job
        vanished = pod is None and snap.pod_seen and not self._killed
        self._seen_pod, self.pod = snap.pod_seen, pod or self.pod
        # a pod deleted between two looks: its last state says whether the container ran
        cs = st.container_status(pod if pod is not None else snap.gone_pod)
        if cs is not None:
            self.image_digest = _image_digest(cs.image_id) or self.image_digest
        if not self.running and st.has_started(cs):
            self.running = True
            self._ready.set()
            # it started after the pod's previous state arrived, and at least as long before
            # this one arrived as startedAt proves (whole seconds: up to 1 s less than it says)
            ago = min(st.seconds_since_start(cs) - 1.0, snap.pod_at - snap.pod_prev_at)
            self.run.started = snap.pod_at - max(0.0, ago)
            self.run.log("INFO", f"container started after {self._startup_seconds():.1f} s")
            self.run.report_start(self._startup_seconds())  # from Job creation
        lost = st.disruption_error(pod, vanished and self.running)
        if lost is not None:
            raise lost
        gone = job is None and snap.job_seen
        if not self.running:
            return self._starting(snap, cs, gone)
        failure = st.job_failure(job)
        if failure is not None and failure.reason == "DeadlineExceeded":
            self._confirm(snap)
            return self._from_container(cs, deadline=True)
        phase = pod.status.phase if pod is not None and pod.status else None
        ended = cs is not None and cs.state is not None and cs.state.terminated is not None
        if phase in ("Succeeded", "Failed") or ended:
            return self._from_container(cs)
        if (failure is not None or st.job_succeeded(job)) and pod is None:
            self._confirm(snap)
            return self._from_container(cs)  # the pod is gone: no exit code to wait for
        return self._job_gone(snap) if gone else None

    def _starting(self, snap: Snapshot, cs: Any, gone: bool) -> SandboxState | None:
        """Before the container runs: fail fast on what waiting cannot cure, else wait."""
        self.pending = st.pending_reason(snap.pod, cs)
        error = st.startup_error(cs)
        failure = st.job_failure(snap.job)
        if error is None and failure is not None:
            self._confirm(snap)
            error = st.failed_before_start(failure, self.startup_timeout, self.pending)
        if error is None and self._startup_seconds() > self.startup_timeout:
            image = cs.image if cs is not None else self.run.spec.image
            error = st.startup_expired(*self.pending, limit=self.startup_timeout, image=image)
        if error is not None:
            raise error
        return self._job_gone(snap) if gone else None

    def _job_gone(self, snap: Snapshot) -> SandboxState:
        self._confirm(snap)
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
        """Delete the Job; the watch goes on until it sees the Job gone."""
        if self._killed:
            return
        self._killed, self._killed_at = True, time.monotonic()
        try:
            self._delete()
        finally:
            self._end_streams()

    def remove(self) -> None:
        try:
            self._delete()
        finally:
            self._end_streams()
            self._stop_watch()

    def _delete(self) -> None:
        body = k8s.V1DeleteOptions(propagation_policy="Background", grace_period_seconds=0)
        try:
            self.batch.delete_namespaced_job(
                self.id, self.namespace, body=body, _request_timeout=API_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _end_streams(self) -> None:
        """Release the log reader: nothing outlives the run."""
        self._gone.set()
        self._ready.set()
        resp, self._log_resp = self._log_resp, None
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.shutdown()

    def _stop_watch(self) -> None:
        follower, self.follower = self.follower, None
        if follower is not None:
            follower.stop()

    def _container_started(self) -> bool:
        """Block until the container runs or ran (True) or the run ended without it (False)."""
        self._ready.wait()
        return self.running and not self._gone.is_set()

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
