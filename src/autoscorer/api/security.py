"""API keys and roles, per-key rate limits, the body size limit, path roots.

Keys are compared by their sha256 (the settings never hold a secret). With no
key configured the API is open and every caller is ``admin``; the default bind
address is then 127.0.0.1. Roles are ordered: reader < submitter < admin.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoscorer.api.envelope import failure, pick_request_id
from autoscorer.errors import (
    AutoScorerError,
    Forbidden,
    InvalidParameter,
    PayloadTooLarge,
    QuotaExceeded,
    Unauthorized,
)
from autoscorer.inputs import check_api_path
from autoscorer.settings import ROLES, Role, Settings, hash_key
from autoscorer.workspace.layout import resolve_inside

_RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (or ``anonymous``), its role and rate limit."""

    name: str
    role: Role
    rate_limit: float | None = None

    def allows(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def owner_scope(self) -> str | None:
        """The owner this caller's job reads are confined to: a submitter sees only the
        jobs it submitted; readers and admins see every job (None)."""
        return self.name if self.role == "submitter" else None


def authenticate(settings: Settings, token: str | None) -> Principal:
    """The principal for a bearer ``token`` (None when no Authorization header came)."""
    if not settings.auth_enabled:
        return Principal("anonymous", "admin")
    if token is None:
        if settings.anonymous_role is not None:
            return Principal("anonymous", settings.anonymous_role)
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    digest = hash_key(token)
    for key in settings.api_keys:
        if key.sha256 == digest:
            return Principal(key.name, key.role, key.rate_limit)
    raise Unauthorized("the API key is not valid")


def check_role(principal: Principal, role: Role) -> None:
    if not principal.allows(role):
        raise Forbidden(
            f"this operation needs the '{role}' role; key '{principal.name}' has "
            f"'{principal.role}'",
            details={"required_role": role, "role": principal.role},
        )


def check_scorer_loading(settings: Settings) -> None:
    """Loading a scorer file runs its code in the server: a host may turn it off."""
    if not settings.api_scorer_loading:
        raise Forbidden(
            "loading scorer files over the API is turned off on this server "
            "(security.scorer_loading / AUTOSCORER_API_SCORER_LOADING is false)",
            field="file_path",
            details={"setting": "security.scorer_loading"},
        )


class RateLimiter:
    """A token bucket per caller: ``rate`` requests/s on average, bursts up to ``burst``."""

    max_callers = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, at)

    async def acquire(self, caller: str, rate: float, burst: int) -> None:
        """:meth:`hit`, under the interface the shared (Redis) limiter has too."""
        self.hit(caller, rate, burst)

    def hit(self, caller: str, rate: float, burst: int) -> None:
        """Take one token for ``caller`` or raise :class:`QuotaExceeded` with retry_after."""
        if rate <= 0:
            return
        now = self._clock()
        tokens, at = self._buckets.get(caller, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            wait = (1.0 - tokens) / rate
            raise QuotaExceeded(
                f"rate limit of {rate:g} requests/s exceeded for '{caller}'; retry in "
                f"{math.ceil(wait)} s",
                retry_after=wait,
                details={"limit_per_second": rate, "burst": burst},
            )
        if len(self._buckets) >= self.max_callers and caller not in self._buckets:
            self._buckets.clear()  # bounded memory; a reset only grants fresh bursts
        self._buckets[caller] = (tokens - 1.0, now)


def inside_roots(path: str, roots: list[str], field: str) -> Path:
    """``path`` resolved (symlinks too) inside ``roots``; relative paths start at roots[0].

    ``~`` is never expanded (no user database look-up): :func:`check_api_path` refuses it.
    """
    check_api_path(path, field)
    if not roots:  # no root configured allows nothing, never everything
        raise Forbidden(
            f"{field} {path!r} is refused: no allowed roots are configured for it",
            field=field,
            details={"allowed_roots": []},
        )
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = Path(roots[0]) / candidate
    try:
        return resolve_inside(candidate, roots)
    except Forbidden as exc:
        exc.field = field
        exc.message = f"{field} {path!r} is outside the allowed roots"
        exc.args = (exc.message,)
        raise
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name too long
        raise InvalidParameter(f"cannot resolve {field}: {exc}", field=field) from exc


class BodyLimitMiddleware:
    """Pure ASGI: refuse bodies above ``settings.max_body_bytes`` with 413.

    Content-Length is checked up front; a chunked body is counted as it arrives.
    The limit is read per request, so ``PUT /api/v1/config`` changes it at once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_error(scope, send, _too_large(declared, limit))
            return
        seen, rejected = 0, False

        async def counted() -> Message:
            # Over the limit mid-stream: answer 413 now and tell the app the client left.
            nonlocal seen, rejected
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit and not rejected:
                rejected = True
                await _send_error(scope, send, _too_large(seen, limit))
            return {"type": "http.disconnect"} if rejected else message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        await self.app(scope, counted, guarded_send)

    def _limit(self, scope: Scope) -> int:
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None)
        return settings.max_body_bytes if isinstance(settings, Settings) else 10 * 1024**2


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body of {size:,} bytes is above the limit of {limit:,} bytes",
        details={"size": size, "limit": limit},
    )


async def _send_error(scope: Scope, send: Send, error: AutoScorerError) -> None:
    rid = scope.get("state", {}).get("request_id") or pick_request_id(None)
    response = failure(rid, [error.to_dict()], status_code=error.http_status)
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
