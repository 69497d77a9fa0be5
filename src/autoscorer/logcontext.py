"""The request and job a log line belongs to, carried in context variables.

The API middleware binds ``request_id`` for each request; the job system binds
``job_id`` (and the submitting request's id) while it runs a job. Context
variables follow ``await`` and are copied into the thread pool FastAPI runs
sync endpoints in; a plain new thread starts empty and must bind its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

FIELDS = ("request_id", "job_id")

_VARS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"autoscorer_{name}", default=None) for name in FIELDS
}


def current_context() -> dict[str, str | None]:
    """The bound ``request_id`` and ``job_id`` (None when unbound)."""
    return {name: var.get() for name, var in _VARS.items()}


@contextmanager
def bind_context(**fields: str | None) -> Iterator[None]:
    """Bind ``request_id`` and/or ``job_id`` for the ``with`` block.

    Only the fields passed change; passing None unbinds one. The previous
    values come back when the block ends, even on an exception.
    """
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"bind_context() got unknown fields {sorted(unknown)}; known: {FIELDS}")
    tokens: list[tuple[ContextVar[str | None], Token[str | None]]] = [
        (_VARS[name], _VARS[name].set(value)) for name, value in fields.items()
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
