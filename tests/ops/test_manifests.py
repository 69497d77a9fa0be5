"""Schema check of deploy/k8s against the Kubernetes API models.

kubeconform is not installable here, so every manifest is walked against the
typed models of the official ``kubernetes`` client (the OpenAPI schema they are
generated from): unknown fields, wrong types and missing required fields fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes = pytest.importorskip("kubernetes")
models = kubernetes.client.models

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PRIMITIVES: dict[str, Any] = {
    "str": str,
    "int": int,
    "bool": bool,
    "float": (int, float),
    "object": object,
    "datetime": str,
}


def _model_name(api_version: str, kind: str) -> str:
    """``apps/v1`` + ``Deployment`` -> ``V1Deployment`` (the client's naming)."""
    return f"{api_version.rpartition('/')[2].capitalize()}{kind}"


def _check(value: Any, type_name: str, path: str) -> None:
    if value is None:
        return
    m = re.fullmatch(r"(?:list|List)\[(.+)\]", type_name)
    if m:
        assert isinstance(value, list), f"{path}: expected a list"
        for i, item in enumerate(value):
            _check(item, m.group(1), f"{path}[{i}]")
        return
    m = re.fullmatch(r"(?:dict\(str, (.+)\)|Dict\[str, (.+)\])", type_name)
    if m:
        assert isinstance(value, dict), f"{path}: expected a mapping"
        for k, v in value.items():
            _check(v, m.group(1) or m.group(2), f"{path}.{k}")
        return
    if type_name in PRIMITIVES:
        assert isinstance(value, PRIMITIVES[type_name]), f"{path}: expected {type_name}"
        return
    _check_model(value, getattr(models, type_name), path)


def _check_model(value: Any, cls: type, path: str) -> None:
    assert isinstance(value, dict), f"{path}: expected an object ({cls.__name__})"
    by_json = {v: k for k, v in cls.attribute_map.items()}
    unknown = set(value) - set(by_json)
    assert not unknown, f"{path}: unknown field(s) {sorted(unknown)} for {cls.__name__}"
    for key, val in value.items():
        if cls.__name__ == "V1ObjectMeta" and key in ("labels", "annotations"):
            assert all(isinstance(v, str) for v in val.values()), f"{path}.{key}: strings only"
            continue
        _check(val, cls.openapi_types[by_json[key]], f"{path}.{key}")
    kwargs = {by_json[k]: v for k, v in value.items()}
    cls(**kwargs)  # the generated constructors reject missing required fields


def _documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for f in sorted(K8S.glob("*.yaml")):
        if f.name == "kustomization.yaml":
            continue
        docs += [(f"{f.name}#{i}", d) for i, d in enumerate(yaml.safe_load_all(f.read_text())) if d]
    return docs


@pytest.mark.parametrize(("name", "doc"), _documents(), ids=[n for n, _ in _documents()])
def test_manifest_matches_the_api_schema(name: str, doc: dict[str, Any]) -> None:
    cls = getattr(models, _model_name(doc["apiVersion"], doc["kind"]))
    _check_model(doc, cls, name)


def test_kustomization_lists_every_manifest() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {f.name for f in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kust["resources"]) == files


def test_worker_rbac_allows_what_the_executor_does() -> None:
    role = next(d for _, d in _documents() if d["kind"] == "Role")
    rules = {
        (r["apiGroups"][0], res): set(r["verbs"]) for r in role["rules"] for res in r["resources"]
    }
    assert {"create", "get", "delete"} <= rules[("batch", "jobs")]
    assert "get" in rules[("", "pods/log")]


def test_a_wrong_field_is_caught() -> None:
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    with pytest.raises(AssertionError, match="portz"):
        _check_model(bad, models.V1Service, "bad")
