"""The job hooks every executor shares: time-out, log capture, resource sampling, run info.

Middleware instances are shared by concurrent runs, so per-run state lives in
``run.scratch``, never on ``self``.
"""

from __future__ import annotations

import collections
import json
import os
import threading
from pathlib import Path

from autoscorer.executors.base import Middleware, Run
from autoscorer.executors.outcome import RunOutcome
from autoscorer.workspace import safeio

CONTAINER_LOG = "container.log"
RUN_INFO = "run_info.json"


class TimeLimit(Middleware):
    """Kill the sandbox once it has run ``spec.time_limit`` seconds."""

    def on_tick(self, run: Run) -> None:
        if run.elapsed > run.spec.time_limit:
            run.stop("timeout")


def open_log(root: Path, name: str) -> int:
    """A fresh descriptor for ``logs/name``; a planted symlink is removed, never followed.

    ``logs/`` itself is opened without following links (it is the sandbox's to write).
    """
    with safeio.open_dir(root, "logs", create=True) as fd:
        return safeio.create_fresh(fd, name)


class _LogPump:
    """Copies a sandbox's output into a file, keeping the tail in memory."""

    def __init__(self, fd: int, max_bytes: int, tail_bytes: int) -> None:
        self.fd, self.max_bytes = fd, max_bytes
        self.written = 0
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_size, self.tail_bytes = 0, tail_bytes
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        room = self.max_bytes - self.written
        if room > 0:
            os.write(self.fd, chunk[:room])
            self.written += min(room, len(chunk))
        elif not self.truncated:
            self.truncated = True
            os.write(self.fd, b"\n[autoscorer: log truncated at the size limit]\n")
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size - len(self.tail[0]) >= self.tail_bytes:
            self.tail_size -= len(self.tail.popleft())

    def tail_text(self, lines: int) -> str:
        text = b"".join(self.tail).decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


class _LineFeed:
    """Splits a sandbox's output into lines for the job's log, as they are printed.

    At most ``max_lines`` lines of at most ``max_chars`` each: the whole output stays in
    ``logs/container.log``; the job's log (what a followed ``/logs`` streams) gets its start.
    """

    def __init__(self, run: Run, max_lines: int = 1000, max_chars: int = 2000) -> None:
        self.run, self.max_lines, self.max_chars = run, max_lines, max_chars
        self.buffer, self.sent = b"", 0

    def feed(self, chunk: bytes) -> None:
        if self.sent > self.max_lines:
            return
        *lines, self.buffer = (self.buffer + chunk).split(b"\n")
        if len(self.buffer) > self.max_chars:  # a line without end: cut it here
            lines.append(self.buffer)
            self.buffer = b""
        for line in lines:
            self._send(line)

    def close(self) -> None:
        if self.buffer:
            self._send(self.buffer)
            self.buffer = b""

    def _send(self, line: bytes) -> None:
        if self.sent == self.max_lines:
            self.run.output(f"[more output in logs/{CONTAINER_LOG}]")
        elif self.sent < self.max_lines:
            text = line.decode("utf-8", "replace").rstrip("\r")
            self.run.output(text[: self.max_chars])
        self.sent += 1


class LogCapture(Middleware):
    """Stream the sandbox's output to ``logs/container.log`` and keep its tail."""

    def __init__(
        self, max_bytes: int = 10 * 1024**2, tail_lines: int = 50, drain_timeout: float = 5.0
    ) -> None:
        self.max_bytes, self.tail_lines, self.drain_timeout = max_bytes, tail_lines, drain_timeout

    def after_start(self, run: Run) -> None:
        assert run.sandbox is not None
        fd = open_log(run.spec.workspace.root, CONTAINER_LOG)
        pump = _LogPump(fd, self.max_bytes, tail_bytes=64 * 1024)
        thread = threading.Thread(
            target=self._pump, args=(run, pump), name=f"logs-{run.spec.job_id}", daemon=True
        )
        run.scratch["logs"] = (pump, thread)
        thread.start()

    @staticmethod
    def _pump(run: Run, pump: _LogPump) -> None:
        assert run.sandbox is not None
        lines = _LineFeed(run)
        try:
            for chunk in run.sandbox.logs():
                pump.feed(chunk)
                lines.feed(chunk)
        except Exception as exc:  # a broken stream must not hide the run's outcome
            run.log("WARNING", f"log stream ended early: {exc}")
        lines.close()

    def after_stop(self, run: Run) -> None:
        entry = run.scratch.pop("logs", None)
        if entry is None:
            return
        pump, thread = entry
        thread.join(self.drain_timeout)
        run.log_tail = pump.tail_text(self.tail_lines)
        run.extra["log_bytes"] = pump.written
        os.close(pump.fd)


class ResourceSampler(Middleware):
    """Record peak CPU (cores) and memory (bytes) from the sandbox's stats stream."""

    def after_start(self, run: Run) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._sample, args=(run, stop), name=f"stats-{run.spec.job_id}", daemon=True
        )
        run.scratch["stats"] = (stop, thread)
        thread.start()

    @staticmethod
    def _sample(run: Run, stop: threading.Event) -> None:
        assert run.sandbox is not None
        try:
            for sample in run.sandbox.stats():
                if stop.is_set():
                    return
                run.last_sample = sample
                if sample.cpu is not None:
                    run.peak_cpu = max(run.peak_cpu or 0.0, round(sample.cpu, 3))
                if sample.memory is not None:
                    run.peak_memory = max(run.peak_memory or 0, sample.memory)
                if sample.disk_io is not None:  # a running total: the latest is the largest
                    run.disk_io = max(run.disk_io or 0, sample.disk_io)
        except Exception as exc:  # sampling is best effort
            run.log("DEBUG", f"resource sampling stopped: {exc}")

    def after_stop(self, run: Run) -> None:
        entry = run.scratch.pop("stats", None)
        if entry is not None:
            # no join: a stats stream can block until the engine's next sample (~1 s); the
            # flag keeps a late sample out, and the daemon thread ends with its stream
            entry[0].set()


class RunInfoWriter(Middleware):
    """Write ``logs/run_info.json`` atomically (a planted symlink is replaced, not followed)."""

    def after_run(self, run: Run, outcome: RunOutcome) -> None:
        data = json.dumps(outcome.to_run_info(), indent=2, ensure_ascii=False, default=str)
        try:
            with safeio.open_dir(run.spec.workspace.root, "logs") as fd:
                safeio.write_atomic(fd, RUN_INFO, data.encode("utf-8"), mode=0o644)
        except FileNotFoundError:
            return  # no logs/ (the run never got that far)


def default_middleware() -> list[Middleware]:
    """Time-out, log capture, resource sampling and run info, in that order."""
    return [TimeLimit(), LogCapture(), ResourceSampler(), RunInfoWriter()]
