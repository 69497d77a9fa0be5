"""The example workspaces: each scores through score(), and generate.py reproduces them."""

from __future__ import annotations

import importlib.util
import io
import json
import math
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from autoscorer.pipeline.scoring import score
from autoscorer.scorers.registry import ensure_builtins

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "meta.json").is_file())
BUILTINS = {
    "classification_f1",
    "classification_accuracy",
    "regression_rmse",
    "detection_map",
    "segmentation_miou",
}
# written by hand, or by scoring / running (see examples/.gitignore), not by generate.py
NOT_GENERATED = {"README.md", "result.json"}
MAX_BYTES = 200 * 1024


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_generate", EXAMPLES / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generated(rel: Path) -> bool:
    if rel.name in NOT_GENERATED or rel.name.startswith((".result-", ".artifacts-")):
        return False
    if rel.parts[0] == "logs":
        return rel.name == ".gitkeep"
    return "artifacts" not in rel.parts


def _data_files(root: Path) -> dict[str, bytes]:
    """Every data file generate.py writes for one example, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and _generated(p.relative_to(root))
    }


def _same_content(a: bytes, b: bytes, rel: str) -> bool:
    """Bytes for text; pixels for PNGs (zlib versions may compress differently)."""
    if not rel.endswith(".png"):
        return a == b
    img_a, img_b = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
    return img_a.mode == img_b.mode and np.array_equal(np.asarray(img_a), np.asarray(img_b))


def _scorer_of(name: str) -> str:
    return str(json.loads((EXAMPLES / name / "meta.json").read_text())["scorer"])


def test_every_builtin_scorer_has_an_example() -> None:
    assert {_scorer_of(n) for n in NAMES} >= BUILTINS
    assert len(NAMES) >= 5


@pytest.mark.parametrize("name", NAMES)
def test_example_scores(name: str, tmp_path: Path) -> None:
    scorer = _scorer_of(name)
    assert scorer in ensure_builtins(), f"example {name} names unknown scorer {scorer!r}"
    ws = tmp_path / name
    shutil.copytree(EXAMPLES / name, ws, ignore=shutil.ignore_patterns("result.json", "artifacts"))
    result = score(ws)
    assert result.error is None
    assert result.versioning.scorer == scorer
    assert result.metadata.data_size and result.metadata.data_size > 0
    value = result.summary.score
    assert value is not None and math.isfinite(value)
    if ensure_builtins().get(scorer).higher_is_better:
        assert 0.0 < value < 1.0  # a realistic example: neither broken nor perfect
    else:
        assert value > 0.0
    assert result.summary.rank is not None and result.summary.pass_ is not None
    assert (ws / "output" / "result.json").is_file()
    for artifact in result.artifacts.values():
        assert Path(artifact.path).is_file()


@pytest.mark.parametrize("name", NAMES)
def test_example_is_small(name: str) -> None:
    size = sum(len(data) for data in _data_files(EXAMPLES / name).values())
    assert size < MAX_BYTES, f"examples/{name} holds {size:,} bytes of data"


def test_generate_reproduces_the_committed_files(tmp_path: Path) -> None:
    written = _generator().generate(tmp_path)
    assert sorted(p.name for p in written) == NAMES
    for name in NAMES:
        fresh, committed = _data_files(tmp_path / name), _data_files(EXAMPLES / name)
        assert sorted(fresh) == sorted(committed), name
        for rel, data in fresh.items():
            assert _same_content(data, committed[rel], rel), (
                f"examples/{name}/{rel}: rerun generate.py"
            )


def test_examples_gitignore_keeps_results_out() -> None:
    patterns = (EXAMPLES / ".gitignore").read_text().split()
    assert "*/output/result.json" in patterns and "*/output/artifacts/" in patterns
