"""Log set-up: human-readable lines by default, JSON lines with ``log_format=json``.

:func:`configure_logging` puts one handler on the root logger (replacing the one
it installed before, leaving any other handler alone) and sets the level of the
``autoscorer`` loggers. Every line carries the bound ``request_id`` and
``job_id`` (see :mod:`autoscorer.logcontext`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from autoscorer.logcontext import FIELDS, current_context
from autoscorer.settings import Settings

HANDLER_NAME = "autoscorer"
# uvicorn's own loggers do not propagate; in JSON mode their handlers get our formatter
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# attributes every LogRecord has; anything else came in through ``extra=``
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", *FIELDS}
_SKIPPED_EXTRA = frozenset({"color_message"})  # uvicorn's ANSI-coloured copy of the message


def _timestamp(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _context_of(record: logging.LogRecord) -> dict[str, str | None]:
    """``request_id``/``job_id`` from the record (``extra=`` or the filter), else bound now."""
    bound = current_context()
    return {name: getattr(record, name, None) or bound[name] for name in FIELDS}


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id`` to records that do not carry them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context_of(record).items():
            setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id, job_id,
    ``exc_info`` (the formatted traceback) when there is one, and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context_of(record),
        }
        if record.exc_info:
            out["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _SKIPPED_EXTRA and not key.startswith("_"):
                out.setdefault(key, value)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2025-01-01T12:00:00.000Z INFO    autoscorer.api [request_id=… job_id=…] message``."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{k}={v}" for k, v in _context_of(record).items() if v)
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}"
        line += f" [{context}] " if context else " "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        return None


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Install the process's log handler per ``settings.log_format``/``log_level``.

    Idempotent: calling it again replaces the handler it installed before.
    ``stream`` defaults to the current ``sys.stderr``. Returns the handler.
    """
    handler: logging.Handler = logging.StreamHandler(stream) if stream else _StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(make_formatter(settings.log_format))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    logging.getLogger("autoscorer").setLevel(settings.log_level)
    if settings.log_format == "json":
        for name in UVICORN_LOGGERS:
            for other in logging.getLogger(name).handlers:
                other.setFormatter(handler.formatter)
    return handler
