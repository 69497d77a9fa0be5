"""Structured logs: the JSON and text formatters, the request/job context, and the
request id of a real API call reaching the log lines written while serving it."""

from __future__ import annotations

import io
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from autoscorer.api.main import create_app
from autoscorer.logcontext import bind_context, current_context
from autoscorer.observability import JsonFormatter, TextFormatter, configure_logging
from autoscorer.observability.logs import HANDLER_NAME
from autoscorer.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

log = logging.getLogger("autoscorer.tests.logging")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("autoscorer")
    handlers, level = list(root.handlers), ours.level
    yield
    root.handlers[:] = handlers
    ours.setLevel(level)


def record(message: str, *, exc: bool = False, **extra: Any) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad value")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    rec = logging.LogRecord("autoscorer.x", logging.ERROR, __file__, 1, message, (), exc_info)
    rec.__dict__.update(extra)
    return rec


def test_json_line_has_every_field() -> None:
    with bind_context(request_id="req_1", job_id="job-1"):
        line = JsonFormatter().format(record("scored %s", exc=True))
    out = json.loads(line)
    assert out["message"] == "scored %s" and out["level"] == "ERROR"
    assert out["logger"] == "autoscorer.x"
    assert out["request_id"] == "req_1" and out["job_id"] == "job-1"
    assert out["timestamp"].endswith("Z") and "T" in out["timestamp"]
    assert out["exc_type"] == "ValueError" and "bad value" in out["exc_info"]
    assert "\n" not in line


def test_json_without_context_has_nulls_and_keeps_extra_fields() -> None:
    rec = record("m", queue="gpu", job_id="from-extra", color_message="\x1b[36mm")
    out = json.loads(JsonFormatter().format(rec))
    assert out["request_id"] is None and out["job_id"] == "from-extra"
    assert out["queue"] == "gpu" and "exc_info" not in out and "color_message" not in out


def test_text_line_shows_the_context() -> None:
    with bind_context(job_id="job-7"):
        line = TextFormatter().format(record("running"))
    assert "ERROR" in line and "autoscorer.x" in line and line.endswith("[job_id=job-7] running")
    assert "[" not in TextFormatter().format(record("plain"))


def test_bind_context_nests_resets_and_rejects_unknown_fields() -> None:
    assert current_context() == {"request_id": None, "job_id": None}
    with bind_context(request_id="r"):
        with bind_context(job_id="j"):
            assert current_context() == {"request_id": "r", "job_id": "j"}
        with bind_context(request_id=None):
            assert current_context()["request_id"] is None
        assert current_context() == {"request_id": "r", "job_id": None}
    assert current_context() == {"request_id": None, "job_id": None}
    with pytest.raises(TypeError, match="worker"), bind_context(worker="w"):
        pass


def test_threads_have_their_own_context() -> None:
    seen: list[dict[str, str | None]] = []
    with bind_context(request_id="main"):
        t = threading.Thread(target=lambda: seen.append(current_context()))
        t.start()
        t.join()
    assert seen == [{"request_id": None, "job_id": None}]


def test_configure_logging_is_idempotent_and_sets_the_level() -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="text"))
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=stream)
    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    assert logging.getLogger("autoscorer").level == logging.DEBUG
    with bind_context(job_id="job-9"):
        log.debug("debug line")
    logging.getLogger("somelib").info("below the root level: not written")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [(x["message"], x["job_id"]) for x in lines] == [("debug line", "job-9")]


def _app_with_logging_routes(tmp_path: Path) -> FastAPI:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'jobs.db'}", executor="local", log_format="json"
    )
    app = create_app(settings)

    @app.get("/log-async")
    async def log_async() -> dict[str, str]:
        log.info("async handler")
        return {}

    @app.get("/log-sync")
    def log_sync() -> dict[str, str]:  # runs in the thread pool
        log.warning("sync handler")
        return {}

    return app


def test_request_id_of_an_api_call_is_in_its_log_lines(tmp_path: Path) -> None:
    app = _app_with_logging_routes(tmp_path)
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    with TestClient(app) as client:
        sent = client.get("/log-async", headers={"X-Request-ID": "req-from-client"})
        picked = client.get("/log-sync")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    by_message = {x["message"]: x for x in lines}
    assert sent.headers["x-request-id"] == "req-from-client"
    assert by_message["async handler"]["request_id"] == "req-from-client"
    assert by_message["sync handler"]["request_id"] == picked.headers["x-request-id"]
    assert by_message["sync handler"]["request_id"].startswith("req_")
    assert current_context()["request_id"] is None  # nothing leaks out of the request


def test_request_id_is_on_records_other_handlers_capture(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app_with_logging_routes(tmp_path)
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="autoscorer"):
        client.get("/log-async", headers={"X-Request-ID": "req-caplog"})
    (rec,) = [r for r in caplog.records if r.getMessage() == "async handler"]
    assert getattr(rec, "request_id", None) == "req-caplog"
