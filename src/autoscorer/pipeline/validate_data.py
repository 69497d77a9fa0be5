"""``validate``'s data_format check: files exist, parse, and (deep) score cleanly.

The files are checked by :mod:`autoscorer.workspace.validate_data`; which files and
columns (the scorer's) and the deep check that runs the scorer are decided here.
"""

from __future__ import annotations

import json
from pathlib import Path

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.base import Scorer
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta
from autoscorer.workspace.report import Report
from autoscorer.workspace.validate_data import DataSpec, check_one, report_missing


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
    gt_ok = check_one("gt", spec.gt, spec, rep, max_bytes)
    pred_ok = check_one("pred", spec.pred, spec, rep, max_bytes)
    report_missing(spec, meta, rep)
    if deep and gt_ok and pred_ok and params_ok and cls is not None and meta is not None:
        full_check(ws, cls, rep, max_bytes)
