"""Attack: read the answers from inside the sandbox (issue 11, item 1).

For every built-in example, a submission lists and copies all of
``/workspace/input`` and turns whatever answers it finds into predictions. The
host adds a second copy of the answers declared in ``meta.json``
(``ground_truth``) and a hard link of the main ground-truth file among the public
data. The submission must see no byte of any of them and cannot score 1.0.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest
from exec_helpers import PY_IMAGE, python

from autoscorer.errors import InvalidParameter
from autoscorer.executors.base import Executor
from autoscorer.executors.spec import build_spec
from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.scorers.base import ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.registry import registry
from autoscorer.workspace.ground_truth import InputPolicy, check_pattern, covered
from autoscorer.workspace.layout import Workspace

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUILTIN = ["classification", "classification-accuracy", "detection", "regression", "segmentation"]

# list and copy everything visible, then build predictions from any answers found
STEAL = r"""
import json, os, re, shutil
src, out = '/workspace/input', '/workspace/output'
seen = []
for root, dirs, files in os.walk(src):
    for name in files:
        rel = os.path.relpath(os.path.join(root, name), src)
        seen.append(rel)
        dst = os.path.join(out, 'stolen', rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            shutil.copyfile(os.path.join(src, rel), dst)
        except OSError:
            pass
json.dump(sorted(seen), open(out + '/listing.json', 'w'))
masks = []
for rel in sorted(seen):
    path = os.path.join(src, rel)
    if rel.endswith('.csv'):
        shutil.copyfile(path, out + '/pred.csv')
    elif rel.endswith('.json'):
        doc = json.load(open(path))
        if isinstance(doc, dict) and 'annotations' in doc:
            dets = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                         score=1.0) for a in doc['annotations']]
            json.dump(dets, open(out + '/pred.json', 'w'))
    elif rel.endswith('.png') and rel.split('/')[-1] not in masks:
        masks.append(rel.split('/')[-1])
        os.makedirs(out + '/masks', exist_ok=True)
        shutil.copyfile(path, out + '/masks/' + rel.split('/')[-1])
if masks:
    json.dump([dict(image_id=int(re.findall(r'\d+', m)[-1]), mask_file='masks/' + m)
               for m in masks], open(out + '/pred.json', 'w'))
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _answers(example: Path) -> set[str]:
    """Digests of every file the example's scorer reads as ground truth."""
    found = {p for p in (example / "input").rglob("*") if p.is_file()}
    return {_sha(p) for p in found if p.name.startswith("gt.") or "masks" in p.parts}


def attack_workspace(tmp: Path, example: str) -> Path:
    """The example with the attack as its container, a declared answer copy and a hard link."""
    root = tmp / example
    shutil.copytree(EXAMPLES / example, root)
    shutil.rmtree(root / "output")
    (root / "output").mkdir()
    inp = root / "input"
    shutil.copytree(inp, tmp / "answers")
    shutil.move(tmp / "answers", inp / "answers")  # a second copy, declared below
    (inp / "data").mkdir()
    (inp / "data" / "readme.txt").write_text("public data\n")
    gt = next(inp.glob("gt.*"))
    os.link(gt, inp / "data" / f"copy{gt.suffix}")  # the same file under a public name
    meta = json.loads((root / "meta.json").read_text())
    meta["ground_truth"] = ["input/answers"]
    meta["resources"] = {"cpu": 1, "memory": "256Mi", "pids": 64}
    meta["time_limit"] = 60
    meta["container"] = {"image": PY_IMAGE, "cmd": python(STEAL), "pull_policy": "never"}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize("example", BUILTIN)
def test_submission_sees_no_ground_truth(example: str, executor: Executor, tmp_path: Path) -> None:
    root = attack_workspace(tmp_path, example)
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    listing = json.loads((root / "output" / "listing.json").read_text())
    assert listing == ["data/readme.txt"], listing  # the public data, nothing else
    stolen = {_sha(p) for p in (root / "output" / "stolen").rglob("*") if p.is_file()}
    assert stolen.isdisjoint(_answers(EXAMPLES / example))
    assert result.summary.score != 1.0
    assert result.error is not None and result.error.code == "NO_PREDICTIONS"


def test_the_attack_scores_one_when_the_host_exposes_the_answers(
    executor: Executor, tmp_path: Path
) -> None:
    """The same attack with ``expose_gt`` on the host's meta.json: it does steal (so the
    test above would catch a leak), and exposing stays the host's own choice."""
    root = attack_workspace(tmp_path, "segmentation")
    meta = json.loads((root / "meta.json").read_text())
    (root / "meta.json").write_text(json.dumps({**meta, "expose_gt": True}))
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert result.error is None and result.summary.score == 1.0


def test_segmentation_hides_every_mask_folder_gt_json_names(tmp_path: Path) -> None:
    root = attack_workspace(tmp_path, "segmentation")
    gt_path = root / "input" / "gt.json"
    gt = json.loads(gt_path.read_text())
    (root / "input" / "labels" / "v2").mkdir(parents=True)
    for image in gt["images"]:  # masks moved to a folder the scorer only knows from gt.json
        name = Path(image["mask_file"]).name
        shutil.move(root / "input" / "masks" / name, root / "input" / "labels" / "v2" / name)
        image["mask_file"] = f"labels/v2/{name}"
    gt_path.write_text(json.dumps(gt))
    (root / "input" / "labels" / "images.txt").write_text("frame_0001.jpg\n")
    ws = Workspace.at(root)
    sources = {m.source.relative_to(root).as_posix() for m in build_spec(ws, ws.load_meta()).mounts}
    assert sources == {"input/data/readme.txt", "input/labels/images.txt", "output", "logs"}


def test_unreadable_segmentation_gt_hides_all_input(tmp_path: Path) -> None:
    root = attack_workspace(tmp_path, "segmentation")
    (root / "input" / "gt.json").write_text("{not json")
    ws = Workspace.at(root)
    targets = {m.target for m in build_spec(ws, ws.load_meta()).mounts}
    assert targets == {"/workspace/output", "/workspace/logs"}


class _Undeclared(Scorer):
    name = "test_security_undeclared"
    primary_metric = "score"

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        return ScoreOutput(metrics={"score": 0.0})


class _PublicOnly(_Undeclared):
    name = "test_security_public"
    public_inputs: ClassVar[tuple[str, ...]] = ("input/images", "input/*.txt")


class _Declared(_Undeclared):
    name = "test_security_declared"
    ground_truth: ClassVar[tuple[str, ...] | None] = ("input/answers/**/*.csv",)


NOTES = "input/answers/a/notes.md"


def _custom_workspace(root: Path, scorer: str) -> Workspace:
    for rel in ("gt.csv", "secret.bin", "list.txt", "images/1.png", "answers/a/b.csv"):
        (root / "input" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "input" / rel).write_text(rel)
    (root / "input" / "answers" / "a" / "notes.md").write_text("n")
    meta: dict[str, Any] = {"scorer": scorer, "container": {"image": PY_IMAGE, "cmd": ["true"]}}
    (root / "meta.json").write_text(json.dumps(meta))
    return Workspace.at(root)


@pytest.mark.parametrize(
    ("cls", "visible"),
    [
        (_Undeclared, set()),
        (_PublicOnly, {"input/images", "input/list.txt"}),
        (_Declared, {"input/secret.bin", "input/list.txt", "input/images", NOTES}),
    ],
)
def test_custom_scorers_hide_all_input_unless_they_declare(
    cls: type[Scorer], visible: set[str], tmp_path: Path
) -> None:
    registry.register(cls)
    try:
        ws = _custom_workspace(tmp_path, cls.name)
        mounts = build_spec(ws, ws.load_meta()).mounts
        inputs = {m.source.relative_to(ws.root).as_posix() for m in mounts if m.read_only}
        assert inputs == visible
    finally:
        registry.unregister(cls.name)


def test_an_unknown_scorer_shows_nothing_of_input(tmp_path: Path) -> None:
    ws = _custom_workspace(tmp_path, "no_such_scorer")
    assert all(not m.read_only for m in build_spec(ws, ws.load_meta()).mounts)


def test_a_link_to_a_hidden_path_is_hidden(tmp_path: Path) -> None:
    ws = _custom_workspace(tmp_path, "regression_rmse")
    (ws.input_dir / "alias.csv").symlink_to(ws.input_dir / "gt.csv")
    (ws.input_dir / "all").symlink_to(".")
    sources = {m.source.name for m in build_spec(ws, ws.load_meta()).mounts if m.read_only}
    assert sources == {"secret.bin", "list.txt", "images", "answers"}


def test_patterns_are_checked_and_matched() -> None:
    assert check_pattern("./input//masks/") == "input/masks"
    for bad in ("/etc/passwd", "input/../meta.json", "output/pred.csv", "inputs/x", ""):
        with pytest.raises(ValueError, match="ground-truth path"):
            check_pattern(bad)
    assert covered("input/a/b/c.png", ("input/**/*.png",))
    assert covered("input/masks/x/y", ("input/masks",))
    assert not covered("input/masks2", ("input/masks",))
    assert InputPolicy(public=("input/images",)).visible("input/images/1.png")
    assert not InputPolicy(public=("input/images",)).visible("input/gt.csv")


def test_a_bad_declaration_is_refused(tmp_path: Path) -> None:
    class Bad(_Undeclared):
        name = "test_security_bad"
        ground_truth: ClassVar[tuple[str, ...] | None] = ("input/../meta.json",)

    ws = _custom_workspace(tmp_path, Bad.name)
    with pytest.raises(InvalidParameter, match="test_security_bad"):
        build_spec(ws, ws.load_meta(), scorer=Bad)


def test_scattered_ground_truth_is_refused_not_mounted_file_by_file(tmp_path: Path) -> None:
    from autoscorer.errors import WorkspaceInvalid
    from autoscorer.executors.spec import MAX_INPUT_MOUNTS

    ws = _custom_workspace(tmp_path, "regression_rmse")
    for i in range(MAX_INPUT_MOUNTS + 1):
        (ws.input_dir / "images" / f"{i}.png").write_bytes(b"")
    meta = ws.load_meta().model_copy(update={"ground_truth": ["input/images/0.png"]})
    with pytest.raises(WorkspaceInvalid, match="scattered"):
        build_spec(ws, meta)
