"""Per-scorer usage figures (jobs run, last used, success rate), cached.

The figures are one aggregate over every job, too costly to run per scorer listing. Past
their age the last figures are served while one background thread re-reads them
(stale-while-revalidate), so no request waits for the aggregate once figures exist.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("autoscorer.jobs")
STATS_TTL = 2.0  # seconds scorer usage figures may be old before a refresh starts
Figures = dict[str, dict[str, Any]]


class CachedStats:
    def __init__(self, load: Callable[[], Figures], ttl: float = STATS_TTL) -> None:
        self.load, self.ttl = load, ttl
        self._cached: tuple[float, Figures] | None = None
        self._lock = threading.Lock()
        self._refreshing = False

    def get(self, max_age: float | None = None) -> Figures:
        """Figures at most ``max_age`` (default ``ttl``) seconds old, else the last ones while
        a refresh runs; with none yet, or ``max_age=0``, read now."""
        cached, age = self._cached, self.ttl if max_age is None else max_age
        if cached is not None and time.monotonic() - cached[0] <= age:
            return cached[1]
        if cached is None or age <= 0:
            return self._read()
        self._refresh_soon()
        return cached[1]

    def _read(self) -> Figures:
        figures = self.load()
        self._cached = (time.monotonic(), figures)
        return figures

    def _refresh_soon(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, name="scorer-stats", daemon=True).start()

    def _refresh(self) -> None:
        try:
            self._read()
        except Exception as exc:  # the store closing or away: keep serving the last figures
            log.warning("scorer usage figures not refreshed: %s", exc)
        finally:
            self._refreshing = False
