"""Reading a Job and its pod the way the Kubernetes executor needs: pure functions.

They take the client's model objects (``V1Pod``, ``V1Job``) and say whether the
container runs, why it does not yet, and whether the platform (not the
submission) ended the run: eviction, preemption, node loss, a pod that cannot
be scheduled or created. Kept apart from the polling loop so each rule is
tested on its own.
"""

from __future__ import annotations

import re
import time
from typing import Any

from autoscorer.errors import (
    AutoScorerError,
    DiskQuotaExceeded,
    Evicted,
    ImageNotFound,
    InfrastructureFailure,
    NodeLost,
    SandboxStartFailed,
    StartupTimeout,
    Unschedulable,
)

CONTAINER = "submission"
# waiting reasons that never get better by waiting
IMAGE_FINAL = ("InvalidImageName", "ErrImageNeverPull")
# pull failures the kubelet retries (registry rate limits, network); final only when the
# registry says the image is not there or not ours to pull
IMAGE_RETRIED = ("ErrImagePull", "ImagePullBackOff")
_PULL_FINAL = re.compile(
    r"not found|manifest unknown|does not exist|pull access denied|unauthorized", re.I
)
CREATE_FAILED = ("CreateContainerConfigError", "CreateContainerError")
# the kubelet's messages when a pod exceeds its *own* ephemeral-storage limits (the
# submission's doing), as opposed to node pressure ("The node was low on resource: ...")
_OWN_DISK_LIMIT = re.compile(
    r"exceeds the total limit of containers|exceeded its local ephemeral storage limit|"
    r"Usage of EmptyDir volume .* exceeds the limit",
    re.I,
)
_EVICTION = ("EvictionByEvictionAPI", "TerminationByKubelet")
_PREEMPTION = ("PreemptionByScheduler", "PreemptionByKubeScheduler")
_NODE_GONE = ("DeletionByTaintManager", "DeletionByPodGC")


def container_status(pod: Any) -> Any:
    """The submission container's status, or None before the kubelet reports it."""
    statuses = (pod.status.container_statuses or []) if pod is not None and pod.status else []
    return next((c for c in statuses if c.name == CONTAINER), None)


def has_started(cs: Any) -> bool:
    """The container runs or ran (the moment the time limit starts counting)."""
    return cs is not None and cs.state is not None and bool(cs.state.running or cs.state.terminated)


def seconds_since_start(cs: Any) -> float:
    """Seconds since the container's ``startedAt`` (0 when unknown)."""
    state = cs.state.running or cs.state.terminated
    started = getattr(state, "started_at", None)
    return max(0.0, time.time() - started.timestamp()) if started is not None else 0.0


def _condition(obj: Any, kind: str) -> Any:
    conditions = (obj.status.conditions or []) if obj is not None and obj.status else []
    return next((c for c in conditions if c.type == kind and c.status == "True"), None)


def job_failure(job: Any) -> Any:
    """The Job's ``FailureTarget`` (1.31+, set first) or ``Failed`` condition, if any."""
    return _condition(job, "FailureTarget") or _condition(job, "Failed")


def job_succeeded(job: Any) -> bool:
    return _condition(job, "SuccessCriteriaMet") is not None or (
        _condition(job, "Complete") is not None
    )


def pending_reason(pod: Any, cs: Any) -> tuple[str, str]:
    """Why the container is not running yet: (reason, message) for the start-up error."""
    waiting = cs.state.waiting if cs is not None and cs.state else None
    if waiting is not None and waiting.reason:
        return waiting.reason, waiting.message or ""
    scheduled = None
    if pod is not None and pod.status:
        scheduled = next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)
    if scheduled is not None and scheduled.status == "False":
        return scheduled.reason or "Unschedulable", scheduled.message or ""
    if pod is None:
        return "NoPod", "the Job controller has not created the pod"
    return "Pending", ""


def startup_error(cs: Any) -> AutoScorerError | None:
    """A start-up failure that waiting will not cure, else None."""
    waiting = cs.state.waiting if cs is not None and cs.state else None
    if waiting is None:
        return None
    why = f"{waiting.reason}: {waiting.message or ''}".rstrip(": ")
    final_pull = waiting.reason in IMAGE_RETRIED and _PULL_FINAL.search(waiting.message or "")
    if waiting.reason in IMAGE_FINAL or final_pull:
        return ImageNotFound(
            f"the cluster cannot pull image {cs.image!r}: {why}",
            field="container.image",
            details={"reason": waiting.reason},
        )
    if waiting.reason in CREATE_FAILED:
        return SandboxStartFailed(
            f"the cluster could not create the container: {why}",
            details={"reason": waiting.reason},
        )
    return None


def startup_expired(reason: str, message: str, limit: float, image: str) -> AutoScorerError:
    """The error for a container that was not running within the start-up limit."""
    details = {"reason": reason, "startup_timeout": limit}
    text = f"{reason}: {message}".rstrip(": ")
    if reason == "Unschedulable":
        return Unschedulable(
            f"no node could take the pod within {limit:g} s ({text}); check the cluster's "
            "free resources, GPUs and the workspace volume",
            details=details,
        )
    if reason in IMAGE_RETRIED:
        return ImageNotFound(
            f"the cluster could not pull image {image!r} within {limit:g} s ({text})",
            field="container.image",
            details={**details, "retried": True},
        )
    return StartupTimeout(
        f"the container was not running within the start-up limit of {limit:g} s ({text})",
        details=details,
    )


def disruption_error(pod: Any, pod_vanished: bool) -> AutoScorerError | None:
    """Eviction, preemption or node loss: the platform ended the pod, not the submission."""
    status = pod.status if pod is not None else None
    if pod_vanished:
        return NodeLost(
            "the pod disappeared while running (its node was lost or the pod was deleted)",
            details={"reason": "PodDeleted"},
        )
    if status is None:
        return None
    message = status.message or ""
    if status.reason == "Evicted" and _OWN_DISK_LIMIT.search(message):
        return DiskQuotaExceeded(
            f"inference wrote more than its disk quota (resources.disk, the pod's "
            f"ephemeral-storage limit) and was evicted: {message}",
            field="resources.disk",
            details={"reason": "Evicted", "resource": "ephemeral-storage"},
        )
    if status.reason == "Evicted":
        return Evicted(
            f"the node evicted the pod: {message or 'no message'}",
            details={"reason": "Evicted", "resource": _pressure(message)},
        )
    if status.reason == "NodeLost":
        return NodeLost(f"the pod's node was lost: {message}", details={"reason": "NodeLost"})
    target = _condition(pod, "DisruptionTarget")
    if target is None:
        return _unknown_container(pod)
    text = f"{target.reason}: {target.message or ''}".rstrip(": ")
    if target.reason in _NODE_GONE:
        return NodeLost(f"the pod's node was lost ({text})", details={"reason": target.reason})
    kind = "preempted" if target.reason in _PREEMPTION else "evicted"
    return Evicted(f"the pod was {kind} ({text})", details={"reason": target.reason})


def _pressure(message: str) -> str | None:
    """The node resource an eviction message names (memory, ephemeral-storage, ...)."""
    found = re.search(r"low on resource: ([\w-]+)", message)
    return found.group(1) if found else None


def _unknown_container(pod: Any) -> AutoScorerError | None:
    cs = container_status(pod)
    term = cs.state.terminated if cs is not None and cs.state else None
    if term is not None and term.reason == "ContainerStatusUnknown":
        return NodeLost(
            f"the container's state was lost with its node: {term.message or ''}",
            details={"reason": "ContainerStatusUnknown"},
        )
    return None


def failed_before_start(condition: Any, limit: float, pending: tuple[str, str]) -> AutoScorerError:
    """The Job failed while the container never ran (its deadline, or a pod failure)."""
    if condition.reason == "DeadlineExceeded":
        return startup_expired(*pending, limit=limit, image="")
    return InfrastructureFailure(
        f"the Job failed before the container started ({condition.reason}: "
        f"{condition.message or ''})",
        details={"reason": condition.reason},
    )
