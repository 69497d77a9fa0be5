"""``validate``'s data_format check: files exist, parse, and (deep) score cleanly."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.base import Scorer
from autoscorer.workspace import datacheck, safeio
from autoscorer.workspace.layout import Workspace
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


def data_spec(
    ws: Workspace, meta: Meta | None, cls: type[Scorer] | None, task: str | None
) -> DataSpec:
    """The scorer's files and columns; without a scorer, whatever gt/pred files exist."""
    gt: Path | None
    pred: Path | None
    if cls is not None:
        gt, pred = ws.root / cls.gt_file, ws.root / cls.pred_file
        required: tuple[str, ...] = tuple(cls.required_columns)
        task = cls.task_type if cls.task_type != "custom" else task  # the scorer's format rules
    else:
        gt, pred, required = ws.gt_file, ws.pred_file, ()
    data = meta.data if meta is not None else Meta().data
    return DataSpec(task, gt, pred, required, data.encoding, data.has_header)


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


def _check_one(role: str, path: Path | None, spec: DataSpec, rep: Report, max_bytes: int) -> bool:
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


def _report_missing(spec: DataSpec, meta: Meta | None, rep: Report) -> None:
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


def full_check(ws: Workspace, cls: type[Scorer], rep: Report, max_bytes: int) -> None:
    """Run the scorer without writing anything: the authoritative row-level check."""
    try:
        score(ws, cls.name, write=False, write_artifacts=False, max_file_bytes=max_bytes)
    except AutoScorerError as exc:
        gt_name = Path(cls.gt_file).name
        role = "gt" if gt_name in json.dumps(exc.details) + str(exc.field) else "pred"
        rep.details["data_format"][f"{role}_format_valid"] = False
        rep.error("data_format", exc.message)
    except Exception as exc:  # a custom scorer's bug must not crash validation
        rep.error("data_format", f"scorer '{cls.name}' crashed: {type(exc).__name__}: {exc}")


def check_data(
    ws: Workspace,
    rep: Report,
    config: tuple[Meta | None, type[Scorer] | None, bool],
    task_type: str | None,
    *,
    deep: bool,
    max_bytes: int,
) -> None:
    meta, cls, params_ok = config
    spec = data_spec(ws, meta, cls, task_type or (meta.task_type if meta else None))
    gt_ok = _check_one("gt", spec.gt, spec, rep, max_bytes)
    pred_ok = _check_one("pred", spec.pred, spec, rep, max_bytes)
    _report_missing(spec, meta, rep)
    if deep and gt_ok and pred_ok and params_ok and cls is not None and meta is not None:
        full_check(ws, cls, rep, max_bytes)
