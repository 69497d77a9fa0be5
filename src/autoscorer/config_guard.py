"""Shapes and safety of the settings: URL and name checks the settings' validators use,
the rules a ``PUT /api/v1/config`` must also pass, and the start-up warnings.

A value that cannot work is refused wherever it comes from (environment, YAML file,
``PUT``). A change over the API is further refused when it would lock every admin out
(no admin key left) or open the API to everyone (all keys removed, anonymous admin),
or when it touches a setting kept out of the API's reach on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from autoscorer.errors import InvalidParameter

if TYPE_CHECKING:
    from autoscorer.settings import ApiKey, Settings

# large enough for any configuration PUT (a few hundred API keys) and a batch of jobs
MIN_BODY_BYTES = 64 * 1024
BROKER_SCHEMES = frozenset({"redis", "rediss", "amqp", "amqps", "pyamqp", "sentinel"})
STORAGE_SCHEMES = frozenset({"redis", "rediss", "redis+sentinel", "redis+cluster"})
HTTP_SCHEMES = frozenset({"http", "https"})
# settings a request can never change: they are the host's decision, made at start-up
NOT_OVER_API = frozenset({"api_scorer_loading"})
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^(\*|[A-Za-z0-9_.\-\[\]:]+)$")


def network_url(value: str, schemes: Iterable[str], what: str) -> str:
    """``value`` if it is ``scheme://host[:port]/...`` with one of ``schemes``."""
    allowed = sorted(schemes)
    try:
        parts = urlsplit(value)
        _port = parts.port  # ValueError on a port that is not a number in 0..65535
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in allowed:
        raise ValueError(f"{what} {value!r} must use one of: {', '.join(allowed)}")
    if not parts.hostname:
        raise ValueError(f"{what} {value!r} has no host")
    return value


# A file or in-memory SQLite URL: what SQLAlchemy parses as host-less sqlite. Checked
# without importing SQLAlchemy (about 0.13 s), which a CLI run that never opens the
# database would otherwise pay for reading its settings.
_SQLITE_FILE = re.compile(r"^sqlite(\+pysqlite)?://(/[^?]*)?$")


def database_url(value: str) -> str:
    """A SQLAlchemy URL of SQLite or PostgreSQL."""
    if _SQLITE_FILE.match(value):
        return value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValueError(f"database url {value!r} cannot be parsed: {exc}") from exc
    if url.get_backend_name() not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(f"database url {value!r} must be sqlite:// or postgresql://")
    return value


def origin(value: str) -> str:
    """A CORS origin: ``*`` or ``scheme://host[:port]`` without a path."""
    if value == "*":
        return value
    network_url(value, HTTP_SCHEMES, "CORS origin")
    if urlsplit(value).path not in ("", "/"):
        raise ValueError(f"CORS origin {value!r} must not have a path")
    return value


def host_name(value: str) -> str:
    """A webhook allow-list entry: a host name, ``host:port`` or ``*``."""
    if not _HOST.match(value):
        raise ValueError(f"allowed host {value!r} must be a host name, host:port or '*'")
    return value


def namespace(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(f"namespace {value!r} must be a DNS label (a-z, 0-9, '-', <= 63)")
    return value


def root(value: str) -> str:
    if not value.strip() or "\x00" in value:
        raise ValueError(f"root {value!r} must be a non-empty path")
    return value


def unique_keys(keys: list[ApiKey]) -> list[ApiKey]:
    """No two keys share a name or a secret (a shared secret would pick one role at random)."""
    for attr in ("name", "sha256"):
        seen = [getattr(k, attr) for k in keys]
        dupes = sorted({v for v in seen if seen.count(v) > 1})
        if dupes:
            shown = dupes if attr == "name" else ["(hidden)"]
            raise ValueError(f"two API keys share a {attr}: {', '.join(shown)}")
    return keys


def check_update(old: Settings, new: Settings, fields: Iterable[str]) -> None:
    """Refuse a configuration change made over the API that would lock every admin out,
    open the API to everyone, or touch a setting the API may not change."""
    fields = set(fields)
    for name in sorted(fields & NOT_OVER_API):
        if getattr(old, name) != getattr(new, name):
            raise _refused(name, "it can be changed only in the environment or config file")
    if old.api_keys and not new.api_keys:
        raise _refused("api_keys", "removing every key would open the API to everyone")
    if new.api_keys and not any(k.role == "admin" for k in new.api_keys):
        raise _refused("api_keys", "no admin key would be left to change the config again")
    if new.api_keys and new.anonymous_role == "admin" and old.anonymous_role != "admin":
        raise _refused("anonymous_role", "'admin' would give every caller without a key admin")


def _refused(field: str, why: str) -> InvalidParameter:
    from autoscorer.settings import key_of

    key = key_of(field)
    return InvalidParameter(
        f"refused: {key}: {why}",
        field=f"config.{key}",
        details={"setting": key, "reason": why},
    )


def startup_warnings(settings: Settings) -> list[str]:
    """What a server about to start should say about its configuration."""
    out = []
    if not settings.workspace_roots:
        out.append(
            "workspace_roots is empty: every workspace path is refused (no job, "
            "validation or scorer test can run); set AUTOSCORER_WORKSPACE_ROOTS"
        )
    if not settings.scorer_roots:
        out.append("scorer_roots is empty: loading any scorer file over the API is refused")
    if settings.api_keys and settings.anonymous_role == "admin":
        out.append("anonymous_role is 'admin': callers without a key are admin")
    return out
