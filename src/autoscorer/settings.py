"""Server settings: one pydantic-settings class.

Sources, highest priority first: keyword arguments, ``AUTOSCORER_<FIELD>``
environment variables (``AUTOSCORER_DATABASE_URL``, ``AUTOSCORER_API_PORT``, ...),
the YAML file named by ``AUTOSCORER_CONFIG`` (read with ``yaml.safe_load``), the
defaults. With no configuration at all the server runs on embedded parts: a
SQLite file, the in-process queue and the ``auto`` executor.

The YAML file may use the sections that ``GET /api/v1/config`` shows
(``api: {port: 9000}``) or the flat field names (``api_port: 9000``).
:data:`SECTIONS` is the one table between the two shapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from autoscorer import config_guard as guard
from autoscorer.errors import InvalidParameter
from autoscorer.webhook_schemes import Scheme

Role = Literal["reader", "submitter", "admin"]
ROLES: tuple[Role, ...] = ("reader", "submitter", "admin")
CONFIG_ENV = "AUTOSCORER_CONFIG"
MASK = "********"

# section -> {dotted key inside the section: field name}; drives the YAML file
# shape, GET /api/v1/config and PUT /api/v1/config.
SECTIONS: dict[str, dict[str, str]] = {
    "system": {"environment": "environment"},
    "executor": {
        "type": "executor",
        "docker.runtime": "docker_runtime",
        "docker.network_mode": "docker_network_mode",
        "docker.cleanup": "docker_cleanup",
        "docker.timeout": "docker_timeout",
        "k8s.enabled": "k8s_enabled",
        "k8s.namespace": "k8s_namespace",
        "k8s.pvc": "k8s_pvc",
        "k8s.workspace_root": "k8s_workspace_root",
        "k8s.api_url": "k8s_api_url",
        "k8s.kubeconfig": "k8s_kubeconfig",
        "k8s.in_cluster": "k8s_in_cluster",
        "k8s.network_policy": "k8s_network_policy",
        "k8s.startup_timeout": "k8s_startup_timeout",
        "k8s.termination_grace_seconds": "k8s_termination_grace_seconds",
        "k8s.run_as_user": "k8s_run_as_user",
        "k8s.run_as_group": "k8s_run_as_group",
        "k8s.fs_group": "k8s_fs_group",
        "k8s.service_account": "k8s_service_account",
        "k8s.image_pull_secrets": "k8s_image_pull_secrets",
        "k8s.node_selector": "k8s_node_selector",
        "k8s.poll_interval": "k8s_poll_interval",
        "k8s.watch": "k8s_watch",
        "k8s.watch_timeout": "k8s_watch_timeout",
    },
    "database": {"url": "database_url"},
    "queue": {
        "backend": "queue",
        "concurrency": "queue_concurrency",
        "broker_url": "broker_url",
        "lease_seconds": "job_lease_seconds",
        "max_attempts": "job_max_attempts",
        "reaper_interval": "reaper_interval",
        "requeue_after": "requeue_after",
    },
    "redis": {"url": "broker_url", "max_connections": "redis_max_connections"},
    "api": {
        "host": "api_host",
        "port": "api_port",
        "workers": "api_workers",
        "cors_origins": "cors_origins",
        "max_body_bytes": "max_body_bytes",
        "sync_wait_seconds": "sync_wait_seconds",
        "rate_limit": "rate_limit",
        "rate_limit_burst": "rate_limit_burst",
        "rate_limit_storage": "rate_limit_storage_url",
    },
    "security": {
        "api_keys": "api_keys",
        "anonymous_role": "anonymous_role",
        "workspace_roots": "workspace_roots",
        "scorer_roots": "scorer_roots",
        "scorer_loading": "api_scorer_loading",
    },
    "limits": {
        "max_file_bytes": "max_file_bytes",
        "max_body_bytes": "max_body_bytes",
        "default_disk": "default_disk",
    },
    "logging": {"level": "log_level", "format": "log_format"},
    "webhooks": {
        "secret": "webhook_secret",
        "allowed_hosts": "webhook_allowed_hosts",
        "default_url": "webhook_default_url",
        "signature": "webhook_signature",
        "max_attempts": "webhook_max_attempts",
    },
    "metrics": {"enabled": "metrics_enabled", "public": "metrics_public"},
}

# Fields read on every request (or job submission): a change applies at once.
# Every other field is read at start-up, so changing it needs a restart.
LIVE_FIELDS = frozenset(
    {
        "executor",
        "k8s_enabled",
        "workspace_roots",
        "scorer_roots",
        "api_keys",
        "anonymous_role",
        "rate_limit",
        "rate_limit_burst",
        "max_body_bytes",
        "max_file_bytes",
        "sync_wait_seconds",
        "log_level",
        "webhook_allowed_hosts",
        "metrics_public",
    }
)


def hash_key(key: str) -> str:
    """The sha256 hex digest under which an API key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(BaseModel):
    """One API key, stored as the sha256 of the secret, never the secret itself."""

    name: str = Field(..., min_length=1)
    sha256: str = Field(..., pattern=r"^[0-9a-f]{64}$", description="hash_key(secret)")
    role: Role = "reader"
    rate_limit: float | None = Field(None, ge=0, description="Requests/s; overrides rate_limit")


def _default_workspace_roots() -> list[str]:
    roots = [os.getcwd()]
    examples = Path(__file__).resolve().parents[2] / "examples"
    if examples.is_dir() and not examples.is_relative_to(Path(roots[0]).resolve()):
        roots.append(str(examples))
    return roots


def _split_list(value: Any) -> Any:
    """Lists from the environment: JSON (``'["/a", "/b"]'``) or comma-separated."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


StrList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """Everything the server reads at start-up or per request."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOSCORER_", extra="ignore", validate_default=True
    )

    environment: str = "development"
    database_url: str = "sqlite:///autoscorer.db"
    broker_url: str = "redis://127.0.0.1:6379/0"
    redis_max_connections: int = Field(10, ge=1, le=10_000)
    queue: Literal["inprocess", "celery"] = "inprocess"
    queue_concurrency: int = Field(
        2, ge=1, le=1024, description="Jobs run at once by the in-process queue"
    )
    job_lease_seconds: float = Field(
        30.0, ge=1, le=86_400, description="A running job's lease; renewed by heartbeats"
    )
    job_max_attempts: int = Field(
        3, ge=1, le=100, description="Runs of a job whose worker vanished before WORKER_LOST"
    )
    reaper_interval: float = Field(
        5.0, ge=0.1, le=3600, description="Seconds between looks for lost jobs"
    )
    requeue_after: float = Field(
        600.0,
        ge=0,
        le=30 * 86_400,
        description="Seconds a job may stay queued with no worker claiming it before the "
        "reaper publishes it to the queue again (a broker that lost its message); 0 = never",
    )
    executor: Literal["auto", "docker", "local", "kubernetes"] = "auto"
    docker_runtime: str | None = Field(
        None, description="OCI runtime of sandbox containers, e.g. runsc (gVisor); None: default"
    )
    docker_network_mode: str | None = Field(
        None,
        description="Docker network of sandboxes whose network_policy is 'restricted' (one "
        "with only the allowed egress); None: such jobs are refused. Otherwise sandboxes "
        "run with network 'none' (or 'bridge' when meta.json asks for it)",
    )
    docker_cleanup: bool = Field(
        True, description="Remove sandbox containers after the run; false keeps them all"
    )
    docker_timeout: int = Field(120, ge=1, description="Seconds for a Docker engine API call")
    k8s_enabled: bool = False
    k8s_namespace: str = "autoscorer"
    k8s_pvc: str = Field("autoscorer-workspaces", min_length=1)
    k8s_workspace_root: str | None = Field(
        None, description="Where this process sees the PVC; default: the first workspace root"
    )
    k8s_api_url: str | None = Field(None, description="API server URL (else kubeconfig/in-cluster)")
    k8s_kubeconfig: str | None = None
    k8s_in_cluster: bool | None = Field(
        None, description="Use the pod's service account; default: when inside a pod"
    )
    k8s_network_policy: bool = True
    k8s_startup_timeout: float = Field(
        300.0, gt=0, description="Seconds for scheduling, image pull and volume before the run"
    )
    k8s_termination_grace_seconds: int = Field(5, ge=0)
    k8s_run_as_user: int = Field(65534, ge=1)
    k8s_run_as_group: int = Field(65534, ge=1)
    k8s_fs_group: int = Field(65534, ge=1, description="Group shared by the pods and the worker")
    k8s_service_account: str | None = None
    k8s_image_pull_secrets: StrList = Field(default_factory=list)
    k8s_node_selector: dict[str, str] = Field(default_factory=dict)
    k8s_poll_interval: float = Field(
        1.0, gt=0, description="Seconds between reads when the Job is polled instead of watched"
    )
    k8s_watch: bool = Field(True, description="Follow the Job and pod with the watch API")
    k8s_watch_timeout: int = Field(
        300, ge=1, description="timeoutSeconds of one watch request; it is then resumed"
    )
    workspace_roots: StrList = Field(default_factory=_default_workspace_roots)
    scorer_roots: StrList = Field(default_factory=lambda: [os.getcwd()])
    api_scorer_loading: bool = Field(
        True,
        description="Allow loading, reloading and watching scorer files over the API "
        "(loading a file runs its code on the server); not changeable over the API",
    )
    max_file_bytes: int = Field(2 * 1024**3, ge=1024, le=2**50)
    default_disk: str = Field(
        "1Gi", description="Disk quota of a sandbox's output/ + logs/ without resources.disk"
    )
    api_host: str = Field("127.0.0.1", min_length=1, pattern=r"^\S+$")
    api_port: int = Field(8000, ge=0, le=65535)
    api_workers: int = Field(1, ge=1, le=256)
    api_keys: list[ApiKey] = Field(default_factory=list)
    anonymous_role: Role | None = Field(
        None, description="Role of key-less requests when keys exist"
    )
    rate_limit: float = Field(
        0.0, ge=0, le=1_000_000, description="Requests/s per key or client; 0 = off"
    )
    rate_limit_burst: int = Field(50, ge=1, le=1_000_000)
    rate_limit_storage_url: str | None = Field(
        None,
        description="redis://host:port/db: rate limits shared by every API process using it; "
        "unset: each process counts on its own",
    )
    max_body_bytes: int = Field(
        10 * 1024**2,
        ge=guard.MIN_BODY_BYTES,
        le=2**40,
        description="Largest request body; at least 64 KiB so a config PUT always fits",
    )
    sync_wait_seconds: float = Field(30.0, ge=0, le=3600)
    cors_origins: StrList = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    webhook_secret: SecretStr | None = None
    webhook_allowed_hosts: StrList = Field(default_factory=list)
    webhook_default_url: str | None = Field(
        None, description="Receives every job's events when the job names no callback_url"
    )
    webhook_signature: Scheme = Field(
        "standard",
        description="Signature headers of webhooks: standard (Standard Webhooks: webhook-id, "
        "webhook-timestamp, webhook-signature), autoscorer (X-AutoScorer-Signature) or both",
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Delivery attempts of one webhook before it is marked failed"
    )
    metrics_enabled: bool = Field(True, description="Serve GET /metrics (read at start-up)")
    metrics_public: bool = Field(
        False, description="GET /metrics needs no key even when API keys are configured"
    )

    @field_validator(
        "workspace_roots",
        "scorer_roots",
        "cors_origins",
        "webhook_allowed_hosts",
        "k8s_image_pull_secrets",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("workspace_roots", "scorer_roots")
    @classmethod
    def _roots(cls, value: list[str]) -> list[str]:
        return [guard.root(v) for v in value]

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [guard.origin(v) for v in value]

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [guard.host_name(v) for v in value]

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        return guard.database_url(value)

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, value: str) -> str:
        return guard.network_url(value, guard.BROKER_SCHEMES, "broker url")

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return guard.network_url(value, guard.STORAGE_SCHEMES, "rate limit storage url")

    @field_validator("webhook_default_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return guard.network_url(value, guard.HTTP_SCHEMES, "webhook url")

    @field_validator("k8s_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return guard.namespace(value)

    @field_validator("api_keys")
    @classmethod
    def _keys(cls, value: list[ApiKey]) -> list[ApiKey]:
        return guard.unique_keys(value)

    @field_validator("default_disk")
    @classmethod
    def _disk(cls, value: str) -> str:
        if not re.fullmatch(r"\s*[1-9]\d*(\.\d+)?\s*([KMGT]i?)?\s*", value):
            raise ValueError("default_disk must be a positive quantity such as '1Gi' or '512Mi'")
        return value

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_alias(cls, value: Any) -> Any:
        return "kubernetes" if value == "k8s" else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = InitSettingsSource(settings_cls, read_config_file(os.environ.get(CONFIG_ENV)))
        return init_settings, env_settings, yaml_source

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)


def read_config_file(path: str | None) -> dict[str, Any]:
    """Flat field values from a YAML config file (sections or flat names); {} without one."""
    if not path:
        return {}
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InvalidParameter(f"cannot read config file {path}: {exc}", field="config") from exc
    except yaml.YAMLError as exc:
        raise InvalidParameter(
            f"config file {path} is not valid YAML: {exc}", field="config"
        ) from exc
    if not isinstance(raw, dict):
        raise InvalidParameter(f"config file {path} must hold a mapping", field="config")
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS and isinstance(value, dict):
            flat.update(section_to_fields(key, value))
        else:
            flat[key] = value
    return flat


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"k8s": {"enabled": True}}`` -> ``{"k8s.enabled": True}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and not dotted.endswith(("api_keys", "node_selector")):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def section_to_fields(section: str, values: dict[str, Any]) -> dict[str, Any]:
    """Field values for one section's (nested) keys; an unknown key is an error."""
    mapping = SECTIONS[section]
    out: dict[str, Any] = {}
    for key, value in flatten(values).items():
        if key not in mapping:
            raise InvalidParameter(
                f"section '{section}' has no setting '{key}'; known: {sorted(mapping)}",
                field=f"config.{key}",
                details={"section": section, "known": sorted(mapping)},
            )
        out[mapping[key]] = value
    return out


def _mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host``."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    return f"{scheme}://{creds.split(':', 1)[0]}:{MASK}@{host}"


def shown_value(settings: Settings, field: str) -> Any:
    """A field's value as ``GET /api/v1/config`` shows it: JSON types, secrets masked."""
    value = getattr(settings, field)
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else None
    if field.endswith("_url") and isinstance(value, str):
        return _mask_url(value)
    if field == "api_keys":
        return [{"name": k.name, "role": k.role, "sha256": MASK} for k in value]
    return value


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def config_view(
    settings: Settings, section: str | None = None, *, include_defaults: bool = True
) -> dict[str, Any]:
    """The config by section, secrets masked; without defaults only values set explicitly."""
    names = [check_section(section)] if section else list(SECTIONS)
    explicit = settings.model_fields_set
    out: dict[str, Any] = {}
    for name in names:
        flat = {
            key: shown_value(settings, field)
            for key, field in SECTIONS[name].items()
            if include_defaults or field in explicit
        }
        out[name] = _nest(flat)
    return out


def check_section(section: str) -> str:
    if section not in SECTIONS:
        raise InvalidParameter(
            f"unknown config section '{section}'; known: {sorted(SECTIONS)}",
            field="section",
            details={"provided": section, "available": sorted(SECTIONS)},
        )
    return section


def apply_update(
    settings: Settings, section: str, config: dict[str, Any]
) -> tuple[Settings, dict[str, dict[str, Any]], bool]:
    """New settings with ``config`` applied to ``section``, the changes, restart needed?

    Values are validated as at start-up; nothing changes when any value is wrong.
    """
    check_section(section)
    updates = section_to_fields(section, config)
    keys = {field: key for key, field in SECTIONS[section].items()}
    merged = {name: getattr(settings, name) for name in settings.model_fields_set}
    try:
        new = type(settings)(**{**merged, **updates})
    except ValidationError as exc:
        raise _invalid_update(section, exc) from exc
    guard.check_update(settings, new, updates)
    changed = [f for f in updates if getattr(settings, f) != getattr(new, f)]
    changes = {
        keys[f]: {"old": shown_value(settings, f), "new": shown_value(new, f)} for f in changed
    }
    return new, changes, any(f not in LIVE_FIELDS for f in changed)


def key_of(field: str, section: str | None = None) -> str:
    """``section.key`` of a settings field (in ``section`` if it shows it, else the first)."""
    first = [section] if section is not None and section in SECTIONS else []
    for shown in [*first, *SECTIONS]:
        for key, name in SECTIONS[shown].items():
            if name == field:
                return f"{shown}.{key}"
    return field


def _invalid_update(section: str, exc: ValidationError) -> InvalidParameter:
    """The first wrong value of a config update, named as the section shows it."""
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = key_of(loc[0], section) if loc else section
    where = ".".join([key, *loc[1:]])
    return InvalidParameter(
        f"invalid value for {where}: {first['msg']}",
        field=f"config.{where}",
        details={"section": section, "setting": key, "errors": len(exc.errors())},
    )
