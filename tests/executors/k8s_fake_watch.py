"""The fake API server's store and watch endpoint, where they behave like etcd and the
kube-apiserver's watch cache.

- one ``resourceVersion`` counter for the whole cluster, bumped by every change of
  every object (as etcd's revision is); an object carries the version of its last
  change, a list the current one;
- changes are published when the cluster's lock is released by its outermost holder
  (:class:`PublishingLock`), so every mutation of the fake becomes an event, in order;
- a watch (``?watch=true``) is an HTTP/1.1 chunked stream of JSON lines
  (``{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}``) sent as the
  changes happen, from ``resourceVersion`` (absent or ``0``: the current objects
  as ADDED first), narrowed by ``fieldSelector=metadata.name=`` and
  ``labelSelector=k=v``; BOOKMARKs every ``bookmark_every`` seconds when
  ``allowWatchBookmarks=true``; it ends cleanly after ``timeoutSeconds``;
- a ``resourceVersion`` older than the kept history (``window`` changes, or all of
  them after :meth:`Store.compact`) gets an ERROR event with a 410 ``Expired``
  Status, as the apiserver sends it (HTTP 200, then the error, then the end);
- :meth:`Store.drop_watches` cuts every open watch mid-stream (no final chunk), as a
  load balancer or an apiserver restart would.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str]  # (resource, name)


@dataclass(frozen=True)
class Change:
    rv: int
    kind: str  # ADDED, MODIFIED, DELETED
    key: Key
    obj: dict[str, Any]  # stamped with its resourceVersion


def stamp(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}


class Store:
    """Current objects, their versions and the recent changes (see module docstring)."""

    def __init__(self, window: int = 1000) -> None:
        self.rv = 1
        self.floor = 1  # the oldest resourceVersion a watch can start from
        self.history: collections.deque[Change] = collections.deque(maxlen=window)
        self.objects: dict[Key, tuple[int, dict[str, Any]]] = {}
        self.cond = threading.Condition()
        self.watches: list[_Watch] = []

    def publish(self, current: dict[Key, dict[str, Any]]) -> None:
        """Record what differs between ``current`` and the stored objects, one version each."""
        with self.cond:
            changes = [(k, "ADDED" if k not in self.objects else "MODIFIED", obj)
                       for k, obj in current.items()
                       if k not in self.objects or self.objects[k][1] != obj]  # fmt: skip
            changes += [
                (k, "DELETED", self.objects[k][1]) for k in self.objects if k not in current
            ]
            for key, kind, obj in changes:
                self.rv += 1
                if len(self.history) == self.history.maxlen:
                    self.floor = self.history[0].rv
                self.history.append(Change(self.rv, kind, key, stamp(obj, self.rv)))
                if kind == "DELETED":
                    del self.objects[key]
                else:
                    self.objects[key] = (self.rv, obj)
            if changes:
                self.cond.notify_all()

    def get(self, key: Key) -> dict[str, Any] | None:
        with self.cond:
            found = self.objects.get(key)
            return stamp(found[1], found[0]) if found else None

    def items(self, resource: str, match: Callable[[dict[str, Any]], bool]) -> list[Any]:
        with self.cond:
            return [stamp(obj, rv) for (res, _), (rv, obj) in self.objects.items()
                    if res == resource and match(obj)]  # fmt: skip

    def compact(self) -> None:
        """Forget every change so far, as an etcd compaction does (other objects' writes
        move the version on meanwhile, hence the bump): older versions get 410."""
        with self.cond:
            self.rv += 1
            self.floor = self.rv
            self.history.clear()
            self.cond.notify_all()

    def drop_watches(self) -> int:
        """Cut every open watch connection mid-stream; how many there were."""
        with self.cond:
            watches, self.watches = self.watches, []
            for w in watches:
                w.dropped = True
            self.cond.notify_all()
        for w in watches:
            with contextlib.suppress(OSError):
                w.sock.shutdown(socket.SHUT_RDWR)
        return len(watches)

    def after(self, pos: int, watch: _Watch, timeout: float) -> list[Change] | None:
        """The changes after ``pos`` (waiting up to ``timeout`` for one); None: expired."""
        with self.cond:
            self.cond.wait_for(lambda: self.rv > pos or watch.dropped, timeout)
            if pos < self.floor:
                return None
            return [c for c in self.history if c.rv > pos]


@dataclass
class _Watch:
    sock: socket.socket
    dropped: bool = False


def selector(query: dict[str, list[str]]) -> Callable[[dict[str, Any]], bool]:
    """``fieldSelector=metadata.name=x`` and ``labelSelector=k=v`` (equality only)."""
    field = query.get("fieldSelector", [""])[0]
    label = query.get("labelSelector", [""])[0]
    name = field.removeprefix("metadata.name=") if field else None
    key, _, value = label.partition("=")

    def match(obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        ok_name = name is None or meta.get("name") == name
        return ok_name and (not key or meta.get("labels", {}).get(key) == value)

    return match


def expired(pos: int, floor: int) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f"too old resource version: {pos} ({floor})", "reason": "Expired",
            "code": 410}  # fmt: skip


class WatchStream:
    """One watch request, served on ``handler``'s connection to its end."""

    def __init__(self, handler: Any, store: Store, resource: str, query: dict[str, list[str]],
                 bookmark_every: float, cap: float | None = None) -> None:  # fmt: skip
        self.h, self.store, self.resource, self.query = handler, store, resource, query
        self.match = selector(query)
        self.bookmarks = query.get("allowWatchBookmarks", ["false"])[0].lower() == "true"
        self.every, self.cap = bookmark_every, cap  # cap: a proxy that ends streams sooner
        self.watch = _Watch(handler.connection)

    def serve(self) -> None:
        h = self.h
        h.protocol_version = "HTTP/1.1"  # chunked, as the apiserver streams watches
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        with self.store.cond:
            self.store.watches.append(self.watch)
        try:
            if self._stream() and not self.watch.dropped:
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
        except OSError:  # the client went away
            return
        finally:
            with self.store.cond, contextlib.suppress(ValueError):
                self.store.watches.remove(self.watch)

    def _stream(self) -> bool:
        """Send events until timeoutSeconds; False when the connection was dropped."""
        timeout = float(self.query.get("timeoutSeconds", ["1800"])[0])
        timeout = timeout if self.cap is None else min(timeout, self.cap)
        deadline, next_mark = time.monotonic() + timeout, time.monotonic() + self.every
        pos = self._start()
        if pos is None:
            return True
        while not self.watch.dropped and (left := deadline - time.monotonic()) > 0:
            batch = self.store.after(pos, self.watch, min(left, next_mark - time.monotonic()))
            if batch is None:
                self._send("ERROR", expired(pos, self.store.floor))
                return True
            for change in batch:
                pos = change.rv
                if change.key[0] == self.resource and self.match(change.obj):
                    self._send(change.kind, change.obj)
            if self.bookmarks and time.monotonic() >= next_mark:
                self._send("BOOKMARK", self._bookmark(pos))
                next_mark = time.monotonic() + self.every
        return not self.watch.dropped

    def _start(self) -> int | None:
        """The version to stream from (after the current objects when none was given)."""
        given = self.query.get("resourceVersion", [""])[0]
        with self.store.cond:
            floor, pos = self.store.floor, self.store.rv
            current = self.store.items(self.resource, self.match) if given in ("", "0") else []
        if given not in ("", "0"):
            if int(given) < floor:
                self._send("ERROR", expired(int(given), floor))
                return None
            return int(given)
        for obj in current:
            self._send("ADDED", obj)
        return pos

    def _bookmark(self, pos: int) -> dict[str, Any]:
        kind = {"jobs": ("batch/v1", "Job"), "pods": ("v1", "Pod")}[self.resource]
        return {"apiVersion": kind[0], "kind": kind[1], "metadata": {"resourceVersion": str(pos)}}

    def _send(self, kind: str, obj: dict[str, Any]) -> None:
        data = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
        self.h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.h.wfile.flush()


class PublishingLock:
    """A re-entrant lock that calls ``publish`` when its outermost holder releases it."""

    def __init__(self, publish: Callable[[], None]) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.publish = publish

    def __enter__(self) -> PublishingLock:
        self._lock.acquire()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._depth == 1:
                self.publish()
        finally:
            self._depth -= 1
            self._lock.release()
