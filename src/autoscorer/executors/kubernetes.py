"""Kubernetes executor: one batch/v1 Job per run, via the official client.

The workspace must live on a PersistentVolumeClaim that this process also sees
at ``workspace_root``; the pod mounts exactly the run spec's mounts as
``subPath``s of it. Before the Job is created, ``output/`` and ``logs/`` are
handed to the group the pod runs with (``fs_group``, mode 2770), so the pod can
write them on any storage. The time limit counts from container start; the
time before it (scheduling, image pull, volume) has its own ``startup_timeout``.
Failures of the platform (unschedulable, evicted, preempted, node lost,
container not creatable) end with system-fault codes, never blamed on the
submission. The Job is deleted with background propagation after the run; the
pod's ``terminationGracePeriodSeconds`` bounds how long it outlives that. The Job
and pod are followed with the watch API from the Job's creation version
(:mod:`autoscorer.executors.k8s_watch`); polling every ``poll_interval`` is the
fallback when the watch cannot be used (``watch=False``, no ``watch`` in the Role).

Tested against a fake API server (tests/executors/k8s_fake.py) that validates
objects against the Kubernetes OpenAPI schemas, enforces deploy/k8s/rbac.yaml
and runs the container's command as a real process; never a real cluster.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path, PurePosixPath
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from autoscorer.errors import (
    AutoScorerError,
    ExecutionFailed,
    ExecutorUnavailable,
    WorkspaceInvalid,
)
from autoscorer.executors.base import Executor, Middleware, Run, RunSpec
from autoscorer.executors.k8s_grant import grant_group_writable
from autoscorer.executors.k8s_manifests import (
    PodSettings,
    deny_all_policy,
    job_manifest,
    job_name,
)
from autoscorer.executors.k8s_sandbox import KubernetesSandbox
from autoscorer.executors.k8s_watch import API_TIMEOUT


def _api_client(
    host: str | None, kubeconfig: str | None, in_cluster: bool | None, token: str | None
) -> k8s.ApiClient:
    if in_cluster is None:  # auto: inside a pod with no other configuration
        in_cluster = not host and not kubeconfig and "KUBERNETES_SERVICE_HOST" in os.environ
    try:
        if host:
            cfg = k8s.Configuration()
            cfg.host = host
            if token:
                cfg.api_key = {"authorization": f"Bearer {token}"}
            return k8s.ApiClient(cfg)
        if in_cluster:
            k8s_config.load_incluster_config()
        else:
            k8s_config.load_kube_config(config_file=kubeconfig)
        return k8s.ApiClient()
    except Exception as exc:
        raise ExecutorUnavailable(
            f"no Kubernetes configuration could be loaded ({exc}); set k8s_api_url, "
            "k8s_kubeconfig or k8s_in_cluster",
            details={"executor": "kubernetes"},
        ) from exc


class KubernetesExecutor(Executor):
    """Runs each spec as a Kubernetes Job on a cluster (see module docstring)."""

    name = "kubernetes"
    tick = 0.1
    reports_start = True  # by the sandbox, once the pod's container runs

    def __init__(
        self,
        *,
        workspace_root: str,
        host: str | None = None,
        kubeconfig: str | None = None,
        in_cluster: bool | None = None,
        token: str | None = None,
        network_policy: bool = True,
        poll_interval: float = 1.0,
        watch: bool = True,
        watch_timeout: int = 300,
        api_client: k8s.ApiClient | None = None,
        middleware: list[Middleware] | None = None,
        **pod_settings: Any,
    ) -> None:
        super().__init__(middleware)
        self.settings = PodSettings(**pod_settings)
        self.workspace_root = Path(workspace_root).resolve()
        self.api = api_client or _api_client(host, kubeconfig, in_cluster, token)
        self.network_policy, self.poll_interval = network_policy, poll_interval
        self.watch_timeout = int(watch_timeout) if watch else None
        self._policy_ready = False

    def subpath_root(self, spec: RunSpec) -> PurePosixPath:
        """The workspace's path inside the PVC."""
        root = spec.workspace.root
        if not root.is_relative_to(self.workspace_root):
            raise WorkspaceInvalid(
                f"workspace {root} is not on the Kubernetes workspace volume "
                f"(workspace_root {self.workspace_root}); put it there so the pod can mount it",
                field="workspace_path",
            )
        return PurePosixPath(root.relative_to(self.workspace_root).as_posix())

    def manifest(self, spec: RunSpec, suffix: str | None = None) -> dict[str, Any]:
        name = job_name(spec.job_id, suffix or secrets.token_hex(3))
        return job_manifest(spec, self.settings, name, self.subpath_root(spec))

    def describe(self, spec: RunSpec) -> dict[str, Any]:
        out: dict[str, Any] = {"executor": self.name, "job": self.manifest(spec)}
        if self.network_policy:
            out["network_policy"] = deny_all_policy(self.settings.namespace)
        return out

    def _ensure_policy(self) -> None:
        if not self.network_policy or self._policy_ready:
            return
        body = deny_all_policy(self.settings.namespace)
        try:
            k8s.NetworkingV1Api(self.api).create_namespaced_network_policy(
                self.settings.namespace,
                body,  # type: ignore[arg-type]  # the client accepts plain dicts
                _request_timeout=API_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status != 409:  # 409: it exists already
                raise
        self._policy_ready = True

    def start(self, spec: RunSpec, run: Run) -> KubernetesSandbox:
        body = self.manifest(spec)
        grant_group_writable(spec, self.settings.fs_group)
        try:
            self._ensure_policy()
            created = k8s.BatchV1Api(self.api).create_namespaced_job(
                self.settings.namespace,
                body,  # type: ignore[arg-type]  # the client accepts plain dicts
                _request_timeout=API_TIMEOUT,
            )
        except ApiException as exc:
            raise _refused(exc, self.settings.namespace) from exc
        except AutoScorerError:
            raise
        except Exception as exc:  # connection refused, DNS, TLS
            raise ExecutorUnavailable(
                f"the Kubernetes API does not answer: {type(exc).__name__}: {exc}",
                details={"executor": self.name},
            ) from exc
        name = body["metadata"]["name"]
        run.log("INFO", f"job {self.settings.namespace}/{name} created")
        return KubernetesSandbox(
            self.api, created, run, self.settings, self.poll_interval, self.watch_timeout
        )

    def health(self) -> dict[str, Any]:
        try:
            info = k8s.VersionApi(self.api).get_code(_request_timeout=5.0)
        except Exception as exc:
            return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}
        return {
            "status": "healthy",
            "server_version": info.git_version,
            "namespace": self.settings.namespace,
        }

    def close(self) -> None:
        self.api.close()


def _refused(exc: ApiException, namespace: str) -> AutoScorerError:
    """An API refusal at Job creation as an error of the taxonomy (all system faults)."""
    details = {"executor": "kubernetes", "status": exc.status}
    if exc.status in (401, 403):
        hint = "give the worker's service account the Role of deploy/k8s/rbac.yaml"
        return ExecutorUnavailable(
            f"the Kubernetes API refused the request ({exc.status} {exc.reason}); {hint}: "
            f"{exc.body}",
            details=details,
        )
    if exc.status in (404, 503):
        return ExecutorUnavailable(
            f"the Kubernetes API cannot take Jobs in namespace {namespace!r} "
            f"({exc.status} {exc.reason}): {exc.body}",
            details=details,
        )
    return ExecutionFailed(
        f"the Kubernetes API refused the Job ({exc.status} {exc.reason}): {exc.body}",
        details=details,
    )
