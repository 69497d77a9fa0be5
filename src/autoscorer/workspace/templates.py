"""Create the standard workspace layout from a template (``POST /api/v1/workspaces/init``)."""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoscorer.errors import Conflict, InvalidParameter, WorkspaceInvalid
from autoscorer.inputs import local_path
from autoscorer.workspace import safeio
from autoscorer.workspace.models import Meta


@dataclass(frozen=True)
class Template:
    """Defaults of one task type: its scorer, data files and extra folders."""

    task_type: str
    scorer: str
    gt_file: str
    pred_file: str
    data_format: str
    extra_dirs: tuple[str, ...] = ()


TEMPLATES: dict[str, Template] = {
    "classification": Template(
        "classification", "classification_f1", "input/gt.csv", "output/pred.csv", "csv"
    ),
    "regression": Template(
        "regression", "regression_rmse", "input/gt.csv", "output/pred.csv", "csv"
    ),
    "detection": Template(
        "detection", "detection_map", "input/gt.json", "output/pred.json", "json"
    ),
    "segmentation": Template(
        "segmentation",
        "segmentation_miou",
        "input/gt.json",
        "output/pred.json",
        "json",
        extra_dirs=("input/masks", "output/masks"),
    ),
}

STRUCTURE = {
    "input/": "Input data directory (read-only)",
    "output/": "Output results directory (read-write)",
    "logs/": "Execution logs directory (read-write)",
    "meta.json": "Job configuration file",
}
LAYOUT_DIRS = ("input", "output", "logs")


def get_template(name: str) -> Template:
    """The template ``name``; an unknown name lists the choices."""
    try:
        return TEMPLATES[name]
    except KeyError:
        raise InvalidParameter(
            f"unknown template {name!r}; choose one of {sorted(TEMPLATES)}",
            field="template",
            details={"provided": name, "choices": sorted(TEMPLATES)},
        ) from None


def default_job_id(root: Path) -> str:
    """A job id from the folder name (letters, digits, ``-`` and ``_`` only)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", root.name).strip("-") or "job"


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def build_meta(
    template: Template,
    *,
    job_id: str,
    task_type: str | None = None,
    scorer: str | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``meta.json`` contents: template defaults, then the arguments, then ``config``."""
    base = {
        "job_id": job_id,
        "task_type": task_type or template.task_type,
        "scorer": scorer or template.scorer,
        "version": "1.0",
        "description": f"{template.task_type} task",
        **Meta().model_dump(mode="json", exclude_none=True),
    }
    base["data"].update(input_format=template.data_format, output_format=template.data_format)
    meta = _deep_merge(base, config or {})
    check_meta(meta, field_prefix="config")
    return meta


def check_meta(meta: dict[str, Any], *, field_prefix: str) -> None:
    """Raise :class:`InvalidParameter` naming the first field ``Meta`` rejects."""
    try:
        Meta.model_validate(meta)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidParameter(
            f"{field_prefix}.{loc}: {first['msg']}",
            field=f"{field_prefix}.{loc}",
            details={"errors": exc.errors(include_url=False, include_context=False)},
        ) from exc


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` via a temporary file, so it is never half-written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


def _prepare_root(workspace: str | os.PathLike[str], overwrite: bool) -> Path:
    root = local_path(workspace, "workspace_path")
    if root.exists() and not root.is_dir():
        raise WorkspaceInvalid(f"{root} exists and is not a directory", field="workspace_path")
    if root.is_dir():
        safeio.check_top_level(root)  # a linked input/ would receive .gitkeep files
    if (root / "meta.json").exists() and not overwrite:
        raise Conflict(
            f"{root / 'meta.json'} already exists; pass overwrite (--overwrite) to replace it",
            field="workspace_path",
            details={"workspace_path": str(root), "existing": ["meta.json"]},
        )
    root.mkdir(parents=True, exist_ok=True)
    return root


def _create_dirs(root: Path, dirs: tuple[str, ...]) -> list[str]:
    """Make each folder with a ``.gitkeep``; returns the files created."""
    created = []
    for d in dirs:
        with safeio.open_dir(root, *Path(d).parts, create=True) as fd:
            try:  # a planted (even dangling) link is left alone, never written through
                os.close(safeio.create_new(fd, ".gitkeep"))
            except FileExistsError:
                continue
        created.append(f"{d}/.gitkeep")
    return created


def next_steps(root: Path, template: Template) -> list[str]:
    steps = [
        f"Place your ground truth data in {template.gt_file}",
        f"Place your model predictions in {template.pred_file}",
    ]
    if template.extra_dirs:
        steps.append("Put ground-truth masks in input/masks/ and predicted masks in output/masks/")
    steps.append(f"Run evaluation with: autoscorer score {shlex.quote(str(root))}")
    return steps


def init_workspace(
    workspace: str | os.PathLike[str],
    *,
    template: str = "classification",
    job_id: str | None = None,
    task_type: str | None = None,
    scorer: str | None = None,
    config: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Create ``meta.json``, ``input/``, ``output/`` and ``logs/`` from ``template``.

    An existing ``meta.json`` is kept unless ``overwrite``; folders and files
    already present are left alone. Returns the ``POST /api/v1/workspaces/init`` data.
    """
    tpl = get_template(template)
    meta_root = local_path(workspace, "workspace_path")
    meta = build_meta(
        tpl,
        job_id=job_id or default_job_id(meta_root),
        task_type=task_type,
        scorer=scorer,
        config=config,
    )
    root = _prepare_root(workspace, overwrite)
    write_json_atomic(root / "meta.json", meta)
    created = ["meta.json", *_create_dirs(root, LAYOUT_DIRS + tpl.extra_dirs)]
    return {
        "workspace_path": str(root),
        "template_used": template,
        "created_files": created,
        "structure": dict(STRUCTURE),
        "next_steps": next_steps(root, tpl),
    }
