"""Hot reload: watch scorer files with watchfiles and reload them when they change.

One background thread per watched file. The thread watches the file's folder
(editors save by writing a new file and renaming it over the old one, which a
watch on the file itself would lose) and reloads through a
:class:`~autoscorer.scorers.loader.ScorerLoader`, so a broken edit keeps the
old version serving; the error is kept in the watch's ``last_error``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import watchfiles

from autoscorer.errors import AutoScorerError, InvalidParameter, ResourceNotFound
from autoscorer.inputs import local_path
from autoscorer.scorers.loader import ScorerLoader, default_loader, load_data
from autoscorer.scorers.sourcefile import now_iso, source_path

Listener = Callable[[dict[str, Any]], None]
MIN_INTERVAL, MAX_INTERVAL = 0.05, 3600.0


@dataclass
class _Watch:
    path: Path
    check_interval: float
    started_at: str
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    last_check: str | None = None
    total_reloads: int = 0
    last_error: dict[str, Any] | None = None

    def status(self) -> dict[str, Any]:
        return {
            "file_path": str(self.path),
            "check_interval": self.check_interval,
            "started_at": self.started_at,
            "last_check": self.last_check,
            "total_reloads": self.total_reloads,
            "last_error": self.last_error,
        }


def check_interval_value(value: float) -> float:
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise InvalidParameter(
            f"check_interval must be between {MIN_INTERVAL} and {MAX_INTERVAL} seconds, "
            f"got {value}",
            field="check_interval",
            details={"provided": value, "minimum": MIN_INTERVAL, "maximum": MAX_INTERVAL},
        )
    return float(value)


class Watcher:
    """Watches scorer files; ``on_event`` (optional) hears every reload and failure."""

    def __init__(self, loader: ScorerLoader | None = None, *, on_event: Listener | None = None):
        self._loader = loader
        self.on_event = on_event
        self._watches: dict[Path, _Watch] = {}
        self._lock = threading.Lock()

    @property
    def loader(self) -> ScorerLoader:
        return self._loader if self._loader is not None else default_loader()

    def start(self, path: str | os.PathLike[str], *, check_interval: float = 1.0) -> dict[str, Any]:
        """Start watching ``path``; the ``POST /api/v1/scorers/watch`` data.

        Watching a file already watched keeps the running watch
        (``watch_started`` is then false) unless the interval differs.
        """
        p = source_path(path)
        interval = check_interval_value(check_interval)
        with self._lock:
            current = self._watches.get(p)
            if current is not None and current.check_interval == interval:
                return self._started(current, started=False)
            if current is not None:
                self._halt(current)
            watch = _Watch(p, interval, now_iso())
            watch.thread = threading.Thread(
                target=self._run, args=(watch,), name=f"scorer-watch:{p.name}", daemon=True
            )
            self._watches[p] = watch
            watch.thread.start()
            return self._started(watch, started=True)

    @staticmethod
    def _started(watch: _Watch, *, started: bool) -> dict[str, Any]:
        return {
            "file_path": str(watch.path),
            "watch_started": started,
            "check_interval": watch.check_interval,
            "started_at": watch.started_at,
        }

    def stop(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Stop watching ``path``; the ``DELETE /api/v1/scorers/watch`` data."""
        p = local_path(path, "file_path")
        with self._lock:
            watch = self._watches.pop(p, None)
        if watch is None:
            raise ResourceNotFound(
                f"{p} is not being watched",
                field="file_path",
                details={"file_path": str(p), "watched": self.watched()},
            )
        self._halt(watch)
        return {"file_path": str(p), "watch_stopped": True, "stopped_at": now_iso()}

    def stop_all(self) -> None:
        with self._lock:
            watches, self._watches = list(self._watches.values()), {}
        for watch in watches:
            self._halt(watch)

    def watched(self) -> list[str]:
        with self._lock:
            return sorted(str(p) for p in self._watches)

    def status(self) -> dict[str, Any]:
        """The ``GET /api/v1/scorers/watch`` data."""
        with self._lock:
            files = [w.status() for w in self._watches.values()]
        return {"watched_files": files, "total_watched": len(files)}

    @staticmethod
    def _halt(watch: _Watch) -> None:
        watch.stop_event.set()
        if watch.thread is not None and watch.thread is not threading.current_thread():
            watch.thread.join(timeout=5)

    def _run(self, watch: _Watch) -> None:
        """Reload on every change until stopped; a failing watch retries after a pause."""
        ms = int(watch.check_interval * 1000)
        while not watch.stop_event.is_set():
            try:
                for changes in watchfiles.watch(
                    watch.path.parent,
                    watch_filter=lambda _change, p: Path(p) == watch.path,
                    stop_event=watch.stop_event,
                    rust_timeout=ms,
                    yield_on_timeout=True,
                    debounce=max(ms, 50),
                    step=50,
                    poll_delay_ms=ms,
                    recursive=False,
                    raise_interrupt=False,
                ):
                    watch.last_check = now_iso()
                    if changes:
                        self._reload(watch)
            except Exception as exc:  # e.g. the folder vanished: report, wait, retry
                watch.last_error = {"code": "WATCH_FAILED", "message": str(exc), "at": now_iso()}
                watch.stop_event.wait(watch.check_interval)

    def _reload(self, watch: _Watch) -> None:
        if not watch.path.is_file():
            self._failed(watch, "file was removed; the loaded version keeps serving")
            return
        try:
            reloaded = self.loader.reload_file(watch.path)
        except AutoScorerError as exc:
            self._failed(watch, exc.message, exc.to_dict())
            return
        if reloaded:
            watch.total_reloads += 1
            watch.last_error = None
            self._emit({"event": "reloaded", "file_path": str(watch.path), "scorers": reloaded})

    def _failed(self, watch: _Watch, message: str, error: dict[str, Any] | None = None) -> None:
        watch.last_error = {**(error or {"code": "RELOAD_FAILED"}), "message": message}
        watch.last_error["at"] = now_iso()
        self._emit({"event": "failed", "file_path": str(watch.path), "error": watch.last_error})

    def _emit(self, event: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(event)


def load_and_watch(
    path: str | os.PathLike[str],
    *,
    auto_watch: bool = False,
    check_interval: float = 1.0,
    force_reload: bool = False,
    watcher: Watcher | None = None,
) -> dict[str, Any]:
    """Load ``path`` and optionally watch it: the ``POST /api/v1/scorers/load`` data."""
    w = watcher if watcher is not None else default_watcher()
    if auto_watch:
        check_interval_value(check_interval)  # refuse before loading anything
    loaded = w.loader.load_file(path, force=force_reload)
    if auto_watch:
        w.start(path, check_interval=check_interval)
    return load_data(loaded, watch_enabled=auto_watch)


_default: Watcher | None = None
_default_lock = threading.Lock()


def default_watcher() -> Watcher:
    """The process-wide watcher over the default loader (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Watcher()
        return _default
