"""Who may change what of a workspace's ``meta.json`` through a job's ``config``.

A job's ``config`` overrides ``meta.json`` (see ``executors.spec.apply_overrides``).
Any caller may make limits stricter: a lower ``time_limit`` and fewer resources
(``cpu``, ``memory``, ``gpus``, ``pids``, ``disk``). Everything else (raising a
limit, ``expose_gt``, ``network_policy``, ``env``, ``scorer_params``, ``queue``,
``keep_container``) is an admin's decision. A key nobody reads is refused for
everyone, so a typo never passes silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.workspace.models import Meta, parse_memory

CONFIG_KEYS = frozenset(
    {
        "time_limit",
        "resources",
        "scorer_params",
        "network_policy",
        "expose_gt",
        "env",
        "keep_container",
        "queue",
    }
)
RESOURCE_KEYS = ("cpu", "memory", "gpus", "pids", "disk")


def check_config(config: Mapping[str, Any], meta: Meta, *, privileged: bool) -> None:
    """Refuse unknown keys (400, everyone) and, unless ``privileged``, any override that
    is not a stricter limit than ``meta`` (403 naming the field)."""
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise InvalidParameter(
            f"unknown config key '{unknown[0]}'; known: {', '.join(sorted(CONFIG_KEYS))}",
            field=f"config.{unknown[0]}",
            details={"unknown": unknown, "known": sorted(CONFIG_KEYS)},
        )
    resources = config.get("resources")
    if resources is not None:
        _check_resource_keys(resources)
    if privileged:
        return
    for key, value in config.items():
        if value is None:
            continue
        if key == "time_limit":
            _stricter("config.time_limit", value, meta.time_limit, float)
        elif key == "resources":
            _check_resources(value, meta)
        else:
            raise _needs_admin(f"config.{key}", "only an admin may set it")


def _check_resource_keys(resources: Any) -> None:
    if not isinstance(resources, Mapping):
        raise InvalidParameter("config.resources must be an object", field="config.resources")
    unknown = sorted(set(resources) - set(RESOURCE_KEYS))
    if unknown:
        raise InvalidParameter(
            f"unknown config.resources key '{unknown[0]}'; known: {', '.join(RESOURCE_KEYS)}",
            field=f"config.resources.{unknown[0]}",
            details={"unknown": unknown, "known": list(RESOURCE_KEYS)},
        )


def _check_resources(resources: Mapping[str, Any], meta: Meta) -> None:
    limits = meta.resources
    for key, value in resources.items():
        if value is None:
            continue
        field = f"config.resources.{key}"
        if key == "memory":
            _stricter(field, value, limits.memory, parse_memory)
        elif key == "disk":
            if limits.disk is None:
                raise _needs_admin(field, "meta.json sets no disk limit to compare it with")
            _stricter(field, value, limits.disk, parse_memory)
        else:
            _stricter(field, value, getattr(limits, key), float)


def _stricter(field: str, value: Any, current: Any, parse: Callable[[Any], float]) -> None:
    """``value`` must be at most ``current`` (meta.json's value)."""
    try:
        asked, allowed = parse(value), parse(current)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"{field}: {exc}", field=field) from exc
    if asked > allowed:
        raise _needs_admin(
            field,
            f"{value!r} is above the workspace's {current!r}; a submitter may only lower it",
            {"requested": value, "limit": current},
        )


def _needs_admin(field: str, why: str, details: dict[str, Any] | None = None) -> Forbidden:
    return Forbidden(
        f"{field}: {why}; overriding it needs the 'admin' role",
        field=field,
        details={"required_role": "admin", **(details or {})},
    )
