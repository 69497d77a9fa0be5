"""Settings: environment, YAML file, sections, masking, validated updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoscorer.errors import InvalidParameter
from autoscorer.settings import (
    CONFIG_ENV,
    MASK,
    ApiKey,
    Settings,
    apply_update,
    config_view,
    hash_key,
)


def test_zero_configuration_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.database_url.startswith("sqlite:///")
    assert (s.queue, s.executor, s.api_host, s.api_port) == ("inprocess", "auto", "127.0.0.1", 8000)
    assert s.workspace_roots[0] == str(tmp_path)
    assert not s.auth_enabled


def test_environment_with_deploy_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSCORER_DATABASE_URL", "postgresql+psycopg://u:pw@db:5432/x")
    monkeypatch.setenv("AUTOSCORER_WORKSPACE_ROOTS", '["/workspaces"]')
    monkeypatch.setenv("AUTOSCORER_CORS_ORIGINS", "http://a.test, http://b.test")
    monkeypatch.setenv("AUTOSCORER_EXECUTOR", "k8s")
    s = Settings()
    assert s.workspace_roots == ["/workspaces"]
    assert s.cors_origins == ["http://a.test", "http://b.test"]
    assert s.executor == "kubernetes"
    assert (
        config_view(s, "database")["database"]["url"] == f"postgresql+psycopg://u:{MASK}@db:5432/x"
    )


def test_yaml_file_sections_and_flat_keys_env_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfg = tmp_path / "autoscorer.yaml"
    cfg.write_text(
        "api:\n  port: 9100\n  workers: 3\nexecutor:\n  k8s:\n    namespace: prod\n"
        "log_format: json\n"
    )
    monkeypatch.setenv(CONFIG_ENV, str(cfg))
    monkeypatch.setenv("AUTOSCORER_API_WORKERS", "5")
    s = Settings()
    assert (s.api_port, s.api_workers, s.k8s_namespace, s.log_format) == (9100, 5, "prod", "json")


@pytest.mark.parametrize(
    ("text", "needle"),
    [("api: [1, 2\n", "not valid YAML"), ("- 1\n- 2\n", "mapping"), ("api:\n  nope: 1\n", "nope")],
)
def test_bad_yaml_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, needle: str
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    monkeypatch.setenv(CONFIG_ENV, str(cfg))
    with pytest.raises(InvalidParameter, match=needle):
        Settings()


def test_yaml_is_loaded_safely(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "evil.yaml"
    cfg.write_text("environment: !!python/object/apply:os.system ['echo pwned']\n")
    monkeypatch.setenv(CONFIG_ENV, str(cfg))
    with pytest.raises(InvalidParameter, match="not valid YAML"):
        Settings()


def test_secrets_are_masked() -> None:
    s = Settings(
        api_keys=[ApiKey(name="ci", sha256=hash_key("s3cret"), role="admin")],
        webhook_secret="hush",
        broker_url="amqp://guest:guest@127.0.0.1:5672//",
    )
    view = config_view(s)
    assert view["security"]["api_keys"] == [{"name": "ci", "role": "admin", "sha256": MASK}]
    assert view["webhooks"]["secret"] == MASK
    assert view["queue"]["broker_url"] == f"amqp://guest:{MASK}@127.0.0.1:5672//"
    assert hash_key("s3cret") not in str(view)


def test_include_defaults_false_shows_only_explicit_values() -> None:
    view = config_view(Settings(api_port=9000), "api", include_defaults=False)
    assert view == {"api": {"port": 9000}}


def test_update_reports_changes_and_restart() -> None:
    s = Settings()
    new, changes, restart = apply_update(s, "executor", {"type": "k8s", "k8s": {"enabled": True}})
    assert changes == {
        "type": {"old": "auto", "new": "kubernetes"},
        "k8s.enabled": {"old": False, "new": True},
    }
    assert new.executor == "kubernetes" and s.executor == "auto"
    assert restart is False  # both are read per submission
    _, changes, restart = apply_update(s, "api", {"port": 9001})
    assert restart is True and changes["port"] == {"old": 8000, "new": 9001}


@pytest.mark.parametrize(
    ("section", "config", "field"),
    [
        ("nope", {}, "section"),
        ("api", {"colour": "red"}, "config.colour"),
        ("api", {"port": "not a port"}, "config.api.port"),
    ],
)
def test_bad_update_changes_nothing(section: str, config: dict, field: str) -> None:
    s = Settings()
    with pytest.raises(InvalidParameter) as info:
        apply_update(s, section, config)
    assert info.value.field == field
    assert s.api_port == 8000
