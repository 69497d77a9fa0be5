"""``auto``: Docker when an engine answers, otherwise local with a logged warning."""

from __future__ import annotations

import logging
from typing import Any

from autoscorer.errors import ExecutorUnavailable
from autoscorer.executors.base import Executor

logger = logging.getLogger("autoscorer.executors")


def auto_executor(
    *, docker: dict[str, Any] | None = None, local: dict[str, Any] | None = None
) -> Executor:
    """A :class:`DockerExecutor` if possible, else a :class:`LocalExecutor`.

    ``docker`` and ``local`` are the keyword options of each backend.
    """
    try:
        from autoscorer.executors.docker import DockerExecutor

        return DockerExecutor(**(docker or {}))
    except (ImportError, ExecutorUnavailable) as exc:
        reason = exc.message if isinstance(exc, ExecutorUnavailable) else f"{exc}"
        logger.warning("Docker is not usable (%s); falling back to the local executor", reason)
    from autoscorer.executors.local import LocalExecutor

    return LocalExecutor(**(local or {}))
