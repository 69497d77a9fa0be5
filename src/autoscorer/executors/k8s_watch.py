"""Following one Job and its pod with the Kubernetes watch API.

Two threads, one per object, each ``watch`` its collection narrowed to the run
(``fieldSelector=metadata.name=<job>``, ``labelSelector=job-name=<job>``) from a
``resourceVersion``: the Job's creation version at first, so the normal path
makes no read request at all. Events arrive as they happen (JSON lines of
ADDED/MODIFIED/DELETED, BOOKMARK to move the version on). A watch the server
ends (its ``timeoutSeconds``) or a dropped connection is resumed from the last
version; ``410 Gone`` (the version was compacted) means list again, then watch
from the list's version. After ``WATCH_FAILURES`` failed attempts in a row
(or at once on 401/403/404/405: no ``watch`` in the Role, no watch served; a
watch that ends at once with nothing counts as failed) the follower gives up and
says why; the sandbox then polls. Every request has a read timeout, and
:meth:`Follower.stop` shuts the open streams and joins the threads, so none
outlives the run.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

API_TIMEOUT = 30.0  # seconds for one API call (connect + read)
CONNECT_TIMEOUT = 10.0
WATCH_READ_MARGIN = 10.0  # a watch read waits timeoutSeconds + this: the server ends it first
WATCH_FAILURES = 3  # failed attempts in a row (nothing received) before polling instead
RETRY_PAUSE = 0.2  # seconds, times the failures before it (the first retry is immediate)
JOIN_SECONDS = 2.0
CATCH_UP_SECONDS = 2.0  # for the pod's watch to bring a deletion the list already shows
_FINAL = (401, 403, 404, 405)  # retrying a watch will not help: poll
QUICK_END = 1.0  # a watch that ends sooner with nothing new counts as a failed attempt


class _Expired(Exception):
    """410 Gone: the resourceVersion is older than the server keeps; list again."""


@dataclass(frozen=True)
class Snapshot:
    """The latest Job and pod seen, and when the pod's last two states arrived."""

    job: Any  # V1Job, None before it is seen or once deleted
    pod: Any  # V1Pod
    job_seen: bool
    pod_seen: bool
    pod_at: float  # time.monotonic() of the pod's latest state
    pod_prev_at: float  # ... and of the one before
    version: int  # counts the changes
    fresh: bool = False  # the pod was read after the Job (else the pod's watch may lag)
    gone_pod: Any = None  # a deleted pod's last state, as its DELETED event carried it


@dataclass(frozen=True)
class _Kind:
    name: str
    list_fn: Callable[..., Any]
    model: str
    selector: dict[str, str]


class Follower:
    """The Job ``name`` and its pod, kept up to date by two watch threads."""

    def __init__(self, api: k8s.ApiClient, namespace: str, job: Any, timeout: int) -> None:
        """Follow ``job`` (as its creation returned it) from its resourceVersion on."""
        name, version = job.metadata.name, job.metadata.resource_version
        batch, core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)
        self.api, self.namespace, self.timeout = api, namespace, timeout
        self.kinds = (
            _Kind("job", batch.list_namespaced_job, "V1Job",
                  {"field_selector": f"metadata.name={name}"}),
            _Kind("pod", core.list_namespaced_pod, "V1Pod",
                  {"label_selector": f"job-name={name}"}),
        )  # fmt: skip
        self.failed: str | None = None  # why the watch gave up (the sandbox polls then)
        self._cond = threading.Condition()
        self._objects: dict[str, Any] = {"job": job, "pod": None, "gone_pod": None}
        self._seen: set[str] = {"job"}
        self._version = 0
        self._pod_at = self._pod_prev_at = time.monotonic()
        self._stop = threading.Event()
        self._responses: dict[str, Any] = {}
        self._versions: dict[str, str] = {}  # the latest resourceVersion of each open watch
        self._threads = [
            threading.Thread(target=self._follow, args=(k, version), daemon=True,
                             name=f"watch-{k.name}-{name}")
            for k in self.kinds
        ]  # fmt: skip

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def next(self, after: int, timeout: float) -> Snapshot:
        """The latest state once it is newer than version ``after``, or after ``timeout``."""
        with self._cond:
            if self._version == after and self.failed is None:
                self._cond.wait(timeout)
            return Snapshot(
                self._objects["job"], self._objects["pod"], "job" in self._seen,
                "pod" in self._seen, self._pod_at, self._pod_prev_at, self._version,
                gone_pod=self._objects["gone_pod"],
            )  # fmt: skip

    def refresh_pod(self) -> Snapshot:
        """Read the pod now (a list): the two watches are separate streams, so a Job's
        condition can arrive before the pod change that caused it. A pod the list no longer
        shows was deleted after the watch's last event; that deletion's event carries the
        pod's final state (it ran, a node was lost), so it is waited for, up to
        ``CATCH_UP_SECONDS`` (the whole time only when the Job never had a pod)."""
        kind = self.kinds[1]
        found = kind.list_fn(self.namespace, **kind.selector, _request_timeout=API_TIMEOUT)
        if found.items:
            self._update(kind.name, found.items[0])
        else:
            with self._cond:
                self._cond.wait_for(self._pod_gone_or_failed, CATCH_UP_SECONDS)
            if self._objects["pod"] is not None:
                self._update(kind.name, None)
        return replace(self.next(-1, 0), fresh=True)

    def _pod_gone_or_failed(self) -> bool:
        """The watch brought the pod's deletion (a pod it never saw may still be on its way:
        its events come after the list that no longer shows it), or gave up."""
        gone = "pod" in self._seen and self._objects["pod"] is None
        return gone or self.failed is not None

    def stop(self) -> None:
        """Shut the open streams and wait for the threads (bounded)."""
        self._stop.set()
        self._close_streams()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(JOIN_SECONDS)

    # -- one thread per kind --
    def _follow(self, kind: _Kind, version: str | None) -> None:
        failures = 0
        while not self._stop.is_set() and self.failed is None:
            began, start, error = time.monotonic(), version, None
            try:
                start = version = version or self._relist(kind)
                version = self._watch(kind, version)
            except _Expired:
                version = None  # list again
                continue
            except Exception as exc:  # refused, reset, read timeout, broken chunk, HTTP error
                if isinstance(exc, ApiException) and exc.status == 410:
                    version = None
                    continue
                error, version = exc, self._versions.get(kind.name) or version
            if self._stop.is_set():
                return
            progressed = version != start
            if error is None and (progressed or time.monotonic() - began >= QUICK_END):
                failures = 0  # the server ended it (timeoutSeconds): resume
                continue
            # a stream that brought events before it broke starts the count again
            failures = self._failed_attempt(kind, error, 1 if progressed else failures + 1)
            self._stop.wait(RETRY_PAUSE * (failures - 1))

    def _failed_attempt(self, kind: _Kind, error: Exception | None, failures: int) -> int:
        """Count one failed attempt; give up (the sandbox polls) when it is one too many."""
        if isinstance(error, ApiException) and error.status in _FINAL:
            failures = WATCH_FAILURES
        if failures >= WATCH_FAILURES:
            self._give_up(kind, error or RuntimeError("the server ends every watch at once"))
        return failures

    def _relist(self, kind: _Kind) -> str:
        self._versions.pop(kind.name, None)
        found = kind.list_fn(self.namespace, **kind.selector, _request_timeout=API_TIMEOUT)
        self._update(kind.name, found.items[0] if found.items else None)
        return str(found.metadata.resource_version)

    def _watch(self, kind: _Kind, version: str) -> str:
        """One watch request, to its end; the last version seen."""
        self._versions[kind.name] = version
        resp = kind.list_fn(
            self.namespace, **kind.selector, watch=True, resource_version=version,
            allow_watch_bookmarks=True, timeout_seconds=self.timeout, _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT, self.timeout + WATCH_READ_MARGIN),
        )  # fmt: skip
        self._responses[kind.name] = resp
        try:
            if self._stop.is_set():
                return version
            for line in _lines(resp):
                version = self._event(kind, json.loads(line)) or version
                self._versions[kind.name] = version
        finally:
            self._responses.pop(kind.name, None)
            with contextlib.suppress(Exception):
                resp.release_conn()
        return version

    def _event(self, kind: _Kind, event: dict[str, Any]) -> str | None:
        """Apply one event; the resourceVersion it brings."""
        kind_of, raw = event.get("type"), event.get("object") or {}
        if kind_of == "ERROR":
            if raw.get("code") == 410:
                raise _Expired(raw.get("message"))
            raise ApiException(status=raw.get("code") or 500, reason=raw.get("message"))
        version = (raw.get("metadata") or {}).get("resourceVersion")
        if kind_of in ("ADDED", "MODIFIED"):
            obj = self.api.deserialize(json.dumps(raw), kind.model, "application/json")
            self._update(kind.name, obj)
        elif kind_of == "DELETED":
            # states before it may never have been looked at (the sandbox reads the latest
            # only): the final state it carries still tells that the container ran, and why
            # it ended (a node lost, an eviction)
            gone = self.api.deserialize(json.dumps(raw), kind.model, "application/json")
            self._update(kind.name, None, gone=gone if kind.name == "pod" else None)
        return str(version) if version else None

    def _update(self, name: str, obj: Any, gone: Any = None) -> None:
        with self._cond:
            self._objects[name] = obj
            if gone is not None:
                self._objects["gone_pod"] = gone
            if obj is not None:
                self._seen.add(name)
            if name == "pod":
                self._pod_prev_at, self._pod_at = self._pod_at, time.monotonic()
            self._version += 1
            self._cond.notify_all()

    def _give_up(self, kind: _Kind, exc: Exception) -> None:
        with self._cond:
            if self.failed is not None or self._stop.is_set():
                return
            self.failed = f"watching the {kind.name} failed: {type(exc).__name__}: {exc}"
            self._cond.notify_all()
        self._close_streams()

    def _close_streams(self) -> None:
        for resp in list(self._responses.values()):
            with contextlib.suppress(Exception):
                resp.shutdown()


def _lines(resp: Any) -> Iterator[str]:
    """The non-empty lines of a streamed response, as they arrive."""
    buffer = b""
    for chunk in resp.stream(65536):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        yield from (line.decode() for line in lines if line.strip())
    if buffer.strip():
        yield buffer.decode()
