"""Pod Security admission, ``restricted`` profile (Kubernetes 1.31), for the fake cluster.

The Job controller's pod creation is refused when the template violates it, so the Job
stays without a pod (``FailedCreate``), as in a namespace labelled
``pod-security.kubernetes.io/enforce=restricted``.
"""

from __future__ import annotations

from typing import Any

VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def _container_checks(c: dict[str, Any], pod_sc: dict[str, Any]) -> list[str]:
    sc = c.get("securityContext", {})
    name = c.get("name", "?")
    out = []
    if sc.get("privileged"):
        out.append(f"{name}: privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(f"{name}: allowPrivilegeEscalation != false")
    caps = sc.get("capabilities", {})
    if "ALL" not in caps.get("drop", []):
        out.append(f"{name}: capabilities.drop must include ALL")
    if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
        out.append(f"{name}: capabilities.add beyond NET_BIND_SERVICE")
    if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
        out.append(f"{name}: runAsNonRoot != true")
    if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
        out.append(f"{name}: runAsUser=0")
    seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        out.append(f"{name}: seccompProfile.type must be RuntimeDefault or Localhost")
    return out


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What in ``pod`` (a PodSpec) the ``restricted`` profile forbids; [] when it passes."""
    sc = pod.get("securityContext", {})
    out = [f"host namespace {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    for vol in pod.get("volumes", []):
        kinds = set(vol) - {"name"}
        if not kinds <= VOLUME_TYPES:
            out.append(f"volume {vol['name']}: type {sorted(kinds)} not allowed")
    for c in pod.get("initContainers", []) + pod.get("containers", []):
        out += _container_checks(c, sc)
    return out
