"""Shared helpers of the executor tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest

from autoscorer.executors.base import Executor
from autoscorer.scorers.base import ScoreOutput, Scorer, ScoringContext

PY_IMAGE = "autoscorer-test/python"
BUSYBOX_IMAGE = "autoscorer-test/busybox"
SESSION = uuid.uuid4().hex[:10]
TEST_LABEL = "autoscorer.test"
N_IDS = 20


class ExactLines(Scorer):
    """Fraction of prediction rows equal to the ground truth's rows."""

    name = "test_exec_exact"
    primary_metric = "accuracy"
    thresholds: ClassVar[dict[str, float] | None] = None
    ground_truth: ClassVar[tuple[str, ...] | None] = ("input/gt.csv",)

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        gt = ctx.gt_path.read_text().splitlines()
        pred = ctx.pred_path.read_text().splitlines()
        same = sum(g == p for g, p in zip(gt, pred, strict=False))
        return ScoreOutput(metrics={"accuracy": same / len(gt)}, data_size=len(gt))


# a correct submission: the label of id i is i % 3 (the ground truth below)
SOLVE = """
import os
ids = open('/workspace/input/data/ids.txt').read().split()
print('predicting', len(ids), 'ids', flush=True)
with open(os.path.join(os.environ['AUTOSCORER_OUTPUT'], 'pred.csv'), 'w') as f:
    f.write('id,label\\n' + ''.join(f'{i},{int(i) % 3}\\n' for i in ids))
"""


def make_executor(kind: str, **config: Any) -> Executor:
    """The executors under test, each labelled/configured for this session."""
    if kind == "docker":
        from autoscorer.executors.docker import DockerExecutor

        return DockerExecutor(labels={TEST_LABEL: SESSION}, **config)
    from autoscorer.executors.local import LocalExecutor

    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed; the local contract needs it (apt install bubblewrap)")
    return LocalExecutor(sandbox="bwrap", **config)


def write_workspace(
    root: Path, cmd: list[str] | None, *, image: str = PY_IMAGE, **meta: Any
) -> Path:
    """input/gt.csv + input/data/ids.txt, output/, and meta.json with a container section."""
    (root / "input" / "data").mkdir(parents=True)
    (root / "output").mkdir()
    ids = list(range(1, N_IDS + 1))
    (root / "input" / "gt.csv").write_text("id,label\n" + "".join(f"{i},{i % 3}\n" for i in ids))
    (root / "input" / "data" / "ids.txt").write_text("\n".join(map(str, ids)) + "\n")
    doc: dict[str, Any] = {"job_id": root.name, "scorer": "test_exec_exact", "time_limit": 30}
    doc["resources"] = {"cpu": 1, "memory": "256Mi", "pids": 64}
    if cmd is not None:
        doc["container"] = {"image": image, "cmd": cmd, "pull_policy": "never"}
    for key, value in meta.items():
        doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    (root / "meta.json").write_text(json.dumps(doc))
    return root


def python(code: str) -> list[str]:
    return ["python3", "-u", "-c", code]
