"""Scoring many workspaces at once: ``autoscorer score ws1 ... ws500``.

Each workspace is scored exactly as :func:`autoscorer.pipeline.scoring.score` scores it
alone; with more than one usable core the workspaces are spread over a process pool
(scoring is CPU-bound Python and numpy, so threads would share one interpreter lock).
Results come back in the order the workspaces were given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from autoscorer.errors import AutoScorerError


@dataclass(frozen=True)
class Scored:
    """One workspace's outcome: the ``result.json`` document or the error object."""

    workspace: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        if self.error is not None:
            return {"success": False, "error": self.error}
        return {"success": True, "result": self.result}


def score_one(
    workspace: str, scorer: str | None, params: dict[str, Any], write_artifacts: bool
) -> Scored:
    """Score one workspace; a domain error becomes the entry's ``error``."""
    from autoscorer.pipeline.scoring import score

    try:
        res = score(workspace, scorer, params, write_artifacts=write_artifacts)
    except AutoScorerError as exc:
        return Scored(workspace, error=exc.to_dict())
    return Scored(workspace, result=res.to_json_dict())


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def score_many(
    workspaces: Sequence[str],
    scorer: str | None = None,
    params: dict[str, Any] | None = None,
    *,
    write_artifacts: bool = True,
    jobs: int = 0,
) -> Iterator[Scored]:
    """Score every workspace, in order; ``jobs`` processes (0: one per usable core).

    One process (``jobs=1``, a single workspace or a single core) scores in this process.
    The pool's processes start (fork) in this call, before the caller draws any progress
    bar, so no other thread of this process is running when they do.
    """
    params = params or {}
    workers = min(jobs or usable_cores(), len(workspaces))
    if workers <= 1:
        return (score_one(ws, scorer, params, write_artifacts) for ws in workspaces)
    import autoscorer.pipeline.scoring  # noqa: F401  (imported once, inherited by the workers)

    n = len(workspaces)
    pool = ProcessPoolExecutor(max_workers=workers)
    results = pool.map(
        score_one,
        workspaces,
        [scorer] * n,
        [params] * n,
        [write_artifacts] * n,
        chunksize=max(1, min(16, n // (workers * 4))),
    )
    return _drain(pool, results)


def _drain(pool: ProcessPoolExecutor, results: Iterator[Scored]) -> Iterator[Scored]:
    with pool:
        yield from results
