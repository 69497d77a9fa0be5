"""Loading scorer files, reloading on change, keeping the old version on failure, hot reload."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autoscorer.errors import Conflict, InvalidParameter, ResourceNotFound
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.loader import LoadFailed, ScorerLoader, load_data, reload_data
from autoscorer.scorers.registry import Registry, ensure_builtins
from autoscorer.scorers.watcher import Watcher, load_and_watch


def scorer_source(
    name: str = "file_scorer", version: str = "1.0.0", value: float = 1.0, extra: str = ""
) -> str:
    return (
        textwrap.dedent(f"""
        from dataclasses import dataclass

        from autoscorer.scorers.base import ScoreOutput, Scorer
        from autoscorer.scorers.registry import register_scorer


        @dataclass
        class Box:  # dataclasses need the module in sys.modules
            value: float


        @register_scorer
        class FileScorer(Scorer):
            name = "{name}"
            version = "{version}"
            primary_metric = "m"

            def evaluate(self, ctx):
                return ScoreOutput(metrics={{"m": Box({value}).value}})
    """)
        + extra
    )


@pytest.fixture
def loader() -> ScorerLoader:
    return ScorerLoader(Registry())


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    def put(text: str, name: str = "custom.py") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return put


def test_load_registers_the_files_scorers(loader: ScorerLoader, write: Callable[..., Path]) -> None:
    path = write(scorer_source())
    loaded = loader.load_file(path)
    assert [(e["name"], e["version"], e["file_path"]) for e in loaded] == [
        ("file_scorer", "1.0.0", str(path))
    ]
    cls = loader.registry.get("file_scorer")
    assert loader.registry.info("file_scorer")["source"] == str(path)
    assert cls.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()  # type: ignore[attr-defined]
    assert load_data(loaded, watch_enabled=False) == {
        "loaded_scorers": loaded,
        "watch_enabled": False,
        "total_loaded": 1,
    }
    assert not (path.parent / "__pycache__").exists()  # no bytecode written next to user code


def test_unchanged_file_is_not_reimported(loader: ScorerLoader, write: Callable[..., Path]) -> None:
    path = write(scorer_source())
    loader.load_file(path)
    cls = loader.registry.get("file_scorer")
    assert loader.reload_file(path) == []
    assert loader.load_file(path)[0]["version"] == "1.0.0"
    assert loader.registry.get("file_scorer") is cls
    forced = loader.reload_file(path, force=True)
    assert [(r["old_version"], r["new_version"]) for r in forced] == [("1.0.0", "1.0.0")]
    assert loader.registry.get("file_scorer") is not cls


def test_edit_then_reload_swaps_the_new_version_in(
    loader: ScorerLoader, write: Callable[..., Path]
) -> None:
    path = write(scorer_source())
    loader.load_file(path)
    old_module = loader.registry.get("file_scorer").__module__
    write(scorer_source(version="1.1.0", value=0.25))
    reloaded = loader.reload_file(path)
    assert [(r["name"], r["old_version"], r["new_version"]) for r in reloaded] == [
        ("file_scorer", "1.0.0", "1.1.0")
    ]
    assert reloaded[0]["reloaded_at"].endswith("Z")
    assert reload_data(reloaded)["total_reloaded"] == 1
    assert loader.registry.get("file_scorer").version == "1.1.0"
    assert old_module not in sys.modules  # the replaced module is released


@pytest.mark.parametrize(
    ("broken", "error_type", "line_text"),
    [
        ("def broken(:\n", "SyntaxError", "def broken(:"),
        ("raise RuntimeError('bad config')\n", "RuntimeError", "raise RuntimeError"),
        ("import sys\nsys.exit(3)\n", "SystemExit", "sys.exit(3)"),
    ],
)
def test_broken_edit_keeps_the_old_version_and_says_where(
    loader: ScorerLoader, write: Callable[..., Path], broken: str, error_type: str, line_text: str
) -> None:
    path = write(scorer_source())
    loader.load_file(path)
    old = loader.registry.get("file_scorer")
    write(scorer_source(version="2.0.0", extra=broken))
    with pytest.raises(LoadFailed) as info:
        loader.reload_file(path)
    err = info.value
    line = err.details["line"]
    assert path.read_text().splitlines()[line - 1].strip().startswith(line_text)
    assert err.details["error_type"] == error_type
    assert err.details["kept"] == {"file_scorer": "1.0.0"}
    assert f"{path}:{line}: {error_type}" in err.message
    assert "still serving the previous version of file_scorer" in err.message
    assert loader.registry.get("file_scorer") is old
    write(scorer_source(version="2.0.1"))  # fixed: the next reload works
    assert loader.reload_file(path)[0]["new_version"] == "2.0.1"


def test_file_without_scorers_or_with_invalid_ones_is_refused(
    loader: ScorerLoader, write: Callable[..., Path]
) -> None:
    with pytest.raises(LoadFailed, match="registers no scorer"):
        loader.load_file(write("x = 1\n", "empty.py"))
    invalid = scorer_source().replace('primary_metric = "m"', "")
    with pytest.raises(LoadFailed, match="must set 'primary_metric'"):
        loader.load_file(write(invalid, "invalid.py"))
    assert loader.registry.names() == [] and loader.loaded_files() == []


def test_a_file_loads_all_or_nothing(loader: ScorerLoader, write: Callable[..., Path]) -> None:
    loader.load_file(write(scorer_source("taken"), "first.py"))
    two = scorer_source("fresh") + scorer_source("taken").split("\n", 1)[1].replace(
        "class FileScorer", "class Other"
    )
    with pytest.raises(Conflict, match="already registered from") as info:
        loader.load_file(write(two, "second.py"))
    assert info.value.details["names"] == ["taken"]
    assert "fresh" not in loader.registry


def test_builtin_names_cannot_be_taken(write: Callable[..., Path]) -> None:
    loader = ScorerLoader()  # the default registry, with the built-ins
    with pytest.raises(Conflict, match="builtin"):
        loader.load_file(write(scorer_source("classification_f1")))
    assert ensure_builtins().info("classification_f1")["source"] == "builtin"


def test_reload_one_scorer_by_name(loader: ScorerLoader, write: Callable[..., Path]) -> None:
    def two(version: str) -> str:
        a = scorer_source("one", version)
        b = scorer_source("two", version).split("\n", 1)[1].replace("class FileScorer", "class B")
        return a + b

    path = write(two("1.0.0"))
    loader.load_file(path)
    write(two("2.0.0"))
    assert [r["name"] for r in loader.reload_file(path, scorer_name="two")] == ["two"]
    assert loader.registry.get("one").version == "1.0.0"
    assert loader.registry.get("two").version == "2.0.0"
    assert [r["name"] for r in loader.reload_file(path)] == ["one"]  # "two" is up to date
    with pytest.raises(InvalidParameter, match="defines no scorer named 'three'"):
        loader.reload_file(path, scorer_name="three", force=True)


def test_a_scorer_removed_from_the_file_is_unregistered(
    loader: ScorerLoader, write: Callable[..., Path]
) -> None:
    path = write(scorer_source("old_name"))
    loader.load_file(path)
    write(scorer_source("new_name", "1.0.1"))
    changes = {r["name"]: (r["old_version"], r["new_version"]) for r in loader.reload_file(path)}
    assert changes == {"old_name": ("1.0.0", None), "new_name": (None, "1.0.1")}
    assert loader.registry.names() == ["new_name"]


def test_reloading_a_file_not_loaded_yet_loads_it(
    loader: ScorerLoader, write: Callable[..., Path]
) -> None:
    path = write(scorer_source())
    assert [(r["old_version"], r["new_version"]) for r in loader.reload_file(path)] == [
        (None, "1.0.0")
    ]
    assert loader.unload_file(path) == ["file_scorer"] and "file_scorer" not in loader.registry


def test_bad_paths(loader: ScorerLoader, tmp_path: Path) -> None:
    with pytest.raises(ResourceNotFound, match="does not exist"):
        loader.load_file(tmp_path / "missing.py")
    (tmp_path / "scorer.txt").write_text("x")
    with pytest.raises(InvalidParameter, match="must be a Python file"):
        loader.load_file(tmp_path / "scorer.txt")


@pytest.fixture
def default_loaded(write: Callable[..., Path]) -> Iterator[tuple[ScorerLoader, Path]]:
    """A file loaded into the default registry (so score() sees it), unloaded afterwards."""
    loader = ScorerLoader()
    path = write(scorer_source("test_loader_scored"), "scored.py")
    loader.load_file(path)
    yield loader, path
    loader.unload_file(path)


def test_score_uses_the_live_version_and_its_provenance(
    default_loaded: tuple[ScorerLoader, Path], tmp_path: Path
) -> None:
    loader, path = default_loaded
    ws = tmp_path / "ws"
    for d in ("input", "output"):
        (ws / d).mkdir(parents=True)
    (ws / "input" / "gt.csv").write_text("id\n1\n")
    (ws / "output" / "pred.csv").write_text("id\n1\n")
    (ws / "meta.json").write_text(json.dumps({"scorer": "test_loader_scored"}))
    first_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert score(ws).metrics == {"m": 1.0}

    path.write_text(scorer_source("test_loader_scored", "1.1.0", value=0.5))
    loader.reload_file(path)
    result = score(ws)
    assert result.metrics == {"m": 0.5} and result.versioning.version == "1.1.0"
    good_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.provenance.scorer_source_sha256 == good_hash != first_hash

    path.write_text("this is not python")
    with pytest.raises(LoadFailed):
        loader.reload_file(path)
    kept = score(ws)  # the old version keeps serving, and says which source it ran
    assert kept.metrics == {"m": 0.5}
    assert kept.provenance.scorer_source_sha256 == good_hash


@pytest.fixture
def watcher(loader: ScorerLoader) -> Iterator[Watcher]:
    events: list[dict[str, object]] = []
    w = Watcher(loader, on_event=events.append)
    w.events = events  # type: ignore[attr-defined]
    yield w
    w.stop_all()


def _wait_for(predicate: Callable[[], bool], timeout: float = 8.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
    return time.monotonic() - start


def test_watcher_hot_reloads_and_survives_a_broken_edit(
    watcher: Watcher, write: Callable[..., Path]
) -> None:
    path = write(scorer_source())
    data = load_and_watch(path, auto_watch=True, check_interval=0.2, watcher=watcher)
    assert data["watch_enabled"] is True and data["total_loaded"] == 1
    registry = watcher.loader.registry
    _wait_for(lambda: watcher.status()["watched_files"][0]["last_check"] is not None)

    write(scorer_source(version="1.1.0"))
    assert _wait_for(lambda: registry.get("file_scorer").version == "1.1.0") < 5

    write(scorer_source(version="1.2.0", extra="1 / 0\n"))
    _wait_for(lambda: watcher.status()["watched_files"][0]["last_error"] is not None)
    status = watcher.status()["watched_files"][0]
    assert "ZeroDivisionError" in status["last_error"]["message"]
    assert registry.get("file_scorer").version == "1.1.0"  # old one still serving

    tmp = path.with_suffix(".tmp")  # an editor's atomic save: write elsewhere, rename over
    tmp.write_text(scorer_source(version="1.3.0"))
    os.replace(tmp, path)
    _wait_for(lambda: registry.get("file_scorer").version == "1.3.0")
    status = watcher.status()["watched_files"][0]
    assert status["total_reloads"] == 2 and status["last_error"] is None
    assert [e["event"] for e in watcher.events] == ["reloaded", "failed", "reloaded"]  # type: ignore[attr-defined]


def test_watch_start_stop_status(watcher: Watcher, write: Callable[..., Path]) -> None:
    path = write(scorer_source())
    started = watcher.start(path, check_interval=0.5)
    assert started["watch_started"] is True and started["file_path"] == str(path)
    assert watcher.start(path, check_interval=0.5)["watch_started"] is False
    status = watcher.status()
    assert status["total_watched"] == 1
    assert set(status["watched_files"][0]) == {
        "file_path",
        "check_interval",
        "started_at",
        "last_check",
        "total_reloads",
        "last_error",
    }
    stopped = watcher.stop(path)
    assert stopped["watch_stopped"] is True and stopped["stopped_at"].endswith("Z")
    assert watcher.status() == {"watched_files": [], "total_watched": 0}
    with pytest.raises(ResourceNotFound, match="not being watched"):
        watcher.stop(path)
    with pytest.raises(InvalidParameter, match="check_interval"):
        watcher.start(path, check_interval=0)


def test_load_and_watch_refuses_a_bad_interval_before_loading(
    watcher: Watcher, write: Callable[..., Path]
) -> None:
    path = write(scorer_source())
    with pytest.raises(InvalidParameter):
        load_and_watch(path, auto_watch=True, check_interval=-1, watcher=watcher)
    assert watcher.loader.registry.names() == []


def test_reloads_do_not_accumulate_modules(
    loader: ScorerLoader, write: Callable[..., Path]
) -> None:
    def ours() -> list[str]:
        return [m for m in sys.modules if m.startswith("_autoscorer_custom_leakcheck_")]

    path = write(scorer_source(), "leakcheck.py")
    loader.load_file(path)
    for i in range(3):
        write(scorer_source(version=f"1.0.{i + 1}"), "leakcheck.py")
        loader.reload_file(path)
        loader.reload_file(path, force=True)
        write("broken(", "leakcheck.py")
        with pytest.raises(LoadFailed):
            loader.reload_file(path)
    assert len(ours()) == 1
    loader.unload_file(path)
    assert ours() == []
