"""``Idempotency-Key``: a repeated submit with the same key and body gets the first
answer again; the same key with a different body is a conflict.

Keys live in the job store, so every API process sees them. A key is reserved
when its request starts (a concurrent repeat gets 409 until the first finishes),
filled with the answer when it succeeds, and released when it fails, so a
request that was refused (bad workspace, unknown scorer) can be retried as is.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from autoscorer.errors import Conflict
from autoscorer.jobs.db import Writers, affected
from autoscorer.jobs.models import IdempotencyRow
from autoscorer.jobs.records import aware, iso, now

PENDING = 0  # status_code of a reserved key whose request is still running
TTL = timedelta(hours=24)  # how long a key is remembered
# a reservation this old belongs to a request whose server died: the key is free again
ABANDONED = timedelta(minutes=15)


def fingerprint(body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, session: Writers, reader: sessionmaker[Any]) -> None:
        self.session, self.reader = session, reader

    def reserve(self, scope: str, key: str, digest: str) -> tuple[int, dict[str, Any]] | None:
        """None: go ahead (the key is now ours). Else the stored (status, data) to replay."""
        try:
            with self.session.begin() as s:
                s.add(
                    IdempotencyRow(
                        key=key,
                        scope=scope,
                        body_sha256=digest,
                        status_code=PENDING,
                        response={},
                        created_at=now(),
                    )
                )
            return None
        except IntegrityError:
            pass
        row = self._get(scope, key)
        if row is None or self._stale(row):  # released, expired or abandoned: take it over
            self._forget(scope, key, row)
            return self.reserve(scope, key, digest)
        return _replay(row, key, digest)

    @staticmethod
    def _stale(row: IdempotencyRow) -> bool:
        age = now() - (aware(row.created_at) or now())
        return age > TTL or (row.status_code == PENDING and age > ABANDONED)

    def _forget(self, scope: str, key: str, row: IdempotencyRow | None) -> None:
        if row is None:
            return
        with self.session.begin() as s:
            s.execute(
                delete(IdempotencyRow).where(
                    IdempotencyRow.key == key,
                    IdempotencyRow.scope == scope,
                    IdempotencyRow.created_at == row.created_at,
                )
            )

    def complete(self, scope: str, key: str, status: int, data: dict[str, Any]) -> None:
        with self.session.begin() as s:
            row = s.get(IdempotencyRow, (key, scope))
            if row is not None:
                row.status_code, row.response = status, data

    def release(self, scope: str, key: str) -> None:
        with self.session.begin() as s:
            s.execute(
                delete(IdempotencyRow).where(
                    IdempotencyRow.key == key,
                    IdempotencyRow.scope == scope,
                    IdempotencyRow.status_code == PENDING,
                )
            )

    def purge(self) -> int:
        """Forget keys older than :data:`TTL`."""
        with self.session.begin() as s:
            done = s.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < now() - TTL))
            return affected(done)

    def _get(self, scope: str, key: str) -> IdempotencyRow | None:
        with self.reader() as s:  # a read: no write lock
            stmt = select(IdempotencyRow).where(
                IdempotencyRow.key == key, IdempotencyRow.scope == scope
            )
            return s.scalars(stmt).first()


def _replay(row: IdempotencyRow, key: str, digest: str) -> tuple[int, dict[str, Any]]:
    if row.body_sha256 != digest:
        raise Conflict(
            f"Idempotency-Key {key!r} was used with a different request body; "
            "use a new key for a new request",
            field="Idempotency-Key",
            details={"first_used_at": iso(row.created_at)},
        )
    if row.status_code == PENDING:
        raise Conflict(
            f"a request with Idempotency-Key {key!r} is still being processed; retry shortly",
            field="Idempotency-Key",
            details={"retry": True},
        )
    return row.status_code, row.response
