"""A corpus of hostile strings into every string field of every operation.

Every operation of ``/openapi.json`` (a new one fails :func:`test_every_operation_has_a_base`
until it is added to :data:`BASES`) gets a valid base request; each string it takes
(query, path, top-level body fields, the fields of a batch's jobs, keys and values of
free-form objects) is replaced by each string of :data:`CORPUS` in turn, against
``autoscorer serve`` in a child process. Zero 5xx, the server answers ``/health``
after every operation, and its output holds no traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CORPUS = [
    "/tmp/\udb67",  # a lone surrogate (valid JSON, no valid UTF-8)
    "\ud800",
    "a\x00b",
    "\x00",
    "~unknownuser-zz/x",
    "~\u009dq",
    "~",
    "~root/.ssh/id_rsa",
    "x" * 100_000,
    "\u202eevil\u202c.py",
    "e\u0301\u0301\u0301\u0301\u0301",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "../../../../../../etc/passwd",
    "..",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2fetc",
    "CON",
    "NUL",
    "COM1.txt",
    "aux",
    "http://127.0.0.1:1/x",
    "file:///etc/passwd",
    "$(id)",
    "`id`",
    "; rm -rf / #",
    "| cat /etc/passwd",
    "a\r\nX-Injected: 1",
    "' OR 1=1 --",
    "{{7*7}}${7*7}",
    "[/bold][red]markup[/]",
    "\U0001f600" * 10,
    "",
    " ",
    "\t\n",
]
# URLs longer than this are refused by the HTTP client itself, so the corpus's long string
# goes into paths and query strings at this length (bodies get the full 100 KB).
URL_TEXT = 8_000

BASE_WS = "examples/classification"
BASES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/health"): {},
    ("GET", "/metrics"): {},
    ("GET", "/api/v1/status"): {},
    ("POST", "/api/v1/jobs"): {"json": {"workspace_path": BASE_WS, "async": True}},
    ("GET", "/api/v1/jobs"): {"params": {"task_type": "classification", "scorer": "x"}},
    ("POST", "/api/v1/jobs/batch"): {"json": {"jobs": [{"workspace_path": BASE_WS}]}},
    ("DELETE", "/api/v1/jobs/batch"): {"json": {"job_ids": ["j1"], "reason": "r"}},
    ("POST", "/api/v1/jobs/batch/status"): {"json": {"job_ids": ["j1"]}},
    ("GET", "/api/v1/jobs/{job_id}/status"): {"path": {"job_id": "j1"}},
    ("GET", "/api/v1/jobs/{job_id}/result"): {"path": {"job_id": "j1"}},
    ("GET", "/api/v1/jobs/{job_id}/logs"): {"path": {"job_id": "j1"}, "params": {"since": "x"}},
    ("DELETE", "/api/v1/jobs/{job_id}"): {"path": {"job_id": "j1"}},
    ("GET", "/api/v1/jobs/{job_id}/artifacts/{name}"): {
        "path": {"job_id": "j1", "name": "confusion_matrix"}
    },
    ("POST", "/api/v1/scorers/load"): {"json": {"file_path": "scorers/custom_scorer.py"}},
    ("POST", "/api/v1/scorers/reload"): {
        "json": {"file_path": "scorers/custom_scorer.py", "scorer_name": "custom_nlp_scorer"}
    },
    ("POST", "/api/v1/scorers/watch"): {"json": {"file_path": "scorers/custom_scorer.py"}},
    ("GET", "/api/v1/scorers/watch"): {},
    ("DELETE", "/api/v1/scorers/watch"): {"params": {"file_path": "scorers/custom_scorer.py"}},
    ("GET", "/api/v1/scorers"): {"params": {"task_type": "classification"}},
    ("GET", "/api/v1/scorers/{scorer_name}"): {
        "path": {"scorer_name": "classification_f1"},
        "params": {"version": "1.0.0"},
    },
    ("POST", "/api/v1/scorers/{scorer_name}/test"): {
        "path": {"scorer_name": "classification_f1"},
        "json": {"workspace_path": BASE_WS, "parameters": {"average": "macro"}},
    },
    ("POST", "/api/v1/workspaces/validate"): {
        "json": {"workspace_path": BASE_WS, "task_type": "classification", "scorer": "x"}
    },
    ("POST", "/api/v1/workspaces/init"): {
        "json": {"workspace_path": "new-ws", "template": "classification", "config": {}}
    },
    ("GET", "/api/v1/config"): {"params": {"section": "api"}},
    ("PUT", "/api/v1/config"): {"json": {"section": "logging", "config": {"level": "WARNING"}}},
}
FREE_FORM = {"config", "parameters"}


def variants(base: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, request) with one string of the base replaced by each corpus string."""
    for where in ("path", "params"):
        for name in base.get(where, {}):
            for text in CORPUS:
                yield f"{where}.{name}", {**base, where: {**base[where], name: text[:URL_TEXT]}}
    body = base.get("json", {})
    for name, value in body.items():
        for text in CORPUS:
            if name in FREE_FORM:
                yield f"body.{name}", {**base, "json": {**body, name: {text: text, "k": text}}}
            elif name == "jobs":
                jobs = [{**value[0], "workspace_path": text, "scorer": text, "job_id": text}]
                yield "body.jobs[0]", {**base, "json": {**body, "jobs": jobs}}
            elif name == "job_ids":
                yield f"body.{name}", {**base, "json": {**body, name: [text]}}
            elif isinstance(value, str):
                yield f"body.{name}", {**base, "json": {**body, name: text}}


def send(client: httpx.Client, method: str, path: str, request: dict[str, Any]) -> httpx.Response:
    url = path
    for name, value in request.get("path", {}).items():
        raw = value.encode("utf-8", "surrogatepass")
        url = url.replace("{" + name + "}", quote(raw, safe=""))
    params = request.get("params")
    if params:
        url += "?" + "&".join(
            f"{k}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in params.items()
        )
    content = None
    headers = {}
    if "json" in request:
        # ensure_ascii keeps lone surrogates as \\udXXX escapes: valid JSON text
        content = json.dumps(request["json"]).encode()
        headers["content-type"] = "application/json"
    return client.request(method, url, content=content, headers=headers)


@pytest.fixture(scope="module")
def hostile_server(served):
    return served(keys=True)


def test_every_operation_has_a_base(hostile_server) -> None:
    doc = httpx.get(f"{hostile_server.url}/openapi.json").json()
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ops == set(BASES), f"missing: {ops - set(BASES)}; extra: {set(BASES) - ops}"


@pytest.mark.parametrize(("method", "path"), sorted(BASES))
def test_hostile_strings_never_break_the_server(hostile_server, method: str, path: str) -> None:
    headers = hostile_server.headers
    sent = 0
    with httpx.Client(base_url=hostile_server.url, headers=headers, timeout=60) as client:
        for where, request in variants(BASES[(method, path)]):
            resp = send(client, method, path, request)
            sent += 1
            assert resp.status_code < 500, f"{method} {path} {where}: {resp.text[:500]}"
            if resp.is_redirect:  # an empty path segment: Starlette's trailing-slash redirect
                continue
            assert resp.headers["content-type"].startswith(("application/json", "text/plain"))
            if resp.status_code >= 400:
                body = resp.json()
                assert body["success"] is False and body["errors"], body
        assert client.get("/health").status_code == 200
    assert "Traceback" not in hostile_server.output(), hostile_server.output()[-3000:]
    assert sent or not (BASES[(method, path)].keys() - {"path"})


# Real argv cannot hold NUL, and undecodable bytes arrive as surrogates in U+DC80..U+DCFF.
ARGV_CORPUS = [t.replace("\x00", "") for t in CORPUS if t] + ["/tmp/\udcff\udcfe", "a\x00b"]
LOCAL_COMMANDS = [
    ["validate", "{}"],
    ["scorers", "describe", "{}"],
    ["scorers", "test", "classification_f1", "{}", "--validate-only"],
]
REMOTE_COMMANDS = [
    ["submit", "{}"],
    ["submit", "examples/classification", "--scorer", "{}", "--job-id", "{}"],
    ["status", "{}"],
    ["result", "{}"],
    ["logs", "{}"],
    ["cancel", "{}"],
    ["jobs", "--scorer", "{}", "--task-type", "{}"],
]


def test_cli_arguments_never_trace(hostile_server, tmp_path, monkeypatch) -> None:
    """Every corpus string into the CLI's arguments: a one-line error and exit 2, or success."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from typer.testing import CliRunner
    from autoscorer.cli.main import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOSCORER_SERVER", hostile_server.url)
    monkeypatch.setenv("AUTOSCORER_API_KEY", hostile_server.headers["Authorization"][7:])
    runner = CliRunner()
    for template in LOCAL_COMMANDS + REMOTE_COMMANDS:
        for text in ARGV_CORPUS:
            args = [part.replace("{}", text) for part in template]
            res = runner.invoke(app, args)
            shown = f"{template} {text[:40]!r}: exit {res.exit_code}\n{res.output[-800:]}"
            assert res.exception is None or isinstance(res.exception, SystemExit), shown
            assert "Traceback" not in res.output, shown
            assert res.exit_code in (0, 1, 2), shown
            if res.exit_code == 2 and res.stderr.startswith("error ["):
                assert res.stderr.count("\n") == 1, shown  # one line
                assert "[EXECUTION_FAILED]" not in res.stderr, shown
    assert hostile_server.healthy()
    assert "Traceback" not in hostile_server.output()
