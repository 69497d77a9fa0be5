"""Custom scorers from Python files: load, reload on change, keep the old one on failure.

A file registers its scorers with ``@register_scorer``. Loading imports it with
the decorator *collecting* the classes (``registry.collecting``), checks them all
in a scratch registry, and only then registers them -- so a file's scorers
arrive together or not at all. A reload swaps classes in with
``Registry.replace``; when the new code does not import or validate, the old
classes keep serving and the error says where the new code broke.

Loading runs the file's code in this process: the API allows it to admins only.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoscorer.errors import AutoScorerError, Conflict, InvalidParameter
from autoscorer.inputs import local_path
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import Registry, ensure_builtins
from autoscorer.scorers.sourcefile import Imported, LoadFailed, import_file, now_iso, source_path

__all__ = [
    "LoadFailed",
    "ScorerLoader",
    "default_loader",
    "load_data",
    "load_file",
    "reload_data",
    "reload_file",
]


@dataclass
class _Entry:
    """One scorer class that came from a file."""

    cls: type[Scorer]
    sha256: str
    module: str
    loaded_at: str


@dataclass
class _File:
    entries: dict[str, _Entry] = field(default_factory=dict)


class ScorerLoader:
    """Loads scorer files into ``registry`` and remembers which version of each is live."""

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry if registry is not None else ensure_builtins()
        self._files: dict[Path, _File] = {}
        self._modules: set[str] = set()  # modules this loader put in sys.modules
        self._lock = threading.RLock()

    def loaded_files(self) -> list[str]:
        with self._lock:
            return sorted(str(p) for p in self._files)

    def is_loaded(self, path: str | os.PathLike[str]) -> bool:
        with self._lock:
            return local_path(path, "file_path") in self._files

    def load_file(
        self, path: str | os.PathLike[str], *, force: bool = False
    ) -> list[dict[str, Any]]:
        """Import ``path`` and register its scorers; returns ``loaded_scorers`` entries.

        A file already loaded is re-imported only if its content changed or
        ``force`` (then it behaves as :meth:`reload_file`).
        """
        p = source_path(path)
        with self._lock:
            if p in self._files:
                self.reload_file(p, force=force)
            else:
                self._register_new(p, import_file(p, kept={}))
            return [self._loaded_entry(p, e) for e in self._files[p].entries.values()]

    def _loaded_entry(self, p: Path, e: _Entry) -> dict[str, Any]:
        return {
            "name": e.cls.name,
            "version": e.cls.version,
            "file_path": str(p),
            "loaded_at": e.loaded_at,
        }

    def _check_free(self, p: Path, names: list[str]) -> None:
        """Names may only replace scorers that came from this same file."""
        own = self._files.get(p, _File()).entries
        taken = [n for n in names if n in self.registry and n not in own]
        if taken:
            sources = {n: self.registry.info(n)["source"] for n in taken}
            raise Conflict(
                f"{p} defines scorer(s) {taken} already registered from {sources}; "
                "rename them or unload the other source first",
                field="file_path",
                details={"file_path": str(p), "names": taken, "sources": sources},
            )

    def _register_new(self, p: Path, new: Imported) -> None:
        self._modules.add(new.module)
        done: list[str] = []
        try:
            self._check_free(p, list(new.classes))
            for name, cls in new.classes.items():
                self.registry.register(cls, source=str(p))
                done.append(name)
        except AutoScorerError:
            for name in done:  # all or nothing
                self.registry.unregister(name)
            self._forget_unused_modules()
            raise
        at = now_iso()
        entries = {n: _Entry(c, new.sha256, new.module, at) for n, c in new.classes.items()}
        self._files[p] = _File(entries)

    def versions(self, path: str | os.PathLike[str]) -> dict[str, str]:
        """Name -> live version of the scorers loaded from ``path`` (empty if none)."""
        with self._lock:
            entries = self._files.get(source_path(path), _File()).entries
            return {name: e.cls.version for name, e in entries.items()}

    def reload_file(
        self,
        path: str | os.PathLike[str],
        *,
        scorer_name: str | None = None,
        force: bool = False,
    ) -> list[dict[str, Any]]:
        """Re-import ``path`` if it changed (or ``force``); returns ``reloaded_scorers``.

        Only ``scorer_name`` is swapped when given. On failure the old classes
        keep serving and :class:`LoadFailed` says where the new code broke. A
        file not loaded yet is loaded (``old_version`` is then null).
        """
        p = source_path(path)
        with self._lock:
            if p not in self._files:
                loaded = self.load_file(p)
                return [_reloaded(e["name"], None, e["version"]) for e in loaded]
            return self._reload_loaded(p, scorer_name, force)

    def _reload_loaded(self, p: Path, scorer_name: str | None, force: bool) -> list[dict[str, Any]]:
        entries = self._files[p].entries
        sha = hashlib.sha256(p.read_bytes()).hexdigest()
        targets = [scorer_name] if scorer_name else list(entries)
        if not force and all(n in entries and entries[n].sha256 == sha for n in targets):
            return []
        kept = {n: e.cls.version for n, e in entries.items()}
        new = import_file(p, kept=kept)
        self._modules.add(new.module)
        names = [
            n
            for n in _targets(p, scorer_name, entries, new)
            if force or n not in entries or entries[n].sha256 != new.sha256  # others are current
        ]
        try:
            self._check_free(p, [n for n in names if n in new.classes])
        except Conflict:
            self._forget_unused_modules()
            raise
        return self._swap(p, new, names)  # also drops the new module if nothing uses it

    def _swap(self, p: Path, new: Imported, names: list[str]) -> list[dict[str, Any]]:
        entries = self._files[p].entries
        out = []
        at = now_iso()
        for name in names:
            old = entries.pop(name, None)
            cls = new.classes.get(name)
            if cls is None:
                self.registry.unregister(name)  # the new version no longer defines it
            elif old is None:
                self.registry.register(cls, source=str(p))
            else:
                self.registry.replace(cls, source=str(p))
            if cls is not None:
                entries[name] = _Entry(cls, new.sha256, new.module, at)
            out.append(
                _reloaded(name, old.cls.version if old else None, getattr(cls, "version", None))
            )
        self._forget_unused_modules()
        if not entries:
            del self._files[p]
        return out

    def _forget_unused_modules(self) -> None:
        live = {e.module for f in self._files.values() for e in f.entries.values()}
        for name in self._modules - live:
            sys.modules.pop(name, None)
        self._modules &= live

    def unload_file(self, path: str | os.PathLike[str]) -> list[str]:
        """Unregister every scorer that came from ``path``; returns their names."""
        p = local_path(path, "file_path")
        with self._lock:
            f = self._files.pop(p, None)
            names = list(f.entries) if f else []
            for name in names:
                self.registry.unregister(name)
            self._forget_unused_modules()
            return names


def _targets(
    p: Path, scorer_name: str | None, entries: dict[str, _Entry], new: Imported
) -> list[str]:
    if scorer_name is None:
        return sorted(set(entries) | set(new.classes))
    if scorer_name not in entries and scorer_name not in new.classes:
        available = sorted(set(entries) | set(new.classes))
        raise InvalidParameter(
            f"{p} defines no scorer named '{scorer_name}'; it defines {available}",
            field="scorer_name",
            details={"provided": scorer_name, "available": available},
        )
    return [scorer_name]


def _reloaded(name: str, old: str | None, new: str | None) -> dict[str, Any]:
    return {"name": name, "old_version": old, "new_version": new, "reloaded_at": now_iso()}


def load_data(loaded: list[dict[str, Any]], *, watch_enabled: bool) -> dict[str, Any]:
    """The ``POST /api/v1/scorers/load`` response data."""
    return {"loaded_scorers": loaded, "watch_enabled": watch_enabled, "total_loaded": len(loaded)}


def reload_data(
    reloaded: list[dict[str, Any]], live: dict[str, str] | None = None
) -> dict[str, Any]:
    """The ``POST /api/v1/scorers/reload`` response data. ``live`` (name -> version of the
    file's scorers after the reload) names those left as they were, and why."""
    done = {r["name"] for r in reloaded}
    unchanged = [
        {"name": n, "version": v} for n, v in sorted((live or {}).items()) if n not in done
    ]
    if reloaded:
        message = f"reloaded {len(reloaded)} scorer(s)"
    elif unchanged:
        message = "unchanged: the file's content is already loaded"
    else:
        message = "nothing to reload"
    return {
        "reloaded_scorers": reloaded,
        "total_reloaded": len(reloaded),
        "unchanged_scorers": unchanged,
        "message": message,
    }


_default: ScorerLoader | None = None
_default_lock = threading.Lock()


def default_loader() -> ScorerLoader:
    """The process-wide loader over the default registry (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ScorerLoader()
        return _default


def load_file(path: str | os.PathLike[str], *, force: bool = False) -> list[dict[str, Any]]:
    """:meth:`ScorerLoader.load_file` on the default loader."""
    return default_loader().load_file(path, force=force)


def reload_file(
    path: str | os.PathLike[str], *, scorer_name: str | None = None, force: bool = False
) -> list[dict[str, Any]]:
    """:meth:`ScorerLoader.reload_file` on the default loader."""
    return default_loader().reload_file(path, scorer_name=scorer_name, force=force)
