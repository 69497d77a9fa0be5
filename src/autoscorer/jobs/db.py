"""Engine creation and migrations for the job store.

SQLite (the default) runs in WAL mode with a busy timeout so several threads
and processes can share one file; PostgreSQL is used through its URL. The
schema is created and upgraded by Alembic (``migrations/``) when a store opens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("autoscorer.jobs")
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_MS = 30_000
SQLITE_POOL = 40  # connections kept open per process
READONLY = "autoscorer_readonly"  # execution option of the engine read-only sessions use
_migrated: set[str] = set()
_migrate_lock = threading.Lock()
_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the driver we install)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_engine(url: str) -> Engine:
    pool: dict[str, Any] = {}
    if url not in ("sqlite://", "sqlite:///:memory:"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        # as large as the API's thread pool: opening a connection (and its PRAGMAs) per
        # request under load costs more than the query
        pool = {"pool_size": SQLITE_POOL, "max_overflow": SQLITE_POOL}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own BEGIN handling defers locks; take them at BEGIN instead
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # writers take the lock at BEGIN (waiting up to the busy timeout) instead of
        # failing when a read transaction tries to upgrade; readers never block writers
        # readers run each statement on its own (autocommit): one SELECT is consistent
        if not conn.get_execution_options().get(READONLY):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Writers:
    """Sessions for write transactions (``with writers.begin() as s``).

    On SQLite the threads of one process take turns on a lock per database file before
    ``BEGIN IMMEDIATE``: a thread waiting on SQLite's own lock polls in sleeps of 1 to
    100 ms (its busy handler), a Python lock hands over the moment the writer commits.
    Other processes on the same file still wait through the busy timeout.
    """

    def __init__(self, engine: Engine) -> None:
        self.factory = sessionmaker(engine, expire_on_commit=False)
        self.lock = _write_lock(engine) if engine.dialect.name == "sqlite" else None

    def __call__(self) -> Session:
        return self.factory()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self.lock or nullcontext(), self.factory.begin() as s:
            yield s


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


def _write_lock(engine: Engine) -> threading.RLock:
    # reentrant: a thread never waits on itself, it would fail on SQLite's lock instead
    with _write_locks_guard:
        return _write_locks.setdefault(str(engine.url), threading.RLock())


def read_engine(engine: Engine) -> Engine:
    """The same pool, for reads that need no transaction: no write lock on SQLite; on
    PostgreSQL no ``BEGIN``/``ROLLBACK`` round trips around each read (autocommit), as
    SQLite's readers already run (each statement consistent on its own)."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READONLY: True})
    return engine.execution_options(**{READONLY: True}, isolation_level="AUTOCOMMIT")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head, once per URL per process; safe when racing another process."""
    key = str(engine.url)
    with _migrate_lock:
        if key in _migrated:
            return
        head = head_revision()
        for attempt in range(5):
            if current_revision(engine) == head:
                break
            try:
                command.upgrade(alembic_config(engine), "head")
            except DBAPIError as exc:  # another process migrated at the same moment
                log.info("migration attempt %d raced another process: %s", attempt + 1, exc)
        _migrated.add(key)
