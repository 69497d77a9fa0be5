"""The webhook outbox: deliveries stored in the job store until a receiver took them.

A job event's delivery is inserted (:meth:`Outbox.record`) right after the state change
commits, before the process does anything else; any live process drains the table
(``jobs/outbox_drain.py``). A drainer *claims* a row with a conditional UPDATE that sets
a lease (``lease_owner``, ``lease_until``), so two processes never post the same row at
once; a drainer that dies leaves a lease that runs out, and the row is taken again
(delivery is at least once). Rows of one job and URL go out in the order they were
recorded: a row is claimable only when no earlier one of its job and URL is pending.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import aliased

from autoscorer.jobs.db import affected
from autoscorer.jobs.joblogs import Entry, write_logs
from autoscorer.jobs.models import OUTBOX, OutboxRow
from autoscorer.jobs.records import now
from autoscorer.jobs.store import JobStore

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
EARLIER = aliased(OutboxRow)


@dataclass(frozen=True)
class Delivery:
    """One claimed row: what to post where, and how many attempts were made before."""

    id: int
    event_id: str
    job_id: str
    url: str
    event: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Settled:
    """What became of a delivery after one attempt."""

    state: str  # PENDING (retry due later), DELIVERED or FAILED
    attempt: int
    retry_in: float | None = None
    kept_lease: bool = True  # False: the lease had run out and another drainer took the row


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits ``min(cap, base * 2**(n-1))``
    times a random factor in [0.5, 1)."""

    base: float = 0.5
    cap: float = 300.0

    def after(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def _free(stamp: datetime) -> Any:
    return OutboxRow.lease_until.is_(None) | (OutboxRow.lease_until < stamp)


def _first_of_its_job(stamp: datetime) -> Any:
    earlier = select(EARLIER.id).where(
        EARLIER.job_id == OutboxRow.job_id,
        EARLIER.url == OutboxRow.url,
        EARLIER.state == PENDING,
        EARLIER.id < OutboxRow.id,
    )
    return ~earlier.exists()


class Outbox:
    """The ``webhook_outbox`` table of one job store."""

    def __init__(
        self,
        store: JobStore,
        *,
        max_attempts: int = 8,
        lease_seconds: float = 60.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.store, self.max_attempts, self.lease = store, max_attempts, lease_seconds
        self.backoff = backoff or Backoff()

    def record(self, job_id: str, url: str, event: dict[str, Any]) -> str:
        """Store one delivery, due now; returns its event id."""
        event_id = str(event.get("event_id") or f"evt_{uuid.uuid4().hex}")
        stamp = now()
        row = {"event_id": event_id, "job_id": job_id, "url": url, "payload": event,
               "state": PENDING, "attempts": 0, "next_attempt_at": stamp,
               "created_at": stamp}  # fmt: skip
        with self.store.session.begin() as s:
            s.execute(insert(OUTBOX), [row])
        return event_id

    def claim(self, owner: str, limit: int) -> list[Delivery]:
        """Up to ``limit`` due rows, each leased to ``owner``; rows another drainer won
        meanwhile are skipped."""
        stamp = now()
        due = select(OutboxRow.id).where(
            OutboxRow.state == PENDING,
            OutboxRow.next_attempt_at <= stamp,
            _free(stamp),
            _first_of_its_job(stamp),
        )
        with self.store.reader() as s:
            ids = list(s.scalars(due.order_by(OutboxRow.id).limit(limit)))
        return [d for d in (self._take(i, owner, stamp) for i in ids) if d is not None]

    def _take(self, row_id: int, owner: str, stamp: datetime) -> Delivery | None:
        lease = {"lease_owner": owner, "lease_until": stamp + timedelta(seconds=self.lease)}
        cond = [OutboxRow.id == row_id, OutboxRow.state == PENDING, _free(stamp)]
        with self.store.session.begin() as s:
            if not affected(s.execute(update(OutboxRow).where(*cond).values(lease))):
                return None
            row = s.get(OutboxRow, row_id, populate_existing=True)
            assert row is not None
            return Delivery(row.id, row.event_id, row.job_id, row.url, row.payload, row.attempts)

    def settle(
        self, d: Delivery, owner: str, ok: bool, error: str | None, log: Callable[[Settled], Entry]
    ) -> Settled:
        """Record one attempt's outcome and its job log line (``log(settled)``) in one
        transaction."""
        attempt, stamp = d.attempts + 1, now()
        values: dict[str, Any] = {"attempts": attempt, "lease_owner": None, "lease_until": None,
                                  "last_error": error}  # fmt: skip
        retry_in = None
        if ok or attempt >= self.max_attempts:
            state = DELIVERED if ok else FAILED
            values.update(state=state, settled_at=stamp)
        else:
            state, retry_in = PENDING, self.backoff.after(attempt)
            values["next_attempt_at"] = stamp + timedelta(seconds=retry_in)
        cond = [OutboxRow.id == d.id, OutboxRow.lease_owner == owner]
        with self.store.session.begin() as s:
            kept = bool(affected(s.execute(update(OutboxRow).where(*cond).values(values))))
            settled = Settled(state, attempt, retry_in, kept)
            write_logs(s, d.job_id, [log(settled)])
        return settled

    def counts(self) -> dict[str, int]:
        """Rows per state (for health checks and tests)."""
        stmt = select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
        with self.store.reader() as s:
            return {state: n for state, n in s.execute(stmt).all()}
