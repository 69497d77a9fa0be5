"""Regression tests for issue 14's findings, and the input rules behind them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from autoscorer.errors import InvalidParameter
from autoscorer.inputs import check_api_path, local_path, tree_problem

PATH_OPERATIONS = [
    ("/api/v1/jobs", {}),
    ("/api/v1/workspaces/validate", {}),
    ("/api/v1/scorers/classification_f1/test", {}),
]


def post_raw(client: TestClient, url: str, body: str):
    # a lone surrogate is valid JSON text ("\udb67") but no valid UTF-8: sent escaped
    return client.post(url, content=body.encode(), headers={"content-type": "application/json"})


def test_a_huge_offset_is_400_not_500(h, client: TestClient) -> None:
    resp = client.get("/api/v1/jobs", params={"offset": "34632764907562421112213685288405303296"})
    h.check_error(resp, 400, "INVALID_PARAMETER", "offset")
    assert h.data_of(client.get("/api/v1/jobs", params={"offset": 2**31 - 1}))["jobs"] == []


@pytest.mark.parametrize(("url", "extra"), PATH_OPERATIONS)
@pytest.mark.parametrize("path", ["~unknownuser-zz/x", "~\u009d..", "~", "~/ws"])
def test_tilde_paths_are_400_without_a_user_lookup(h, client, url, extra, path) -> None:
    resp = client.post(url, json={"workspace_path": path, **extra})
    body = h.check_error(resp, 400, "INVALID_PARAMETER", "workspace_path")
    assert "does not expand" in body["errors"][0]["message"]


@pytest.mark.parametrize(("url", "extra"), PATH_OPERATIONS)
def test_lone_surrogates_are_400(h, client: TestClient, url: str, extra: dict) -> None:
    resp = post_raw(client, url, json.dumps({"workspace_path": "/tmp/\udb67", **extra}))
    h.check_error(resp, 400, "INVALID_PARAMETER", "workspace_path")
    resp = post_raw(client, url, '{"workspace_path": "cls", "\\udb67": 1}')
    assert resp.status_code == 400


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1/x", "http://h:99999/", "http://h:x/"])
def test_a_malformed_callback_url_is_400_not_500(h, client: TestClient, url: str) -> None:
    """Found by bench/fuzz_api.sh (urlsplit raised ValueError: a 500)."""
    resp = client.post("/api/v1/jobs", json={"workspace_path": "cls", "callback_url": url})
    h.check_error(resp, 400, "INVALID_PARAMETER", "callback_url")
    assert h.data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 0


def test_check_url_refuses_what_urlsplit_cannot_parse() -> None:
    from autoscorer.webhooks import check_url

    with pytest.raises(InvalidParameter, match="not a URL"):
        check_url("http://[::1", ["*"])


def test_a_repeated_submission_answers_the_same_way_every_time(h, client: TestClient) -> None:
    """What schemathesis saw as "Inconsistent results": a submission's replay must get a
    deterministic, documented answer (the first 200, then 409 each time; a refused body
    the same 400 each time)."""
    body = {"workspace_path": "cls", "job_id": "same-1"}
    assert h.data_of(client.post("/api/v1/jobs", json=body))["status"] == "completed"
    for _ in range(3):
        h.check_error(client.post("/api/v1/jobs", json=body), 409, "CONFLICT", "job_id")
    bad = {"workspace_path": "~nobody", "job_id": "same-2"}
    for _ in range(3):
        h.check_error(client.post("/api/v1/jobs", json=bad), 400, "INVALID_PARAMETER")
    assert h.data_of(client.get("/api/v1/jobs"))["pagination"]["total"] == 1


def test_numbers_and_nested_text_are_bounded(h, client: TestClient) -> None:
    nan = post_raw(
        client, "/api/v1/jobs", '{"workspace_path": "cls", "config": {"time_limit": NaN}}'
    )
    h.check_error(nan, 400, "INVALID_PARAMETER", "config.time_limit")
    deep = {"workspace_path": "cls", "parameters": {"a": {"b": "x\x00"}}}
    resp = client.post("/api/v1/scorers/classification_f1/test", json=deep)
    h.check_error(resp, 400, "INVALID_PARAMETER", "parameters")
    huge = {"workspace_path": "cls", "parameters": {"a": 2**70}}
    resp = client.post("/api/v1/scorers/classification_f1/test", json=huge)
    h.check_error(resp, 400, "INVALID_PARAMETER", "parameters")


def test_local_paths_expand_only_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert local_path("~/ws") == tmp_path / "ws"
    assert local_path("~") == tmp_path
    for bad in ("~unknownuser-zz/x", "a\x00b", "/tmp/\udcff", "x" * 300):
        with pytest.raises(InvalidParameter):
            local_path(bad, "workspace_path")
    monkeypatch.delenv("HOME")
    with pytest.raises(InvalidParameter, match="HOME"):
        local_path("~/ws")


def test_api_path_and_tree_rules() -> None:
    assert check_api_path("/srv/ws/a", "p") == "/srv/ws/a"
    for bad in ("", "~x", "a\x00", "/tmp/\udb67", "a/" + "b" * 256):
        with pytest.raises(InvalidParameter):
            check_api_path(bad, "p")
    assert tree_problem({"a": [1, 2.5, "x", None, {"b": True}]}) is None
    nested: dict = {}
    node = nested
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    assert "levels" in (tree_problem(nested) or "")
    assert tree_problem({"a": float("inf")})
