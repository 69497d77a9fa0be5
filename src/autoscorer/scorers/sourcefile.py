"""Importing one version of a scorer file: hashing, executing, checking, explaining failures."""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import sys
import traceback
import types
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autoscorer.errors import AutoScorerError, InvalidParameter, ResourceNotFound
from autoscorer.inputs import local_path
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import Registry, collecting

_counter = itertools.count(1)


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def source_path(path: str | os.PathLike[str]) -> Path:
    """The resolved path of an existing ``.py`` file."""
    p = local_path(path, "file_path")
    if not p.is_file():
        raise ResourceNotFound(
            f"scorer file {p} does not exist", field="file_path", details={"file_path": str(p)}
        )
    if p.suffix != ".py":
        raise InvalidParameter(
            f"scorer file {p} must be a Python file (.py)",
            field="file_path",
            details={"file_path": str(p)},
        )
    return p


def _failure(path: Path, exc: BaseException) -> dict[str, Any]:
    """Where the file's code broke: line and message, from the innermost frame in it."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    if line is None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return {
        "file_path": str(path),
        "line": line,
        "error_type": type(exc).__name__,
        "error": message,
    }


class LoadFailed(InvalidParameter):
    """A scorer file does not import or defines no valid scorer; details say where."""

    def __init__(self, path: Path, reason: dict[str, Any], *, kept: dict[str, str]) -> None:
        where = f"{path}:{reason['line']}" if reason.get("line") else str(path)
        text = f"{where}: {reason['error_type']}: {reason['error']}"
        if kept:
            text += f" (still serving the previous version of {', '.join(sorted(kept))})"
        super().__init__(
            f"cannot load scorers from {text}",
            field="file_path",
            details={**reason, "kept": kept},
        )


@dataclass
class Imported:
    """The result of importing one version of a file."""

    sha256: str
    module: str
    classes: dict[str, type[Scorer]]


def _module_name(path: Path, sha: str) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    return f"_autoscorer_custom_{stem}_{sha[:10]}_{next(_counter)}"


def _execute(path: Path, source: bytes, name: str) -> list[type[Scorer]]:
    """Run the file as module ``name`` while collecting its ``@register_scorer`` classes."""
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and typing look modules up by name
    code = compile(source, str(path), "exec")  # the hashed bytes, no .pyc next to user code
    return collecting(lambda: exec(code, module.__dict__))


def _check_classes(found: list[type[Scorer]], sha: str) -> dict[str, type[Scorer]]:
    """All classes valid and uniquely named (checked in a scratch registry)."""
    if not found:
        raise InvalidParameter(
            "the file registers no scorer; decorate a Scorer subclass with @register_scorer"
        )
    scratch = Registry()
    for cls in found:
        scratch.register(cls)  # raises RegistrationError / Conflict with the reason
        cls.source_sha256 = sha  # type: ignore[attr-defined]  # provenance of this version
    return {cls.name: cls for cls in found}


def import_file(path: Path, *, kept: dict[str, str]) -> Imported:
    """Import one version of ``path``; :class:`LoadFailed` if it breaks anywhere."""
    source = path.read_bytes()
    sha = hashlib.sha256(source).hexdigest()
    name = _module_name(path, sha)
    try:
        classes = _check_classes(_execute(path, source, name), sha)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        reason = (
            {"file_path": str(path), "line": None, "error_type": exc.code, "error": exc.message}
            if isinstance(exc, AutoScorerError)
            else _failure(path, exc)
        )
        raise LoadFailed(path, reason, kept=kept) from exc
    return Imported(sha, name, classes)
