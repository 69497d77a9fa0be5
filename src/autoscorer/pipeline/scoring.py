"""The scoring step: workspace -> scorer -> ``output/result.json``.

Nothing in ``output/`` is touched until the scorer has succeeded: artifacts are
staged in a temporary folder and moved in, and ``result.json`` is replaced
atomically, so a failure never leaves partial results.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autoscorer import __version__
from autoscorer.errors import AutoScorerError, MissingFile, WorkspaceInvalid
from autoscorer.pipeline.plan import JobPlan, plan_job
from autoscorer.scorers.base import ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.ranking import rank_and_pass
from autoscorer.workspace import safeio
from autoscorer.workspace.artifacts import media_type
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import (
    Artifact,
    ErrorInfo,
    Meta,
    Provenance,
    Result,
    ResultMetadata,
    Summary,
    Timing,
    Versioning,
)

DEFAULT_MAX_FILE_BYTES = 2 * 1024**3


def sha256_file(path: Path | None, chunk: int = 1 << 20) -> str | None:
    """SHA-256 of ``path``; opened through :mod:`safeio`, so confined under a boundary."""
    try:
        fh = safeio.open_file(path) if path is not None else None
    except (OSError, WorkspaceInvalid):
        return None
    if fh is None:
        return None
    h = hashlib.sha256()
    with fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def scorer_source_hash(cls: type[Scorer]) -> str | None:
    loaded = getattr(cls, "source_sha256", None)  # set by scorers.loader: the version imported,
    if isinstance(loaded, str):  # not the file on disk, which a failed reload may have changed
        return loaded
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:
        return None
    if not source:
        return None
    with safeio.boundary(Path(source).parent):  # the scorer's own file, not the workspace's
        return sha256_file(Path(source))


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _data_path(ws: Workspace, relative: str, role: str) -> Path:
    """``ws.root / relative``, proven inside the workspace before the scorer sees it.

    A prediction that is a link is refused wherever it points (the rule inference
    applies too); a ground-truth file must resolve inside its own top folder.
    """
    path = ws.root / relative
    if role == "pred":
        safeio.refuse_linked_prediction(ws.root, relative)
    else:
        safeio.confine(path, ws.root)
    if not safeio.is_regular(path):
        hint = "the ground truth" if role == "gt" else "the submission's predictions"
        raise MissingFile(
            f"{relative} is missing: {hint} must be at {path}",
            field=relative,
            details={"file": relative, "workspace_path": str(ws.root)},
        )
    return path


def _publish_artifacts(ws: Workspace, staged: dict[str, Path]) -> dict[str, Artifact]:
    """Move staged artifact files into ``output/artifacts/`` and describe them.

    ``output/artifacts`` is opened without following links, so one planted there
    is refused instead of receiving files.
    """
    if not staged:
        return {}
    out: dict[str, Artifact] = {}
    with safeio.open_dir(ws.root, "output", "artifacts", create=True) as fd:
        for name, src in staged.items():
            os.replace(src, src.name, dst_dir_fd=fd)
            size = os.stat(src.name, dir_fd=fd, follow_symlinks=False).st_size
            mime = media_type(src.name)
            out[name] = Artifact(path=str(ws.artifacts_dir / src.name), size=size, type=mime)
    return out


def write_result(ws: Workspace, result: Result) -> Path:
    """Atomically write ``output/result.json`` (never through a link)."""
    data = json.dumps(result.to_json_dict(), indent=2, ensure_ascii=False, allow_nan=False)
    with safeio.open_dir(ws.root, "output", create=True) as fd:
        safeio.write_atomic(fd, "result.json", data.encode("utf-8"), mode=0o600)
    return ws.result_path


def _summary(scorer: Scorer, meta: Meta, out: ScoreOutput) -> Summary:
    cls = type(scorer)
    score = out.metrics.get(scorer.primary)
    thresholds = meta.thresholds if meta.thresholds is not None else cls.thresholds
    rank, passed = rank_and_pass(score, thresholds, cls.higher_is_better)
    message = "Evaluation completed successfully"
    if out.warnings:
        message += f" with {len(out.warnings)} warning(s)"
    return Summary(score=score, rank=rank, pass_=passed, message=message)


def _build_result(
    ws: Workspace, meta: Meta, scorer: Scorer, out: ScoreOutput, ctx: ScoringContext
) -> Result:
    cls = type(scorer)
    return Result(
        summary=_summary(scorer, meta, out),
        metrics=out.metrics,
        versioning=Versioning(
            scorer=cls.name,
            version=cls.version,
            autoscorer_version=__version__,
            timestamp=now_iso(),
        ),
        metadata=ResultMetadata(
            job_id=meta.job_id,
            task_type=meta.task_type or cls.task_type,
            data_size=out.data_size,
            num_classes=out.num_classes,
        ),
        provenance=Provenance(
            gt_sha256=sha256_file(ctx.gt_path),
            pred_sha256=sha256_file(ctx.pred_path),
            scorer_source_sha256=scorer_source_hash(cls),
        ),
        warnings=out.warnings,
    )


def score(
    workspace: str | os.PathLike[str] | Workspace,
    scorer: str | None = None,
    params: dict[str, Any] | None = None,
    *,
    write: bool = True,
    write_artifacts: bool = True,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Result:
    """Score a workspace's predictions and (by default) write ``output/result.json``.

    ``scorer`` and ``params`` override ``meta.json``'s ``scorer`` and
    ``scorer_params``. Raises an :class:`~autoscorer.errors.AutoScorerError`
    on bad input; nothing is written then.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    with safeio.boundary(ws.root):
        plan = plan_job(ws, scorer=scorer, params=params)
        return _score(plan, write, write, write_artifacts, max_file_bytes)


def score_plan(
    plan: JobPlan,
    *,
    write: bool = True,
    publish: bool = True,
    write_artifacts: bool = True,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Result:
    """Score ``plan`` (its meta, scorer and parameters as resolved, nothing read again).

    ``publish`` moves the artifacts into ``output/artifacts/`` and lists them in the
    result; ``write`` also writes ``output/result.json`` (the job pipeline publishes
    without writing: it adds the inference figures first).
    """
    with safeio.boundary(plan.workspace.root):
        return _score(plan, write, publish, write_artifacts, max_file_bytes)


def _score(
    plan: JobPlan, write: bool, publish: bool, write_artifacts: bool, max_file_bytes: int
) -> Result:
    started = time.perf_counter()
    ws, meta, cls = plan.workspace, plan.meta, plan.scorer
    instance = cls(dict(plan.params))
    with safeio.open_dir(ws.root, "output", create=True):
        pass  # created if missing, never through a link
    with tempfile.TemporaryDirectory(prefix=".artifacts-", dir=ws.output_dir) as staging:
        ctx = ScoringContext(
            workspace=ws,
            meta=meta,
            gt_path=_data_path(ws, cls.gt_file, "gt"),
            pred_path=_data_path(ws, cls.pred_file, "pred"),
            artifacts_dir=Path(staging),
            write_artifacts=write_artifacts,
            max_file_bytes=max_file_bytes,
        )
        t0 = time.perf_counter()
        out = instance.evaluate(ctx)
        scoring_time = time.perf_counter() - t0
        result = _build_result(ws, meta, instance, out, ctx)
        if publish:
            result.artifacts = _publish_artifacts(ws, out.artifacts)
    result.timing = Timing(
        total_time=time.perf_counter() - started,
        data_loading=out.data_loading,
        scoring_time=scoring_time,
    )
    if write:
        write_result(ws, result)
    return result


def failure_result(
    error: AutoScorerError, *, meta: Meta | None = None, scorer: str | None = None
) -> Result:
    """A ``result.json`` describing a failed run (``error`` set, no score)."""
    return Result(
        summary=Summary(score=None, rank=None, pass_=False, message=error.message),
        versioning=Versioning(
            scorer=scorer or (meta.scorer if meta else None),
            autoscorer_version=__version__,
            timestamp=now_iso(),
        ),
        metadata=ResultMetadata(
            job_id=meta.job_id if meta else None, task_type=meta.task_type if meta else None
        ),
        error=ErrorInfo(**error.to_dict()),
    )


def clear_stale(ws: Workspace) -> None:
    """Remove leftovers of interrupted runs (staging folders)."""
    with safeio.open_dir(ws.root, "output") as fd:
        for entry in os.scandir(fd):
            if entry.name.startswith(".artifacts-"):
                shutil.rmtree(entry.name, ignore_errors=True, dir_fd=fd)
