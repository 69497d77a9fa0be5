"""Pure builders of the Kubernetes objects the Kubernetes executor creates.

Kept free of the ``kubernetes`` client so they can be printed by ``--dry-run``
and asserted field by field in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from autoscorer.executors.base import SANDBOX_ROOT, RunSpec

CONTAINER = "submission"
NETWORK_LABEL = "autoscorer.io/network"
DENY_ALL_POLICY = "autoscorer-deny-all"
_PULL = {"never": "Never", "if-missing": "IfNotPresent", "always": "Always"}
_DNS_UNSAFE = re.compile(r"[^a-z0-9-]+")


@dataclass
class PodSettings:
    """Cluster-side options of the executor (``KubernetesExecutor(**config)``)."""

    namespace: str = "autoscorer"
    pvc: str = "autoscorer-workspaces"
    run_as_user: int = 65534
    run_as_group: int = 65534
    ttl_seconds_after_finished: int = 300
    service_account: str | None = None
    image_pull_secrets: list[str] = field(default_factory=list)
    node_selector: dict[str, str] = field(default_factory=dict)
    tmp_size: str = "256Mi"


def job_name(job_id: str, suffix: str) -> str:
    """A DNS-1123 name: ``autoscorer-<job>-<suffix>``, at most 63 characters."""
    room = 63 - len("autoscorer--") - len(suffix)
    base = _DNS_UNSAFE.sub("-", job_id.lower())[:room].strip("-") or "job"
    return f"autoscorer-{base}-{suffix}"


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
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": s.run_as_user,
            "runAsGroup": s.run_as_group,
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
    """The batch/v1 Job running ``spec``: one try, a hard deadline, cleaned up by TTL."""
    labels = {
        "app.kubernetes.io/managed-by": "autoscorer",
        "autoscorer.io/job-id": spec.job_id,
        NETWORK_LABEL: spec.network,
        **spec.labels,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": s.namespace, "labels": labels},
        "spec": {
            "activeDeadlineSeconds": max(1, round(spec.time_limit)),
            "backoffLimit": 0,
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
