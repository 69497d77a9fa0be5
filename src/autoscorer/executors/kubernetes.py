"""Kubernetes executor: one batch/v1 Job per run, via the official client.

The workspace must live on a PersistentVolumeClaim that this process also sees
at ``workspace_root``; the pod mounts the run's directories as ``subPath``s of
it. The Job has ``activeDeadlineSeconds`` = time limit, ``backoffLimit`` 0, a
restricted security context and ``ttlSecondsAfterFinished``; it is deleted
with background propagation after the run. Pod logs go to
``logs/container.log``.

Tested only against a fake API server (tests/executors/k8s_fake.py), never a
real cluster.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from autoscorer.errors import (
    ExecutionFailed,
    ExecutorUnavailable,
    ImageNotFound,
    WorkspaceInvalid,
)
from autoscorer.executors.base import Executor, Middleware, Run, RunSpec, SandboxState
from autoscorer.executors.base import Sandbox as _Sandbox
from autoscorer.executors.k8s_manifests import (
    CONTAINER,
    PodSettings,
    deny_all_policy,
    job_manifest,
    job_name,
)

IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
_KILLED = 137


def _api_client(
    host: str | None, kubeconfig: str | None, in_cluster: bool, token: str | None
) -> k8s.ApiClient:
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
            f"no Kubernetes configuration could be loaded ({exc}); pass host=, kubeconfig= "
            "or in_cluster=True",
            details={"executor": "kubernetes"},
        ) from exc


def _image_digest(image_id: str | None) -> str | None:
    if not image_id:
        return None
    return image_id.rsplit("@", 1)[-1] if "@" in image_id else image_id


class KubernetesSandbox(_Sandbox):
    """A Job and its single pod, observed by polling the API server."""

    def __init__(self, api: k8s.ApiClient, name: str, namespace: str, poll: float) -> None:
        self.batch, self.core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)
        self.id, self.namespace, self.poll = name, namespace, poll
        self.image_digest = None
        self.state: SandboxState | None = None
        self.pod: Any = None
        self._last_poll = 0.0
        self._lock = threading.Lock()
        self._gone = threading.Event()

    # -- observing --
    def _refresh(self) -> None:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={self.id}")
        self.pod = pods.items[0] if pods.items else None
        try:
            job = self.batch.read_namespaced_job(self.id, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self._gone.set()
            job = None
        self.state = self._terminal(job)

    def _container_status(self) -> Any:
        statuses = (self.pod.status.container_statuses or []) if self.pod else []
        return next((c for c in statuses if c.name == CONTAINER), None)

    def _terminal(self, job: Any) -> SandboxState | None:
        cs = self._container_status()
        if cs is not None:
            self.image_digest = _image_digest(cs.image_id) or self.image_digest
            waiting = cs.state.waiting if cs.state else None
            if waiting is not None and waiting.reason in IMAGE_ERRORS:
                why = waiting.message or waiting.reason
                raise ImageNotFound(
                    f"the cluster cannot pull image {cs.image!r}: {why}",
                    field="container.image",
                    details={"reason": waiting.reason},
                )
        conditions = (job.status.conditions or []) if job is not None and job.status else []
        failed = next((c for c in conditions if c.type == "Failed" and c.status == "True"), None)
        if failed is not None and failed.reason == "DeadlineExceeded":
            return self._from_container(cs, deadline=True)
        phase = self.pod.status.phase if self.pod and self.pod.status else None
        if phase in ("Succeeded", "Failed") or failed is not None:
            return self._from_container(cs)
        if job is None:  # deleted under us (cancel, time-out, or someone else)
            return SandboxState(exit_code=_KILLED)
        return None

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

    def wait(self, timeout: float) -> int | None:
        if time.monotonic() - self._last_poll < self.poll:
            time.sleep(timeout)
            return None
        self._last_poll = time.monotonic()
        with self._lock:
            try:
                self._refresh()
            except Exception:
                self._gone.set()  # nothing more to stream
                raise
        return None if self.state is None else self.state.exit_code

    # -- acting --
    def kill(self) -> None:
        self.remove()

    def remove(self) -> None:
        body = k8s.V1DeleteOptions(propagation_policy="Background", grace_period_seconds=0)
        try:
            self.batch.delete_namespaced_job(self.id, self.namespace, body=body)
        except ApiException as exc:
            if exc.status != 404:
                raise
        self._gone.set()

    def _container_started(self) -> bool:
        """Block until the container runs or ran (True) or the Job ended without it (False)."""
        while not self._gone.is_set():
            cs = self._container_status()
            if cs is not None and cs.state and (cs.state.running or cs.state.terminated):
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
        )
        try:
            yield from resp.stream(65536)
        finally:
            resp.release_conn()

    def finish(self) -> SandboxState:
        assert self.state is not None
        return self.state


class KubernetesExecutor(Executor):
    """Runs each spec as a Kubernetes Job on a cluster (see module docstring)."""

    name = "kubernetes"
    tick = 0.1

    def __init__(
        self,
        *,
        workspace_root: str,
        host: str | None = None,
        kubeconfig: str | None = None,
        in_cluster: bool = False,
        token: str | None = None,
        network_policy: bool = True,
        poll_interval: float = 1.0,
        api_client: k8s.ApiClient | None = None,
        middleware: list[Middleware] | None = None,
        **pod_settings: Any,
    ) -> None:
        super().__init__(middleware)
        self.settings = PodSettings(**pod_settings)
        self.workspace_root = Path(workspace_root).resolve()
        self.api = api_client or _api_client(host, kubeconfig, in_cluster, token)
        self.network_policy, self.poll_interval = network_policy, poll_interval
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
            )
        except ApiException as exc:
            if exc.status != 409:  # 409: it exists already
                raise
        self._policy_ready = True

    def start(self, spec: RunSpec, run: Run) -> KubernetesSandbox:
        body = self.manifest(spec)
        try:
            self._ensure_policy()
            k8s.BatchV1Api(self.api).create_namespaced_job(
                self.settings.namespace,
                body,  # type: ignore[arg-type]  # the client accepts plain dicts
            )
        except ApiException as exc:
            cls = ExecutorUnavailable if exc.status in (401, 403, 503) else ExecutionFailed
            raise cls(
                f"the Kubernetes API refused the Job ({exc.status} {exc.reason}): {exc.body}",
                details={"executor": self.name, "status": exc.status},
            ) from exc
        except Exception as exc:  # connection refused, DNS, TLS
            raise ExecutorUnavailable(
                f"the Kubernetes API does not answer: {type(exc).__name__}: {exc}",
                details={"executor": self.name},
            ) from exc
        name = body["metadata"]["name"]
        run.log("INFO", f"job {self.settings.namespace}/{name} created")
        return KubernetesSandbox(self.api, name, self.settings.namespace, self.poll_interval)

    def health(self) -> dict[str, Any]:
        try:
            info = k8s.VersionApi(self.api).get_code()
        except Exception as exc:
            return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}
        return {
            "status": "healthy",
            "server_version": info.git_version,
            "namespace": self.settings.namespace,
        }

    def close(self) -> None:
        self.api.close()
