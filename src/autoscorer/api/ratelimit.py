"""Rate limits shared by every API process through Redis (the ``limits`` library).

Without ``rate_limit_storage_url`` each process counts on its own (the token bucket of
:class:`~autoscorer.api.security.RateLimiter`), so ``--workers N`` on M machines allows
N x M times the limit. With it, every process counts in the same Redis: a moving window
of ``burst`` requests per ``burst / rate`` seconds (at least one second; a rate above
the burst allows ``rate`` requests per second). When Redis does not answer, the process
falls back to its own counter (logged) instead of refusing or allowing everything.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Protocol

from autoscorer.api.security import RateLimiter
from autoscorer.errors import QuotaExceeded
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.api")
KEY_PREFIX = "autoscorer-ratelimit"
WARN_EVERY = 30.0  # seconds between two "Redis unreachable" warnings


def window(rate: float, burst: int) -> tuple[int, int]:
    """(requests, seconds) of the moving window that stands for ``rate``/s, ``burst``."""
    seconds = max(1, math.ceil(burst / rate))
    return max(1, round(rate * seconds)), seconds


class Limiter(Protocol):
    async def acquire(self, caller: str, rate: float, burst: int) -> None: ...


class SharedRateLimiter:
    """Per-caller limits counted in Redis; the local bucket when Redis is unreachable."""

    def __init__(self, url: str) -> None:
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        self.url = url
        uri = url if url.startswith("async+") else f"async+{url}"
        self.storage = RedisStorage(
            uri, wrap_exceptions=True, implementation="redispy", key_prefix=KEY_PREFIX
        )
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.local = RateLimiter()
        self._warned_at = -WARN_EVERY

    async def acquire(self, caller: str, rate: float, burst: int) -> None:
        """Count one request of ``caller`` or raise :class:`QuotaExceeded` (retry_after)."""
        if rate <= 0:
            return
        from limits import RateLimitItemPerSecond
        from limits.errors import StorageError

        amount, seconds = window(rate, burst)
        item = RateLimitItemPerSecond(amount, seconds)
        try:
            if await self.strategy.hit(item, caller):
                return
            stats = await self.strategy.get_window_stats(item, caller)
        except StorageError as exc:
            self._warn(exc)
            self.local.hit(caller, rate, burst)
            return
        wait = max(0.0, stats.reset_time - time.time())
        raise QuotaExceeded(
            f"rate limit of {rate:g} requests/s exceeded for '{caller}'; retry in "
            f"{max(1, math.ceil(wait))} s",
            retry_after=wait,
            details={"limit_per_second": rate, "burst": burst, "shared": True},
        )

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning(
                "rate limit storage %s unreachable (%s): counting in this process only",
                _redact(self.url),
                exc,
            )


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"


def make_limiter(settings: Settings) -> Limiter:
    """The limiter ``settings`` ask for: shared through Redis, or this process's own."""
    if settings.rate_limit_storage_url:
        return SharedRateLimiter(settings.rate_limit_storage_url)
    return RateLimiter()
