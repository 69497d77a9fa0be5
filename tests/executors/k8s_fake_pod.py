"""The fake cluster's nodes and Job controller: one thread per Job plays its pod for real.

A pod goes Pending (unschedulable while :class:`Scenario` says so) -> waiting
states (``ContainerCreating``, ``ErrImagePull``, ... as scripted) -> Running,
where the container's ``command``/``args`` run as a real process inside bwrap,
under the pod's ``runAsUser``/``runAsGroup`` with ``fsGroup`` and
``supplementalGroups`` as extra groups, with each ``volumeMount`` bound from the
PVC's host folder (``subPath``; read-only where asked) or an emptyDir. As on
most ReadWriteMany storage, ``fsGroup`` does not change the PVC's ownership; an
emptyDir is mode 0777. The Job controller sets conditions like Kubernetes 1.31:
``FailureTarget`` first, ``Failed`` (``BackoffLimitExceeded``,
``DeadlineExceeded``, ``PodFailurePolicy``) a little later; ``SuccessCriteriaMet``
then ``Complete``. Deleting a pod sends SIGTERM, then SIGKILL after its
``terminationGracePeriodSeconds`` (default 30, as in Kubernetes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from k8s_fake_proc import MountRefused
from k8s_fake_psa import restricted_violations

DIGEST = "docker-pullable://registry.test/img@sha256:" + "ab" * 32
INF = float("inf")
# disruption -> (DisruptionTarget reason, pod.status.message when the kubelet evicts)
DISRUPTIONS = {
    "evicted": ("TerminationByKubelet", "The node was low on resource: memory."),
    "evicted-node-disk": (
        "TerminationByKubelet",
        "The node was low on resource: ephemeral-storage.",
    ),
    "evicted-storage": (
        "TerminationByKubelet",
        "Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.",
    ),
    "preempted": ("PreemptionByScheduler", ""),
    "node-lost": ("DeletionByTaintManager", ""),
}


def ts(t: float | None = None) -> str:
    return datetime.fromtimestamp(t or time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Scenario:
    """What the cluster does to the next pods."""

    schedulable: bool = True
    unschedulable_message: str = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    # (reason, message, seconds) the container waits in before running; INF = forever
    waiting: list[tuple[str, str, float]] = field(
        default_factory=lambda: [("ContainerCreating", "", 0.1)]
    )
    disruption: str | None = None  # evicted(-storage, -node-disk), preempted, node-lost
    disrupt_after: float = 0.3  # seconds after the container started
    oom: bool = False  # the kernel OOM-kills the container once its process ends
    failure_target_lag: float = 0.3  # FailureTarget -> Failed
    log_hangs: bool = False  # the log endpoint answers headers, then nothing


@dataclass
class FakePod:
    name: str
    spec: dict[str, Any]
    labels: dict[str, str]
    phase: str = "Pending"
    reason: str | None = None
    message: str | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    image_id: str = ""
    deleted_at: float | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    process_ended_at: float | None = None
    started: bool = False

    def to_json(self, namespace: str) -> dict[str, Any]:
        c = self.spec["containers"][0]
        status = {"name": c["name"], "image": c["image"], "imageID": self.image_id}
        status |= {"ready": self.phase == "Running", "restartCount": 0, "state": self.state}
        meta = {"name": self.name, "namespace": namespace, "labels": self.labels}
        if self.deleted_at is not None:
            meta["deletionTimestamp"] = ts(self.deleted_at)
        body: dict[str, Any] = {"phase": self.phase, "conditions": self.conditions}
        body["containerStatuses"] = [status] if self.state else []
        body |= {k: v for k, v in (("reason", self.reason), ("message", self.message)) if v}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": self.spec,
                "status": body}  # fmt: skip


@dataclass
class FakeJob:
    manifest: dict[str, Any]
    started: float = field(default_factory=time.time)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    pod: FakePod | None = None
    deleted: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {"active": 1})

    def condition(self, kind: str, reason: str, message: str = "") -> None:
        self.conditions.append({"type": kind, "status": "True", "reason": reason,
                                "message": message, "lastProbeTime": ts(),
                                "lastTransitionTime": ts()})  # fmt: skip

    def status(self) -> dict[str, Any]:
        return {"startTime": ts(self.started), "conditions": self.conditions, **self.counts}

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


class Node:
    """Runs one Job's pod to its end (a thread per Job)."""

    def __init__(self, cluster: Any, job: FakeJob) -> None:
        self.cluster, self.job, self.sc = cluster, job, cluster.scenario
        spec = job.manifest["spec"]
        self.deadline = job.started + spec.get("activeDeadlineSeconds", 10**9)
        tpl = spec["template"]
        labels = {**tpl["metadata"].get("labels", {}), "job-name": job.name,
                  "batch.kubernetes.io/job-name": job.name}  # fmt: skip
        self.pod = FakePod(f"{job.name}-{os.urandom(3).hex()[:5]}", tpl["spec"], labels)
        self.thread = threading.Thread(target=self._life, name=f"node-{job.name}", daemon=True)

    def _set(self, **kw: Any) -> None:
        with self.cluster.lock:
            for k, v in kw.items():
                setattr(self.pod, k, v)

    def _pause(self, seconds: float) -> bool:
        """Sleep; False when the pod is being deleted or the Job's deadline passed."""
        end = time.time() + seconds
        while time.time() < end:
            if self.pod.deleted_at is not None or time.time() > self.deadline:
                return False
            time.sleep(0.02)
        return True

    def _life(self) -> None:
        refused = restricted_violations(self.pod.spec)
        if refused:  # FailedCreate: the Job never gets a pod
            self.cluster.events.append(f"FailedCreate: violates PodSecurity restricted: {refused}")
            while not self.job.deleted and time.time() < self.deadline:
                time.sleep(0.05)
            return
        with self.cluster.lock:
            self.job.pod = self.pod
        if self._start() and self._run():
            return
        self._ended_early()

    def _start(self) -> bool:
        if not self.sc.schedulable or not self._pvc_ok():
            msg = self.sc.unschedulable_message if self.sc.schedulable is False else self._why
            self._set(conditions=[_cond("PodScheduled", "False", "Unschedulable", msg)])
            return self._pause(INF)
        self._set(conditions=[_cond("PodScheduled", "True")])
        for reason, message, seconds in self.sc.waiting:
            self._set(state={"waiting": {"reason": reason, "message": message}})
            if not self._pause(seconds):
                return False
        return True

    _why = ""

    def _pvc_ok(self) -> bool:
        for vol in self.pod.spec.get("volumes", []):
            claim = vol.get("persistentVolumeClaim", {}).get("claimName")
            if claim is not None and claim != self.cluster.pvc_name:
                self._why = f'persistentvolumeclaim "{claim}" not found'
                return False
        return True

    def _run(self) -> bool:
        try:
            proc, log = self.cluster.runner.spawn(self.pod)
        except MountRefused as exc:
            msg = f"failed to prepare subPath for volumeMount: {exc}"
            self._set(state={"waiting": {"reason": "CreateContainerConfigError", "message": msg}})
            return self._pause(INF)
        started = ts()
        self._set(proc=proc, log_path=log, phase="Running", image_id=DIGEST, started=True,
                  state={"running": {"startedAt": started}})  # fmt: skip
        if self.sc.disruption is not None:
            threading.Thread(target=self._disrupt, daemon=True).start()
        while proc.poll() is None:
            if self.pod.deleted_at is not None or time.time() > self.deadline:
                return False
            time.sleep(0.02)
        self._set(process_ended_at=time.time())
        if self.pod.phase == "Failed":  # disrupted meanwhile
            return True
        self._terminated(proc.returncode, started)
        return True

    def _terminated(self, code: int, started: str) -> None:
        code = 128 + (-code) if code < 0 else code
        reason = "OOMKilled" if self.sc.oom else ("Completed" if code == 0 else "Error")
        code = 137 if self.sc.oom else code
        term = {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ts()}
        self._set(state={"terminated": term}, phase="Succeeded" if code == 0 else "Failed")
        self.cluster.controller.pod_ended(self.job, self.pod)

    def _disrupt(self) -> None:
        """The kubelet (or scheduler, or node loss) ends the pod: its status is set in one
        update, then the container is killed."""
        if not self._pause(self.sc.disrupt_after):
            return
        kind = str(self.sc.disruption)
        reason, message = DISRUPTIONS[kind]
        cond = _cond("DisruptionTarget", "True", reason, f"{kind} by the fake")
        term = {"exitCode": 137, "reason": "Error", "startedAt": ts(), "finishedAt": ts()}
        with self.cluster.lock:
            self.pod.conditions.append(cond)
            self.pod.phase, self.pod.state = "Failed", {"terminated": term}
            if message:
                self.pod.reason, self.pod.message = "Evicted", message
            if kind == "node-lost":  # the pod garbage collector removes a lost node's pod
                self.job.pod = None
        kill_tree(self.pod)
        self.cluster.controller.pod_ended(self.job, self.pod)

    def _ended_early(self) -> None:
        """Deleted, or past the Job's deadline, before the container ended."""
        if self.pod.deleted_at is None and not self.job.deleted:  # the deadline
            self.cluster.controller.deadline(self.job, self.pod)
        self.cluster.controller.terminate(self.pod)
        if self.pod.started:
            term = {"exitCode": 137, "reason": "Error", "startedAt": ts(), "finishedAt": ts()}
            self._set(phase="Failed", state={"terminated": term})


class Controller:
    """The Job controller's reactions (conditions), deletions with grace periods."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def pod_ended(self, job: FakeJob, pod: FakePod) -> None:
        with self.cluster.lock:
            if pod.phase == "Succeeded":
                job.counts = {"succeeded": 1}
                job.condition("SuccessCriteriaMet", "CompletionsReached")
                job.condition("Complete", "CompletionsReached")
                return
            job.counts = {"failed": 1}
            disrupted = any(c["type"] == "DisruptionTarget" for c in pod.conditions)
            policy = job.manifest["spec"].get("podFailurePolicy")
            reason = "PodFailurePolicy" if disrupted and _fails_job(policy) else None
            reason = reason or "BackoffLimitExceeded"
            job.condition("FailureTarget", reason, f"pod {pod.name} failed")
        threading.Timer(
            self.cluster.scenario.failure_target_lag, self._failed, (job, reason)
        ).start()

    def _failed(self, job: FakeJob, reason: str) -> None:
        with self.cluster.lock:
            job.condition("Failed", reason, "Job has reached the specified backoff limit")

    def deadline(self, job: FakeJob, pod: FakePod) -> None:
        with self.cluster.lock:
            job.condition("FailureTarget", "DeadlineExceeded", "Job was active longer than allowed")
        threading.Timer(self.cluster.scenario.failure_target_lag, self._deadline_failed,
                        (job,)).start()  # fmt: skip

    def _deadline_failed(self, job: FakeJob) -> None:
        with self.cluster.lock:
            job.counts = {"failed": 1}
            job.condition("Failed", "DeadlineExceeded", "Job was active longer than allowed")

    def terminate(self, pod: FakePod) -> None:
        """SIGTERM, then SIGKILL after the pod's grace period; then the pod is gone."""
        grace = pod.spec.get("terminationGracePeriodSeconds", 30)
        with self.cluster.lock:
            pod.deleted_at = pod.deleted_at or time.time()
        if pod.proc is not None and pod.proc.poll() is None:
            terminate_main(pod)
            try:
                pod.proc.wait(grace)
            except subprocess.TimeoutExpired:
                kill_tree(pod)
            pod.process_ended_at = pod.process_ended_at or time.time()


def _fails_job(policy: dict[str, Any] | None) -> bool:
    for rule in (policy or {}).get("rules", []):
        on = [c.get("type") for c in rule.get("onPodConditions", [])]
        if rule.get("action") == "FailJob" and "DisruptionTarget" in on:
            return True
    return False


def _cond(kind: str, status: str, reason: str | None = None, msg: str = "") -> dict[str, Any]:
    out = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": ts()}
    return out | ({"reason": reason, "message": msg} if reason else {})


def terminate_main(pod: FakePod) -> None:
    """SIGTERM to the container's main process (its PID 1), as the kubelet sends it."""
    if pod.proc is None or pod.proc.poll() is not None:
        return
    with contextlib.suppress(psutil.Error):
        inside = [
            p for p in psutil.Process(pod.proc.pid).children(recursive=True) if p.name() != "bwrap"
        ]
        if inside:
            min(inside, key=lambda p: p.create_time()).send_signal(signal.SIGTERM)


def signal_tree(pod: FakePod, sig: int) -> None:
    if pod.proc is not None and pod.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pod.proc.pid, sig)


def kill_tree(pod: FakePod) -> None:
    signal_tree(pod, signal.SIGKILL)
    if pod.proc is not None:
        pod.proc.wait(5)
        pod.process_ended_at = pod.process_ended_at or time.time()
