"""The scorer registry: register, duplicates, unregister, get, replace, decorator, entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoscorer.errors import Conflict, ScorerNotFound
from autoscorer.scorers.base import ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.registry import (
    RegistrationError,
    Registry,
    collecting,
    register_scorer,
    registry,
)


class Alpha(Scorer):
    name = "alpha"
    version = "1.0.0"
    primary_metric = "m"

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        return ScoreOutput(metrics={"m": 1.0})


class AlphaV2(Alpha):
    version = "2.0.0"


class Beta(Alpha):
    name = "beta"


def test_register_get_names_info() -> None:
    reg = Registry()
    assert reg.register(Alpha) is Alpha
    reg.register(Beta, source="/x/beta.py")
    assert reg.get("alpha") is Alpha and reg.names() == ["alpha", "beta"]
    assert "beta" in reg and len(reg) == 2
    assert reg.info("alpha")["source"] == "builtin"
    assert reg.info("beta")["source"] == "/x/beta.py"
    assert reg.info("beta")["registered_at"].startswith("20")


def test_duplicate_name_is_a_conflict_and_keeps_the_first() -> None:
    reg = Registry()
    reg.register(Alpha)
    with pytest.raises(Conflict, match="'alpha' is already registered"):
        reg.register(AlphaV2)
    assert reg.get("alpha") is Alpha


def test_unregister_returns_what_it_removed() -> None:
    reg = Registry()
    reg.register(Alpha)
    assert reg.unregister("alpha") is Alpha
    assert reg.unregister("alpha") is None
    assert reg.names() == []


def test_get_unknown_lists_available_names() -> None:
    reg = Registry()
    reg.register(Alpha)
    reg.register(Beta)
    with pytest.raises(ScorerNotFound) as info:
        reg.get("gamma")
    assert info.value.details == {"provided": "gamma", "available": ["alpha", "beta"]}
    assert "available: alpha, beta" in info.value.message
    assert info.value.http_status == 404


def test_replace_swaps_atomically_and_returns_the_old_class() -> None:
    reg = Registry()
    reg.register(Alpha)
    assert reg.replace(AlphaV2, source="file.py") is Alpha
    assert reg.get("alpha").version == "2.0.0"
    assert reg.info("alpha")["source"] == "file.py"


class _NoMetric(Scorer):
    name = "no_metric"

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        return ScoreOutput(metrics={})


class _NoEvaluate(Scorer):  # type: ignore[misc]  # abstract on purpose
    name = "no_evaluate"
    primary_metric = "m"


@pytest.mark.parametrize(
    ("plugin", "reason"),
    [
        (object, "is not a Scorer subclass"),
        (_NoMetric, "must set 'primary_metric'"),
        (_NoEvaluate, "does not implement evaluate()"),
    ],
)
def test_invalid_classes_are_refused_with_the_plugin(plugin: object, reason: str) -> None:
    reg = Registry()
    with pytest.raises(RegistrationError, match=reason) as info:
        reg.register(plugin)  # type: ignore[arg-type]
    assert info.value.plugin is plugin
    assert info.value.code == "INVALID_PARAMETER"
    assert reg.names() == []


def test_decorator_registers_in_the_default_registry() -> None:
    @register_scorer
    class Decorated(Alpha):
        name = "test_registry_decorated"

    try:
        assert registry.get("test_registry_decorated") is Decorated
    finally:
        registry.unregister("test_registry_decorated")


def test_collecting_gathers_classes_without_registering() -> None:
    def define() -> None:
        @register_scorer
        class Collected(Alpha):
            name = "test_registry_collected"

    found = collecting(define)
    assert [c.name for c in found] == ["test_registry_collected"]
    assert "test_registry_collected" not in registry


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installed distribution (dist-info on sys.path) advertising two scorers, one broken."""
    pkg = "fake_autoscorer_plugin"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text(
        textwrap.dedent("""
        from autoscorer.scorers.base import ScoreOutput, Scorer

        class PluginScorer(Scorer):
            name = "plugin_scorer"
            version = "0.3.0"
            primary_metric = "m"

            def evaluate(self, ctx):
                return ScoreOutput(metrics={"m": 0.5})
    """)
    )
    dist = tmp_path / "fake_autoscorer_plugin-0.3.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-autoscorer-plugin\nVersion: 0.3.0\n"
    )
    (dist / "entry_points.txt").write_text(
        f"[autoscorer.scorers]\nplugin = {pkg}:PluginScorer\nbroken = {pkg}:DoesNotExist\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    sys.modules.pop(pkg, None)


def test_entry_points_are_discovered_and_a_broken_one_is_skipped(fake_distribution: str) -> None:
    reg = Registry()
    assert reg.load_entry_points() == ["plugin_scorer"]
    cls = reg.get("plugin_scorer")
    assert cls.version == "0.3.0"
    assert reg.info("plugin_scorer")["source"] == f"entry_point:{fake_distribution}:PluginScorer"
    assert "AttributeError" in reg.entry_point_errors[f"{fake_distribution}:DoesNotExist"]
    assert reg.load_entry_points() == []  # already there: not registered twice


def test_entry_point_does_not_shadow_an_existing_scorer(fake_distribution: str) -> None:
    class Mine(Alpha):
        name = "plugin_scorer"

    reg = Registry()
    reg.register(Mine)
    assert reg.load_entry_points() == []
    assert reg.get("plugin_scorer") is Mine
