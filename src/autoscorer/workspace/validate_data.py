"""The workspace's part of ``validate``'s data_format check: the files exist and parse.

Which files and columns (the scorer's) and the deep check that runs the scorer are in
:mod:`autoscorer.pipeline.validate_data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import datacheck, safeio
from autoscorer.workspace.models import Meta
from autoscorer.workspace.report import Report

EMPTY_OUTPUT = "Output directory is empty - no prediction results found"


@dataclass(frozen=True)
class DataSpec:
    """Which files to check, and how, for one workspace."""

    task_type: str | None
    gt: Path | None
    pred: Path | None
    required: tuple[str, ...]
    encoding: str
    has_header: bool


def _check_file(path: Path, role: str, spec: DataSpec, max_bytes: int) -> list[str]:
    if path.suffix.lower() == ".json":
        return datacheck.check_json(
            path,
            role=role,
            task_type=spec.task_type,
            required=spec.required if role == "pred" else (),
            encoding=spec.encoding,
            max_bytes=max_bytes,
        )
    datacheck.check_csv(
        path, spec.required, encoding=spec.encoding, has_header=spec.has_header, max_bytes=max_bytes
    )
    return []


def _within(role: str, path: Path, rep: Report) -> bool:
    """The file obeys the workspace boundary (a prediction is no link at all); else an error."""
    rel = safeio.relative_name(path, rep.root)
    try:
        if role == "pred":
            safeio.refuse_linked_prediction(rep.root, rel)
        else:
            safeio.confine(path, rep.root)
    except AutoScorerError as exc:
        rep.error("data_format", exc.message)
        return False
    return True


def check_one(role: str, path: Path | None, spec: DataSpec, rep: Report, max_bytes: int) -> bool:
    """Check the ``gt`` or ``pred`` file at ``path``; True when it exists and parses."""
    d = rep.details["data_format"]
    d[f"{role}_format_valid"] = False
    if path is not None and not _within(role, path, rep):
        d[f"{role}_file_exists"] = True
        return False
    d[f"{role}_file_exists"] = path is not None and safeio.is_regular(path)
    if path is None or not d[f"{role}_file_exists"]:
        return False
    try:
        for message in _check_file(path, role, spec, max_bytes):
            rep.warn("data_format", message)
    except AutoScorerError as exc:
        rep.error("data_format", exc.message)
        if exc.code == "ENCODING_ERROR":
            rep.suggest("Set data.encoding in meta.json to the files' encoding (e.g. 'gbk')")
        return False
    d[f"{role}_format_valid"] = True
    return True


def report_missing(spec: DataSpec, meta: Meta | None, rep: Report) -> None:
    d = rep.details["data_format"]
    if not d["gt_file_exists"]:
        where = spec.gt.relative_to(rep.root) if spec.gt else "input/gt.csv or input/gt.json"
        rep.error("data_format", f"ground truth file {where} is missing")
    if not d["pred_file_exists"]:
        rep.warn("data_format", EMPTY_OUTPUT)
        if meta is not None and meta.container is None:
            rep.suggest(
                "meta.json has no 'container' section, so this workspace is score-only: "
                "place the predictions in output/ before scoring"
            )
