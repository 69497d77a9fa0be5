"""In-process publish/subscribe for typed event records.

A lower layer defines a :class:`Topic` next to its event records and publishes to it;
a higher layer (metrics, logs) subscribes at start-up. So the code that does the work
never imports the code that watches it. Listeners run inline, in the publisher's
thread: they must be quick, and one that raises is logged and skipped, never allowed
to fail the work that published.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")

log = logging.getLogger("autoscorer.topics")


class Topic(Generic[E]):
    """Listeners of one kind of event, process-wide."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[[E], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[E], None]) -> Callable[[], None]:
        """Call ``listener`` on every event published from now on; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: E) -> None:
        """Hand ``event`` to every listener; never raises."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # watching the work must never break it
                log.exception("%s listener %r failed on %r", self.name, listener, event)
