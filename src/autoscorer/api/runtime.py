"""What the app holds while it runs: the job service, the scorer registry and
watcher, and cached executor health. Started and stopped by the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from fastapi.concurrency import run_in_threadpool

from autoscorer.api.ops.broker import broker_component, probe_broker
from autoscorer.api.ops.jobs import JobServicePort, load_service
from autoscorer.executors import Executor
from autoscorer.executors.factory import make_executor
from autoscorer.scorers.loader import ScorerLoader, default_loader
from autoscorer.scorers.registry import Registry, ensure_builtins
from autoscorer.scorers.watcher import Watcher
from autoscorer.settings import Settings

log = logging.getLogger("autoscorer.api")
HEALTH_TTL = 5.0  # seconds an executor health answer is reused


class Runtime:
    """Long-lived parts of one server process."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry or ensure_builtins()
        self.watcher = Watcher(
            default_loader() if registry is None else ScorerLoader(self.registry)
        )
        self.started_at = time.time()
        self.service: JobServicePort | None = None
        self._probes: dict[str, Executor] = {}
        self._health: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._health_lock = asyncio.Lock()
        self._broker: tuple[float, str, dict[str, str]] | None = None

    async def start(self, settings: Settings) -> None:
        self.started_at = time.time()
        if self.service is None:
            try:
                self.service = await run_in_threadpool(load_service, settings)
            except Exception:  # the API still serves scorers and workspaces, /health says why
                log.exception("the job service could not start; job endpoints answer 503")

    async def stop(self) -> None:
        await run_in_threadpool(self.watcher.stop_all)
        if self.service is not None:
            await run_in_threadpool(self.service.close)
            self.service = None
        for probe in self._probes.values():
            await run_in_threadpool(probe.close)
        self._probes.clear()

    @property
    def uptime(self) -> float:
        return time.time() - self.started_at

    async def executor_health(self, settings: Settings) -> dict[str, dict[str, Any]]:
        """Per-executor health, cached for a few seconds (a Docker ping is not free)."""
        async with self._health_lock:
            cached = self._health
            if cached is not None and time.monotonic() - cached[0] < HEALTH_TTL:
                return cached[1]
            answer = await run_in_threadpool(self._probe_all, settings)
            self._health = (time.monotonic(), answer)
            return answer

    def _probe_all(self, settings: Settings) -> dict[str, dict[str, Any]]:
        out = {"docker": self._probe("docker", settings), "local": self._probe("local", settings)}
        if settings.k8s_enabled or settings.executor == "kubernetes":
            out["k8s"] = self._probe("kubernetes", settings)
        else:
            out["k8s"] = {"status": "unavailable", "reason": "cluster not configured"}
        return out

    def _probe(self, name: str, settings: Settings) -> dict[str, Any]:
        try:
            if name not in self._probes:
                self._probes[name] = make_executor(name, settings)
            return self._probes[name].health()
        except Exception as exc:  # a probe must never fail the health answer
            return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"}

    async def broker_health(self, settings: Settings) -> dict[str, str]:
        """``{"redis"|"rabbitmq": status}`` for the Celery broker; empty for the in-process
        queue. Cached like the executor probes."""
        if settings.queue != "celery":
            return {}
        url = settings.broker_url
        cached = self._broker
        if cached is None or cached[1] != url or time.monotonic() - cached[0] >= HEALTH_TTL:
            status = await run_in_threadpool(probe_broker, url)
            self._broker = cached = (time.monotonic(), url, {broker_component(url): status})
        return cached[2]

    async def components(self, settings: Settings) -> dict[str, str]:
        executors = await self.executor_health(settings)
        jobs = "healthy" if self.service is not None else "unavailable"
        out = {"database": jobs, "queue": jobs, **await self.broker_health(settings)}
        out.update({name: str(h.get("status", "unavailable")) for name, h in executors.items()})
        return out

    async def job_counts(self) -> dict[str, int]:
        return {} if self.service is None else await run_in_threadpool(self.service.counts)

    async def scorer_stats(self) -> dict[str, dict[str, Any]]:
        if self.service is None:
            return {}
        return await run_in_threadpool(self.service.scorer_stats)

    def data_dir(self, settings: Settings) -> str:
        """Where the job store lives (for disk usage): the SQLite file's folder, else cwd."""
        url = settings.database_url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return os.path.dirname(os.path.abspath(url[len("sqlite:///") :])) or "."
        return "."
