"""Fixtures for scorer tests: temporary score-only CSV workspaces."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

CsvData = str | bytes


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document with ``header`` and ``rows`` (values written with ``str``)."""
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture
def to_csv() -> Callable[[Sequence[str], Iterable[Sequence[Any]]], str]:
    """The :func:`csv_text` helper (test modules cannot import conftest)."""
    return csv_text


@pytest.fixture
def csv_workspace(tmp_path: Path) -> Callable[..., Path]:
    """``csv_workspace(scorer, gt, pred, meta={...}, name="ws")`` -> workspace path."""

    def make(
        scorer: str,
        gt: CsvData,
        pred: CsvData | None,
        *,
        meta: dict[str, Any] | None = None,
        name: str = "ws",
    ) -> Path:
        ws = tmp_path / name
        (ws / "input").mkdir(parents=True)
        (ws / "output").mkdir()
        full_meta = {"job_id": name, "scorer": scorer, **(meta or {})}
        (ws / "meta.json").write_text(json.dumps(full_meta), encoding="utf-8")
        for path, data in ((ws / "input" / "gt.csv", gt), (ws / "output" / "pred.csv", pred)):
            if data is not None:
                path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return ws

    return make
