"""init_workspace: the four templates, config merging, refusing to overwrite, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoscorer.errors import Conflict, InvalidParameter, WorkspaceInvalid
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.templates import TEMPLATES, init_workspace

EXPECTED_SCORER = {
    "classification": "classification_f1",
    "regression": "regression_rmse",
    "detection": "detection_map",
    "segmentation": "segmentation_miou",
}


@pytest.mark.parametrize("template", sorted(EXPECTED_SCORER))
def test_each_template_creates_the_standard_layout(tmp_path: Path, template: str) -> None:
    root = tmp_path / "new" / "ws"
    data = init_workspace(root, template=template, job_id="job-001")
    assert set(data) == {
        "workspace_path",
        "template_used",
        "created_files",
        "structure",
        "next_steps",
    }
    assert data["workspace_path"] == str(root.resolve())
    assert data["template_used"] == template
    assert data["created_files"][:4] == [
        "meta.json",
        "input/.gitkeep",
        "output/.gitkeep",
        "logs/.gitkeep",
    ]
    for rel in data["created_files"]:
        assert (root / rel).is_file(), rel
    assert set(data["structure"]) == {"input/", "output/", "logs/", "meta.json"}
    meta = Workspace.at(root).load_meta()
    assert (meta.job_id, meta.task_type) == ("job-001", template)
    assert meta.scorer == EXPECTED_SCORER[template]
    assert meta.network_policy == "none" and meta.container is None
    fmt = TEMPLATES[template].data_format
    assert meta.data.input_format == fmt and meta.data.output_format == fmt
    assert any(TEMPLATES[template].gt_file in s for s in data["next_steps"])
    assert data["next_steps"][-1].startswith("Run evaluation with: autoscorer score ")


def test_segmentation_template_adds_mask_folders(tmp_path: Path) -> None:
    data = init_workspace(tmp_path / "seg", template="segmentation")
    assert "input/masks/.gitkeep" in data["created_files"]
    assert (tmp_path / "seg" / "output" / "masks").is_dir()


def test_config_is_merged_over_defaults(tmp_path: Path) -> None:
    init_workspace(
        tmp_path / "ws",
        scorer="classification_accuracy",
        config={"time_limit": 60, "resources": {"cpu": 2.0, "memory": "4Gi"}},
    )
    raw = json.loads((tmp_path / "ws" / "meta.json").read_text())
    assert raw["scorer"] == "classification_accuracy"
    assert raw["time_limit"] == 60
    assert raw["resources"] == {"cpu": 2.0, "memory": "4Gi", "gpus": 0, "pids": 256}
    assert list(raw)[:3] == ["job_id", "task_type", "scorer"]


def test_job_id_defaults_to_a_clean_folder_name(tmp_path: Path) -> None:
    init_workspace(tmp_path / "my task #1")
    assert Workspace.at(tmp_path / "my task #1").load_meta().job_id == "my-task-1"


def test_existing_meta_is_not_overwritten_without_overwrite(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", job_id="first")
    (tmp_path / "ws" / "input" / "gt.csv").write_text("id,label\n1,a\n")
    with pytest.raises(Conflict, match="already exists"):
        init_workspace(tmp_path / "ws", template="regression")
    assert Workspace.at(tmp_path / "ws").load_meta().job_id == "first"

    data = init_workspace(tmp_path / "ws", template="regression", job_id="second", overwrite=True)
    assert data["created_files"] == ["meta.json"]  # the .gitkeep files were already there
    assert Workspace.at(tmp_path / "ws").load_meta().scorer == "regression_rmse"
    assert (tmp_path / "ws" / "input" / "gt.csv").read_text() == "id,label\n1,a\n"


def test_unknown_template_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter) as info:
        init_workspace(tmp_path / "ws", template="ranking")
    assert info.value.field == "template"
    assert info.value.details["choices"] == sorted(EXPECTED_SCORER)
    assert not (tmp_path / "ws").exists()


def test_invalid_config_names_the_field_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter) as info:
        init_workspace(tmp_path / "ws", config={"resources": {"cpu": -1}})
    assert info.value.field == "config.resources.cpu"
    assert not (tmp_path / "ws").exists()


def test_a_file_in_the_way_is_reported(tmp_path: Path) -> None:
    (tmp_path / "ws").write_text("not a folder")
    with pytest.raises(WorkspaceInvalid, match="not a directory"):
        init_workspace(tmp_path / "ws")
