"""Group commit: concurrent single writes joined into one transaction.

Each caller of :meth:`GroupCommit.run` blocks until its item is written. The first caller
to arrive writes every item waiting at that moment in one transaction; items arriving
meanwhile wait, and the first of them writes the next batch. With no contention a write
is a transaction of one, as before; with 32 clients submitting at once, a few commits
instead of 32, and the store's write lock is taken once per batch instead of per job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# write(items) -> one error (or None) per item, in order
BatchWrite = Callable[[list[Any]], list[BaseException | None]]


class _Slot:
    __slots__ = ("done", "error", "event", "item")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.error: BaseException | None = None
        self.done = False
        self.event = threading.Event()


class GroupCommit:
    def __init__(self, write: BatchWrite) -> None:
        self._write = write
        self._mutex = threading.Lock()
        self._pending: list[_Slot] = []
        self._busy = False
        self.largest_batch = 0  # for tests and curiosity

    def run(self, item: Any) -> None:
        """Write ``item`` with whatever else is waiting; raises the item's own error."""
        slot = _Slot(item)
        with self._mutex:
            self._pending.append(slot)
            lead, self._busy = not self._busy, True
        if not lead:
            slot.event.wait()
        if not slot.done:  # first to arrive, or handed the next batch
            self._lead()
        if slot.error is not None:
            raise slot.error

    def _lead(self) -> None:
        with self._mutex:
            batch, self._pending = self._pending, []
        self.largest_batch = max(self.largest_batch, len(batch))
        try:
            errors = self._write([s.item for s in batch])
        except BaseException as exc:  # every waiter must wake, with the cause
            errors = [exc] * len(batch)
        for s, error in zip(batch, errors, strict=True):
            s.error, s.done = error, True
            s.event.set()
        with self._mutex:
            if self._pending:
                self._pending[0].event.set()  # not done: it leads the next batch
            else:
                self._busy = False
