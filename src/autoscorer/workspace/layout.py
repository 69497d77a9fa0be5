"""The workspace directory: where things are, and loading ``meta.json``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from autoscorer.errors import Forbidden, WorkspaceInvalid, WorkspaceNotFound
from autoscorer.inputs import local_path
from autoscorer.workspace import safeio
from autoscorer.workspace.models import Meta

DATA_EXTENSIONS = (".csv", ".json")


def resolve_inside(path: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> Path:
    """Resolve ``path`` (symlinks included) and require it to lie inside one of ``roots``.

    An empty ``roots`` allows every path. Raises :class:`Forbidden` otherwise, so
    a request can never make the server read outside the configured roots.
    """
    resolved = local_path(path)
    roots = [local_path(r, "root") for r in roots]
    if not roots or any(resolved == r or resolved.is_relative_to(r) for r in roots):
        return resolved
    raise Forbidden(
        f"path {str(path)!r} is outside the allowed workspace roots",
        field="workspace_path",
        details={"path": str(path), "allowed_roots": [str(r) for r in roots]},
    )


@dataclass(frozen=True)
class Workspace:
    """A workspace on disk: ``meta.json``, ``input/``, ``output/``, ``logs/``."""

    root: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Workspace:
        return cls(local_path(path, "workspace_path"))

    @property
    def meta_path(self) -> Path:
        return self.root / "meta.json"

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def artifacts_dir(self) -> Path:
        return self.output_dir / "artifacts"

    @property
    def result_path(self) -> Path:
        return self.output_dir / "result.json"

    def find_data_file(self, directory: Path, stem: str) -> Path | None:
        """``input/gt.csv`` or ``input/gt.json`` (first that exists), else None."""
        for ext in DATA_EXTENSIONS:
            candidate = directory / f"{stem}{ext}"
            if candidate.is_file() or candidate.is_symlink():  # a link is judged, not skipped
                return candidate
        return None

    @property
    def gt_file(self) -> Path | None:
        return self.find_data_file(self.input_dir, "gt")

    @property
    def pred_file(self) -> Path | None:
        return self.find_data_file(self.output_dir, "pred")

    def require_dir(self) -> None:
        if not self.root.is_dir():
            raise WorkspaceNotFound(
                f"workspace {self.root} does not exist or is not a directory",
                field="workspace_path",
                details={"workspace_path": str(self.root)},
            )

    def check_links(self) -> None:
        """Refuse (WORKSPACE_INVALID) top-level entries that are symbolic links."""
        safeio.check_top_level(self.root)

    def load_meta(self) -> Meta:
        """Parse ``meta.json``; a clear :class:`WorkspaceInvalid` on any problem.

        The top-level entries are checked for links first, so every caller that
        starts from ``meta.json`` refuses a linked workspace before anything runs.
        """
        self.require_dir()
        self.check_links()
        if not self.meta_path.is_file():
            raise WorkspaceInvalid(
                f"{self.meta_path} is missing; create it with 'autoscorer init-workspace'",
                field="meta.json",
                details={"missing_files": ["meta.json"], "workspace_path": str(self.root)},
            )
        try:
            with safeio.open_file(self.meta_path, "r", encoding="utf-8-sig") as fh:
                raw = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise WorkspaceInvalid(
                f"{self.meta_path} is not valid JSON: {exc}",
                field="meta.json",
                details={"file": str(self.meta_path)},
            ) from exc
        if not isinstance(raw, dict):
            raise WorkspaceInvalid(f"{self.meta_path} must hold a JSON object", field="meta.json")
        try:
            return Meta.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise WorkspaceInvalid(
                f"{self.meta_path}: field '{loc}': {first['msg']}",
                field=f"meta.{loc}",
                details={"errors": exc.errors(include_url=False, include_context=False)},
            ) from exc
