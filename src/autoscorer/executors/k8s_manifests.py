"""Pure builders of the Kubernetes objects the Kubernetes executor creates.

Kept free of the ``kubernetes`` client so they can be printed by ``--dry-run``
and asserted field by field in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from autoscorer.errors import InvalidParameter, WorkspaceInvalid
from autoscorer.executors.base import SANDBOX_ROOT, RunSpec
from autoscorer.executors.spec import parse_user

CONTAINER = "submission"
NETWORK_LABEL = "autoscorer.io/network"
DENY_ALL_POLICY = "autoscorer-deny-all"
_PULL = {"never": "Never", "if-missing": "IfNotPresent", "always": "Always"}
_DNS_UNSAFE = re.compile(r"[^a-z0-9-]+")
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# the Job's own deadline is a backstop for a worker that died: the executor stops the run
# itself, from container start; this margin covers its polling and the pod's grace period
DEADLINE_MARGIN = 60


@dataclass
class PodSettings:
    """Cluster-side options of the executor (``KubernetesExecutor(**config)``).

    ``fs_group`` is the group the pod and the worker share: the worker hands ``output/`` and
    ``logs/`` to it (mode 2770) before the run, so the pod can write them whether or not the
    storage applies ``fsGroup`` (most ReadWriteMany volumes do not).
    """

    namespace: str = "autoscorer"
    pvc: str = "autoscorer-workspaces"
    run_as_user: int = 65534
    run_as_group: int = 65534
    fs_group: int = 65534
    ttl_seconds_after_finished: int = 300
    termination_grace_seconds: int = 5
    startup_timeout: float = 300.0
    service_account: str | None = None
    image_pull_secrets: list[str] = field(default_factory=list)
    node_selector: dict[str, str] = field(default_factory=dict)
    tmp_size: str = "256Mi"

    def __post_init__(self) -> None:
        for name in ("run_as_user", "run_as_group", "fs_group"):
            if getattr(self, name) <= 0:
                raise InvalidParameter(
                    f"kubernetes {name} must be a non-root id (> 0), not {getattr(self, name)}",
                    field=f"k8s_{name}",
                )
        if self.startup_timeout <= 0 or self.termination_grace_seconds < 0:
            raise InvalidParameter(
                "kubernetes startup_timeout must be > 0 and termination_grace_seconds >= 0",
                field="k8s_startup_timeout",
            )


def job_name(job_id: str, suffix: str) -> str:
    """A DNS-1123 name: ``autoscorer-<job>-<suffix>``, at most 63 characters."""
    room = 63 - len("autoscorer--") - len(suffix)
    base = _DNS_UNSAFE.sub("-", job_id.lower())[:room].strip("-") or "job"
    return f"autoscorer-{base}-{suffix}"


def label_value(value: str) -> str:
    """A valid label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends."""
    cleaned = _LABEL_UNSAFE.sub("-", value)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def run_ids(spec: RunSpec, s: PodSettings) -> tuple[int, int]:
    """(uid, gid) of the pod: ``container.user`` when numeric, else the settings; never 0."""
    if spec.user is None:
        return s.run_as_user, s.run_as_group
    ids = parse_user(spec.user)
    if ids is None:
        raise InvalidParameter(
            f"container.user {spec.user!r} must be numeric (uid or uid:gid) on Kubernetes",
            field="container.user",
        )
    if 0 in ids:
        raise InvalidParameter(
            f"container.user {spec.user!r} runs as root (uid or gid 0); refused",
            field="container.user",
        )
    return ids


def cpu_quantity(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def resources(spec: RunSpec) -> dict[str, Any]:
    """Requests equal limits (Guaranteed QoS): the run gets exactly what the task allows."""
    limits: dict[str, str] = {"cpu": cpu_quantity(spec.cpu), "memory": str(spec.memory_bytes)}
    if spec.disk_bytes:
        limits["ephemeral-storage"] = str(spec.disk_bytes)
    if spec.gpus:
        limits["nvidia.com/gpu"] = str(spec.gpus)
    return {"requests": dict(limits), "limits": limits}


def volume_mounts(spec: RunSpec, subpath_root: PurePosixPath) -> list[dict[str, Any]]:
    """Each of the spec's mounts as a subPath of the workspace volume."""
    mounts = []
    for m in spec.mounts:
        if not m.source.is_relative_to(spec.workspace.root):
            raise WorkspaceInvalid(
                f"mount source {m.source} is outside the workspace; the pod can only mount "
                "subPaths of the workspace volume",
                field="workspace_path",
            )
        rel = m.source.relative_to(spec.workspace.root).as_posix()
        mounts.append(
            {
                "name": "workspace",
                "mountPath": m.target,
                "subPath": str(subpath_root / rel),
                "readOnly": m.read_only,
            }
        )
    mounts.append({"name": "tmp", "mountPath": "/tmp"})
    if not any(m.target.startswith(f"{SANDBOX_ROOT}/input") for m in spec.mounts):
        mounts.append(
            {"name": "empty-input", "mountPath": f"{SANDBOX_ROOT}/input", "readOnly": True}
        )
    return mounts


def container(spec: RunSpec, subpath_root: PurePosixPath) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": _PULL[spec.pull_policy],
        "workingDir": spec.working_dir,
        "env": [{"name": k, "value": v} for k, v in spec.env.items()],
        "resources": resources(spec),
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": volume_mounts(spec, subpath_root),
    }
    if spec.cmd:
        out["args"] = list(spec.cmd)  # like Docker's CMD: the image's entrypoint stays
    return out


def pod_spec(spec: RunSpec, s: PodSettings, subpath_root: PurePosixPath) -> dict[str, Any]:
    uid, gid = run_ids(spec, s)
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": s.termination_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": gid,
            "fsGroup": s.fs_group,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(spec, subpath_root)],
        "volumes": [
            {"name": "workspace", "persistentVolumeClaim": {"claimName": s.pvc}},
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": s.tmp_size}},
            {"name": "empty-input", "emptyDir": {"sizeLimit": "1Ki"}},
        ],
    }
    if s.service_account:
        pod["serviceAccountName"] = s.service_account
    if s.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": n} for n in s.image_pull_secrets]
    if s.node_selector:
        pod["nodeSelector"] = dict(s.node_selector)
    return pod


def job_manifest(
    spec: RunSpec, s: PodSettings, name: str, subpath_root: PurePosixPath
) -> dict[str, Any]:
    """The batch/v1 Job running ``spec``: one try, a backstop deadline, cleaned up by TTL.

    The time limit is enforced by the executor from container start; the Job's
    ``activeDeadlineSeconds`` (counted from Job start) adds the start-up limit and a margin.
    A disruption (eviction, preemption, node loss) fails the Job by ``podFailurePolicy``, so
    its condition names the cause.
    """
    labels = {
        "app.kubernetes.io/managed-by": "autoscorer",
        "autoscorer.io/job-id": label_value(spec.job_id) or "job",
        NETWORK_LABEL: label_value(spec.network) or "none",
        **{k: label_value(v) for k, v in spec.labels.items()},
    }
    deadline = s.startup_timeout + spec.time_limit + s.termination_grace_seconds + DEADLINE_MARGIN
    disruption = {"type": "DisruptionTarget", "status": "True"}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": s.namespace, "labels": labels},
        "spec": {
            "activeDeadlineSeconds": max(1, round(deadline)),
            "backoffLimit": 0,
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onPodConditions": [disruption]}]},
            "ttlSecondsAfterFinished": s.ttl_seconds_after_finished,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(spec, s, subpath_root)},
        },
    }


def deny_all_policy(namespace: str) -> dict[str, Any]:
    """No ingress or egress for pods labelled ``autoscorer.io/network=none``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": DENY_ALL_POLICY, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {NETWORK_LABEL: "none"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }
