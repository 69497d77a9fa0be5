"""Scorer usage figures: cached, and refreshed in the background once old (a request never
waits for the aggregate once figures exist). The loader here is a counter standing in for
``JobStore.scorer_stats``, which the contract suite checks against real stores."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.jobs.helpers import wait_for

from autoscorer.jobs.stats import CachedStats


class Loader:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls, self.delay, self.fail = 0, delay, False
        self.lock = threading.Lock()

    def __call__(self) -> dict[str, dict[str, Any]]:
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("store closed")
        with self.lock:
            self.calls += 1
            return {"s": {"usage_count": self.calls}}


def test_first_read_is_synchronous_then_cached() -> None:
    load = Loader()
    stats = CachedStats(load, ttl=60)
    assert stats.get()["s"]["usage_count"] == 1
    assert stats.get()["s"]["usage_count"] == 1 and load.calls == 1
    assert stats.get(max_age=0)["s"]["usage_count"] == 2  # fresh on request


def test_old_figures_are_served_while_one_refresh_runs() -> None:
    load = Loader()
    stats = CachedStats(load, ttl=0.05)
    stats.get()
    load.delay = 0.3
    time.sleep(0.1)
    started = time.monotonic()
    seen = [stats.get()["s"]["usage_count"] for _ in range(20)]
    assert time.monotonic() - started < 0.1  # nobody waited for the slow aggregate
    assert seen == [1] * 20
    wait_for(lambda: stats.get(max_age=60)["s"]["usage_count"] == 2, 5, "the refresh")
    assert load.calls == 2  # twenty stale reads, one refresh


def test_a_failed_refresh_keeps_the_last_figures() -> None:
    load = Loader()
    stats = CachedStats(load, ttl=0.01)
    stats.get()
    load.fail = True
    time.sleep(0.05)
    assert stats.get()["s"]["usage_count"] == 1
    wait_for(lambda: not stats._refreshing, 5, "the failed refresh to end")
    load.fail = False
    wait_for(lambda: stats.get()["s"]["usage_count"] == 2, 5, "the next refresh")
