"""Executors: run a submission's inference in a sandbox.

``get_executor(name, **config)`` builds one by name; optional backends are
imported only when asked for, with an install hint when their client library
is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

from autoscorer.errors import ExecutorUnavailable, InvalidParameter
from autoscorer.executors.base import Executor, Middleware, Mount, Run, RunSpec, Sandbox
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import apply_overrides, build_spec

__all__ = [
    "EXECUTORS",
    "Executor",
    "Middleware",
    "Mount",
    "Run",
    "RunOutcome",
    "RunSpec",
    "Sandbox",
    "apply_overrides",
    "build_spec",
    "get_executor",
]

# name -> (module, factory, pip extra providing its client library)
_BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "auto": ("autoscorer.executors.auto", "auto_executor", None),
    "docker": ("autoscorer.executors.docker", "DockerExecutor", "docker"),
    "local": ("autoscorer.executors.local", "LocalExecutor", None),
    "kubernetes": ("autoscorer.executors.kubernetes", "KubernetesExecutor", "k8s"),
}
_ALIASES = {"k8s": "kubernetes"}
EXECUTORS = tuple(_BACKENDS)


def get_executor(name: str, **config: Any) -> Executor:
    """The executor ``name`` (auto, docker, local, kubernetes/k8s) built with ``config``."""
    key = _ALIASES.get(name, name)
    if key not in _BACKENDS:
        raise InvalidParameter(
            f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}",
            field="executor",
            details={"provided": name, "available": list(EXECUTORS)},
        )
    module_name, factory, extra = _BACKENDS[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f": pip install 'autoscorer[{extra}]'" if extra else ""
        raise ExecutorUnavailable(
            f"the {key} executor cannot be loaded ({exc}){hint}",
            details={"executor": key, "missing": exc.name},
        ) from exc
    executor: Executor = getattr(module, factory)(**config)
    return executor
