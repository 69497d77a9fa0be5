"""Workspace paths, meta.json loading and the workspace-root check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autoscorer.errors import (
    EmptyFile,
    EncodingError,
    FileTooLarge,
    Forbidden,
    ParseError,
    WorkspaceInvalid,
)
from autoscorer.workspace.files import check_file, read_json, read_text
from autoscorer.workspace.layout import Workspace, resolve_inside
from autoscorer.workspace.models import Meta, format_bytes, parse_memory


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("512Mi", 512 * 1024**2),
        ("4Gi", 4 * 1024**3),
        ("1G", 10**9),
        ("100", 100),
        (2048, 2048),
        ("1.5Gi", int(1.5 * 1024**3)),
    ],
)
def test_parse_memory(text: str | int, n: int) -> None:
    assert parse_memory(text) == n


def test_parse_memory_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="512Mi"):
        parse_memory("lots")


def test_format_bytes() -> None:
    assert format_bytes(3.8 * 1024**3) == "3.8Gi"
    assert format_bytes(500) == "500B"


def test_meta_defaults() -> None:
    meta = Meta()
    assert meta.network_policy == "none"
    assert meta.resources.memory_bytes == 2 * 1024**3
    assert meta.container is None


def test_load_meta_errors_name_the_field(tmp_path: Path) -> None:
    ws = Workspace.at(tmp_path)
    with pytest.raises(WorkspaceInvalid, match=r"meta\.json is missing"):
        ws.load_meta()
    ws.meta_path.write_text("{not json")
    with pytest.raises(WorkspaceInvalid, match="not valid JSON"):
        ws.load_meta()
    ws.meta_path.write_text(json.dumps({"resources": {"cpu": -1}}))
    with pytest.raises(WorkspaceInvalid) as info:
        ws.load_meta()
    assert info.value.field == "meta.resources.cpu"
    ws.meta_path.write_text(json.dumps({"network_policy": "open"}))
    with pytest.raises(WorkspaceInvalid, match="network_policy"):
        ws.load_meta()


def test_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceInvalid, match="does not exist"):
        Workspace.at(tmp_path / "nope").load_meta()


def test_resolve_inside_blocks_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "ws").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    assert resolve_inside(root / "ws", [root]) == (root / "ws").resolve()
    for bad in (root / ".." / "outside", outside, root / "link", Path("/etc")):
        with pytest.raises(Forbidden):
            resolve_inside(bad, [root])
    assert resolve_inside(outside, []) == outside.resolve()


def test_files_errors(tmp_path: Path) -> None:
    empty = tmp_path / "output" / "pred.json"
    empty.parent.mkdir()
    empty.write_text("")
    with pytest.raises(EmptyFile, match=r"output/pred\.json is empty"):
        check_file(empty, 100)
    empty.write_text('{"a": [1, 2,, 3]}')
    with pytest.raises(ParseError, match="line 1, column"):
        read_json(empty, 100)
    with pytest.raises(FileTooLarge) as info:
        check_file(empty, 4)
    assert info.value.details["limit"] == 4
    gbk = tmp_path / "output" / "g.csv"
    gbk.write_bytes("id,label\n1,中文\n".encode("gbk"))
    assert read_text(gbk, 100, "gbk").endswith("中文\n")
    with pytest.raises(EncodingError, match=r"data\.encoding"):
        read_text(gbk, 100, "utf-8")
    bom = tmp_path / "output" / "b.json"
    bom.write_bytes(b"\xef\xbb\xbf" + b'{"x": 1}')
    assert read_json(bom, 100) == {"x": 1}
