"""workspace.files readers: size limits, encodings and JSON errors, word for word.

Each error is compared whole (code, message, field, details) with the known text a
participant or host reads, and each limit is tried on both sides of its boundary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import files, safeio

PART = "participant"


def error(exc: pytest.ExceptionInfo[AutoScorerError]) -> dict[str, Any]:
    return exc.value.to_dict()


@pytest.fixture()
def inp(tmp_path: Path) -> Path:
    folder = tmp_path / "input"
    folder.mkdir()
    return folder


def test_display_name_is_folder_and_file() -> None:
    assert files.display_name(Path("/srv/ws/input/gt.csv")) == "input/gt.csv"


@pytest.mark.parametrize("make", ["absent", "folder", "under_a_file"])
def test_a_missing_file(inp: Path, make: str) -> None:
    path = inp / "gt.csv"
    if make == "folder":
        path.mkdir()
    elif make == "under_a_file":
        path.write_text("x")
        path = path / "gt.csv"
    with pytest.raises(AutoScorerError) as exc:
        files.check_file(path, 100)
    name = "input/gt.csv" if make != "under_a_file" else "gt.csv/gt.csv"
    assert error(exc) == {
        "code": "MISSING_FILE",
        "message": f"{name} is missing",
        "field": name,
        "details": {"file": name, "fault": PART},
    }


def test_an_empty_file(inp: Path) -> None:
    (inp / "gt.csv").write_bytes(b"")
    with pytest.raises(AutoScorerError) as exc:
        files.check_file(inp / "gt.csv", 100)
    assert error(exc) == {
        "code": "EMPTY_FILE",
        "message": "input/gt.csv is empty",
        "field": "input/gt.csv",
        "details": {"file": "input/gt.csv", "fault": PART},
    }


def test_the_size_limit_on_both_sides(inp: Path) -> None:
    path = inp / "gt.csv"
    path.write_bytes(b"x")
    assert files.check_file(path, 1) == 1
    path.write_bytes(b"x" * 1000)
    assert files.check_file(path, 1000) == 1000
    assert files.read_text(path, 1000) == "x" * 1000
    with pytest.raises(AutoScorerError) as exc:
        files.check_file(path, 999)
    assert error(exc) == {
        "code": "FILE_TOO_LARGE",
        "message": "input/gt.csv is 1,000 bytes, above the limit of 999 bytes "
        "(raise max_file_bytes in the server config if this is expected)",
        "field": "input/gt.csv",
        "details": {"file": "input/gt.csv", "size": 1000, "limit": 999, "fault": PART},
    }


@pytest.mark.parametrize("encoding", ["utf-8", "UTF-8", "utf_8", "utf8"])
def test_a_utf8_bom_is_dropped(inp: Path, encoding: str) -> None:
    (inp / "gt.csv").write_bytes(b"\xef\xbb\xbfid,v\n")
    assert files.read_text(inp / "gt.csv", 100, encoding) == "id,v\n"


def test_the_default_encoding_is_utf8_without_bom(inp: Path) -> None:
    (inp / "gt.csv").write_bytes("\ufeffé\n".encode())
    assert files.read_text(inp / "gt.csv", 100) == "é\n"


def test_another_encoding_is_used_as_named(inp: Path) -> None:
    (inp / "gt.csv").write_bytes("标签\n".encode("gbk"))
    assert files.read_text(inp / "gt.csv", 100, "gbk") == "标签\n"


def test_bad_bytes_give_their_offset(inp: Path) -> None:
    (inp / "gt.csv").write_bytes(b"ab\xff")
    with pytest.raises(AutoScorerError) as exc:
        files.read_text(inp / "gt.csv", 100)
    assert error(exc) == {
        "code": "ENCODING_ERROR",
        "message": "input/gt.csv is not valid utf-8 at byte 2; set data.encoding in "
        "meta.json (e.g. 'gbk') or re-save the file as UTF-8",
        "field": "input/gt.csv",
        "details": {"file": "input/gt.csv", "encoding": "utf-8", "byte_offset": 2, "fault": PART},
    }


def test_an_unknown_encoding(inp: Path) -> None:
    (inp / "gt.csv").write_bytes(b"a")
    with pytest.raises(AutoScorerError) as exc:
        files.read_text(inp / "gt.csv", 100, "nope")
    assert error(exc) == {
        "code": "ENCODING_ERROR",
        "message": "unknown encoding 'nope'",
        "field": "data.encoding",
        "details": {"fault": PART},
    }


def test_a_cut_multibyte_tail_is_allowed_only_when_not_final(inp: Path) -> None:
    raw = "a标".encode()[:-1]
    assert files.decode_bytes(inp / "gt.csv", raw, "utf-8", final=False) == "a"
    with pytest.raises(AutoScorerError) as exc:
        files.decode_bytes(inp / "gt.csv", raw, "utf-8")
    assert error(exc)["details"]["byte_offset"] == 1


def test_read_json(inp: Path) -> None:
    (inp / "pred.json").write_bytes('{"a": ["é"]}'.encode("latin-1"))
    assert files.read_json(inp / "pred.json", 100, "latin-1") == {"a": ["é"]}
    (inp / "pred.json").write_text('{\n  "a": \n}')
    with pytest.raises(AutoScorerError) as exc:
        files.read_json(inp / "pred.json", 100)
    assert error(exc) == {
        "code": "PARSE_ERROR",
        "message": "input/pred.json is not valid JSON: Expecting value at line 3, column 1",
        "field": "input/pred.json",
        "details": {"file": "input/pred.json", "line": 3, "column": 1, "fault": PART},
    }


def test_read_json_keeps_the_size_limit(inp: Path) -> None:
    (inp / "pred.json").write_text('{"a": 1}')
    with pytest.raises(AutoScorerError) as exc:
        files.read_json(inp / "pred.json", 7)
    assert error(exc)["code"] == "FILE_TOO_LARGE"


# -- workspace.safeio: the reads every reader goes through ------------------------------
HOST = "host"


def outside(rel: str) -> dict[str, Any]:
    return {
        "code": "WORKSPACE_INVALID",
        "message": f"{rel} leads outside the workspace (a symbolic link); files the server "
        "reads must lie inside their workspace folder",
        "field": rel,
        "details": {"file": rel, "reason": "outside_workspace", "fault": HOST},
    }


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    for folder in ("input", "output", "logs"):
        (root / folder).mkdir(parents=True)
    (root / "input" / "gt.csv").write_text("g")
    (tmp_path / "secret").write_text("s")
    return root


def test_a_link_out_is_refused_by_name(ws: Path) -> None:
    (ws / "output" / "pred.csv").symlink_to(ws.parent / "secret")
    with pytest.raises(AutoScorerError) as exc, safeio.boundary(ws):
        safeio.open_fd(ws / "output" / "pred.csv")
    assert error(exc) == outside("output/pred.csv")
    with pytest.raises(AutoScorerError) as plain:  # no boundary: the last part is not followed
        safeio.open_fd(ws / "output" / "pred.csv")
    assert error(plain) == outside("pred.csv")
    assert safeio.is_regular(ws / "output" / "pred.csv") is False
    assert safeio.is_regular(ws / "input" / "gt.csv") is True


def test_a_hard_link_in_output_is_refused(ws: Path) -> None:
    (ws / "output" / "pred.csv").hardlink_to(ws / "input" / "gt.csv")
    with pytest.raises(AutoScorerError) as exc, safeio.boundary(ws):
        safeio.open_fd(ws / "output" / "pred.csv")
    assert error(exc) == {
        "code": "WORKSPACE_INVALID",
        "message": "output/pred.csv is a hard link; the submission must write a file of its own",
        "field": "output/pred.csv",
        "details": {"file": "output/pred.csv", "reason": "hard_link", "fault": HOST},
    }


def test_a_folder_in_output_is_missing_not_a_hard_link(ws: Path) -> None:
    """A folder has several links of its own; it is no file (it was refused as a hard link)."""
    (ws / "output" / "pred.csv").mkdir()
    with pytest.raises(AutoScorerError) as exc, safeio.boundary(ws):
        files.check_file(ws / "output" / "pred.csv", 100)
    assert error(exc) == {
        "code": "MISSING_FILE",
        "message": "output/pred.csv is missing",
        "field": "output/pred.csv",
        "details": {"file": "output/pred.csv", "fault": PART},
    }


@pytest.mark.parametrize("entry", ["meta.json", "input", "output", "logs"])
def test_a_linked_top_entry_is_refused(ws: Path, entry: str) -> None:
    target = ws / entry
    if target.exists():
        target.rename(ws.parent / f"real-{entry}")
    target.symlink_to(ws.parent / f"real-{entry}")
    with pytest.raises(AutoScorerError) as exc:
        safeio.check_top_level(ws)
    assert error(exc) == {
        "code": "WORKSPACE_INVALID",
        "message": f"{entry} in the workspace is a symbolic link; the workspace's top-level "
        "entries (meta.json, input/, output/, logs/) must be real files and folders",
        "field": entry,
        "details": {"entry": entry, "reason": "symlink", "fault": HOST},
    }


def test_open_file_reads_only(ws: Path) -> None:
    with safeio.boundary(ws), safeio.open_file(ws / "input" / "gt.csv", "r") as fh:
        assert fh.read() == "g"
    with pytest.raises(ValueError, match="open_file opens for reading only"):
        safeio.open_file(ws / "input" / "gt.csv", "w")


def test_read_json_names_its_default_encoding(inp: Path) -> None:
    (inp / "pred.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(AutoScorerError) as exc:
        files.read_json(inp / "pred.json", 100)
    assert error(exc)["message"].startswith("input/pred.json is not valid utf-8 at byte 7;")
