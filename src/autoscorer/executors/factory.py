"""Executors built from :class:`Settings`: the one place a setting reaches an executor.

``make_executor(name, settings)`` is what the job runner, the pipeline, the CLI
and the health probe call; ``get_executor(name, **config)`` stays the low-level
constructor for callers that pass every option themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from autoscorer.errors import InvalidParameter
from autoscorer.executors import Executor, get_executor
from autoscorer.settings import Settings

_ALIASES = {"k8s": "kubernetes"}


@dataclass(frozen=True)
class KubernetesOptions:
    """The Kubernetes executor's options, read from the ``k8s_*`` settings."""

    workspace_root: str
    namespace: str
    pvc: str
    host: str | None
    kubeconfig: str | None
    in_cluster: bool | None
    network_policy: bool
    startup_timeout: float
    termination_grace_seconds: int
    run_as_user: int
    run_as_group: int
    fs_group: int
    service_account: str | None
    poll_interval: float
    watch: bool
    watch_timeout: int
    image_pull_secrets: list[str] = field(default_factory=list)
    node_selector: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, s: Settings) -> KubernetesOptions:
        root = s.k8s_workspace_root or (s.workspace_roots[0] if s.workspace_roots else None)
        if not root:
            raise InvalidParameter(
                "the Kubernetes executor needs k8s_workspace_root (where this process sees "
                "the workspace volume) or a workspace root",
                field="k8s_workspace_root",
            )
        return cls(
            workspace_root=root,
            namespace=s.k8s_namespace,
            pvc=s.k8s_pvc,
            host=s.k8s_api_url,
            kubeconfig=s.k8s_kubeconfig,
            in_cluster=s.k8s_in_cluster,
            network_policy=s.k8s_network_policy,
            startup_timeout=s.k8s_startup_timeout,
            termination_grace_seconds=s.k8s_termination_grace_seconds,
            run_as_user=s.k8s_run_as_user,
            run_as_group=s.k8s_run_as_group,
            fs_group=s.k8s_fs_group,
            service_account=s.k8s_service_account,
            poll_interval=s.k8s_poll_interval,
            watch=s.k8s_watch,
            watch_timeout=s.k8s_watch_timeout,
            image_pull_secrets=list(s.k8s_image_pull_secrets),
            node_selector=dict(s.k8s_node_selector),
        )


def executor_options(name: str, settings: Settings) -> dict[str, Any]:
    """The keyword options ``name`` is built with under ``settings``."""
    name = _ALIASES.get(name, name)
    if name == "kubernetes":
        return asdict(KubernetesOptions.from_settings(settings))
    if name == "docker":
        return docker_options(settings)
    if name == "auto":  # docker when the engine answers, else local
        return {"docker": docker_options(settings)}
    return {}  # local has no server settings: its defaults apply


def docker_options(settings: Settings) -> dict[str, Any]:
    """The Docker executor's options, read from the ``docker_*`` settings."""
    return {
        "restricted_network": settings.docker_network_mode,
        "cleanup": settings.docker_cleanup,
        "timeout": settings.docker_timeout,
    }


def make_executor(name: str, settings: Settings | None = None, **overrides: Any) -> Executor:
    """The executor ``name`` configured from ``settings`` (default: the environment).

    ``overrides`` (e.g. the CLI's ``--executor-config``) win over the settings.
    """
    settings = settings if settings is not None else Settings()
    return get_executor(name, **{**executor_options(name, settings), **overrides})
