"""The scorer registry (style: pluggy).

``register`` validates a class and raises on a duplicate name; ``unregister``
returns what it removed; ``get`` of an unknown name raises
:class:`ScorerNotFound` listing the available names.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, TypeVar

from autoscorer.errors import Conflict, InvalidParameter, ScorerNotFound
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.builtin import MODULES as BUILTIN_MODULES

S = TypeVar("S", bound=type[Scorer])
ENTRY_POINT_GROUP = "autoscorer.scorers"
log = logging.getLogger(__name__)


class RegistrationError(InvalidParameter):
    """A class cannot be registered as a scorer; ``plugin`` is the offending class."""

    def __init__(self, message: str, plugin: object) -> None:
        super().__init__(message, field="scorer", details={"plugin": repr(plugin)})
        self.plugin = plugin


def _check(cls: object) -> type[Scorer]:
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise RegistrationError(f"{cls!r} is not a Scorer subclass", cls)
    for attr in ("name", "primary_metric"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise RegistrationError(f"scorer {cls.__name__} must set '{attr}'", cls)
    if getattr(cls, "__abstractmethods__", None):
        raise RegistrationError(f"scorer {cls.name} does not implement evaluate()", cls)
    return cls


class Registry:
    """Name -> scorer class, thread-safe, with registration times and source info."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._scorers: dict[str, type[Scorer]] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self.entry_point_errors: dict[str, str] = {}

    def register(
        self, cls: type[Scorer], *, name: str | None = None, source: str | None = None
    ) -> type[Scorer]:
        """Add ``cls``; a name already taken raises :class:`Conflict`."""
        cls = _check(cls)
        key = name or cls.name
        with self._lock:
            if key in self._scorers:
                raise Conflict(
                    f"a scorer named '{key}' is already registered",
                    field="scorer",
                    details={"name": key, "existing": repr(self._scorers[key])},
                )
            self._scorers[key] = cls
            now = datetime.now(UTC).isoformat()
            self._info[key] = {"registered_at": now, "source": source or "builtin"}
        return cls

    def unregister(self, name: str) -> type[Scorer] | None:
        """Remove and return the class registered under ``name`` (None if absent)."""
        with self._lock:
            self._info.pop(name, None)
            return self._scorers.pop(name, None)

    def replace(self, cls: type[Scorer], *, source: str | None = None) -> type[Scorer] | None:
        """Atomically swap in ``cls`` under its name; returns the old class, if any."""
        cls = _check(cls)
        with self._lock:
            old = self.unregister(cls.name)
            self.register(cls, source=source)
            return old

    def get(self, name: str) -> type[Scorer]:
        with self._lock:
            try:
                return self._scorers[name]
            except KeyError:
                available = sorted(self._scorers)
                raise ScorerNotFound(
                    f"no scorer named '{name}'; available: {', '.join(available)}",
                    field="scorer",
                    details={"provided": name, "available": available},
                ) from None

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._scorers)

    def info(self, name: str) -> dict[str, Any]:
        """Registration time and source (``builtin``, a file path, an entry point)."""
        self.get(name)
        with self._lock:
            return dict(self._info[name])

    def __contains__(self, name: object) -> bool:
        return name in self._scorers

    def __len__(self) -> int:
        return len(self._scorers)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register third-party scorers advertised under the entry-point ``group``.

        A plugin that fails to import or validate is skipped, logged and kept in
        ``entry_point_errors``: one broken package must not take every scorer down.
        """
        loaded = []
        for ep in entry_points(group=group):
            try:
                cls = ep.load()
                if getattr(cls, "name", None) in self:
                    continue
                self.register(cls, source=f"entry_point:{ep.value}")
            except Exception as exc:
                self.entry_point_errors[ep.value] = f"{type(exc).__name__}: {exc}"
                log.warning("skipping scorer entry point %s: %s", ep.value, exc)
                continue
            loaded.append(cls.name)
        return loaded


registry = Registry()


def register_scorer(cls: S | None = None, *, name: str | None = None) -> Any:
    """Class decorator: ``@register_scorer`` or ``@register_scorer(name="x")``.

    Inside :func:`autoscorer.scorers.loader.load_file` the class is collected
    instead of registered, so loading a file can be atomic.
    """

    def deco(c: S) -> S:
        collector = _collector.get()
        if collector is not None:
            collector.append(c)
        else:
            registry.register(c, name=name)
        return c

    return deco(cls) if cls is not None else deco


class _Collector(threading.local):
    stack: list[list[type[Scorer]]]

    def __init__(self) -> None:
        self.stack = []

    def get(self) -> list[type[Scorer]] | None:
        return self.stack[-1] if self.stack else None


_collector = _Collector()


def collecting(fn: Callable[[], Any]) -> list[type[Scorer]]:
    """Run ``fn`` with ``@register_scorer`` collecting classes instead of registering."""
    _collector.stack.append([])
    try:
        fn()
        return list(_collector.stack[-1])
    finally:
        _collector.stack.pop()


def get_scorer(name: str) -> type[Scorer]:
    """The default registry's scorer ``name``, loading built-ins on first use.

    A built-in name imports only its own module (start-up of a one-workspace CLI run);
    any other name loads every built-in and the entry points first, as before."""
    if not _builtins_loaded and name in BUILTIN_MODULES:
        import_module(f"{__package__}.builtin.{BUILTIN_MODULES[name]}")
        return registry.get(name)
    ensure_builtins()
    return registry.get(name)


_builtins_loaded = False


def ensure_builtins() -> Registry:
    """Import the built-in scorers (and entry points) into the default registry once."""
    global _builtins_loaded
    if not _builtins_loaded:
        for module in sorted(set(BUILTIN_MODULES.values())):
            import_module(f"{__package__}.builtin.{module}")  # registers on import
        _builtins_loaded = True
        registry.load_entry_points()
    return registry
