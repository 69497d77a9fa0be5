"""A fake Kubernetes API server: a real HTTP server on 127.0.0.1 that records what it gets.

It stores the Jobs and NetworkPolicies it receives (as plain JSON, exactly as
sent), records deletions with their options, and plays a pod through
``Pending -> Running -> <scenario>`` one step per pod listing. Scenarios:
``Succeeded``, ``Failed`` (exit code), ``OOMKilled``, ``DeadlineExceeded``,
``ImagePullBackOff`` and ``Running`` (never ends until deleted). No cluster is
involved; it only speaks the few endpoints the Kubernetes executor uses.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TS = "2025-01-01T00:00:00Z"
VERSION = {
    "major": "1",
    "minor": "29",
    "gitVersion": "v1.29.0-fake",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": TS,
    "goVersion": "go1.21",
    "compiler": "gc",
    "platform": "linux/amd64",
}
TS_END = "2025-01-01T00:00:02Z"


@dataclass
class Scenario:
    phase: str = "Succeeded"
    exit_code: int = 0
    log: str = "hello from the pod\n"
    steps_before_end: int = 2  # pod listings spent in Pending, then Running
    on_run: Callable[[dict[str, Any]], None] | None = None  # "the pod's work" (e.g. write pred)


@dataclass
class FakeJob:
    manifest: dict[str, Any]
    polls: int = 0
    deleted: bool = False
    ran: bool = False


@dataclass
class FakeCluster:
    scenario: Scenario = field(default_factory=Scenario)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the simulated pod --
    def _stage(self, job: FakeJob) -> str:
        if job.polls < 1:
            return "Pending"
        if job.polls < self.scenario.steps_before_end or self.scenario.phase == "Running":
            return "Running"
        return self.scenario.phase

    def pod(self, name: str, job: FakeJob) -> dict[str, Any]:
        stage = self._stage(job)
        if stage not in ("Pending", "Running") and not job.ran:
            job.ran = True
            if self.scenario.on_run is not None:
                self.scenario.on_run(job.manifest)
        phase, cstate = _pod_phase(stage, self.scenario.exit_code)
        image = job.manifest["spec"]["template"]["spec"]["containers"][0]["image"]
        status = {"name": "submission", "image": image, "ready": False, "restartCount": 0}
        status["imageID"] = "docker-pullable://registry.test/img@sha256:" + "ab" * 32
        status["imageID"] = status["imageID"] if stage != "ImagePullBackOff" else ""
        return {
            "metadata": {"name": f"{name}-pod", "namespace": "x", "labels": {"job-name": name}},
            "status": {"phase": phase, "containerStatuses": [{**status, "state": cstate}]},
        }

    def job_status(self, job: FakeJob) -> dict[str, Any]:
        if self._stage(job) == "DeadlineExceeded":
            cond = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}
            return {"failed": 1, "conditions": [cond]}
        return {"active": 1}


def _pod_phase(stage: str, exit_code: int) -> tuple[str, dict[str, Any]]:
    def terminated(code: int, reason: str) -> dict[str, Any]:
        return {
            "terminated": {
                "exitCode": code,
                "reason": reason,
                "startedAt": TS,
                "finishedAt": TS_END,
            }
        }

    if stage == "Pending":
        return "Pending", {"waiting": {"reason": "ContainerCreating"}}
    if stage == "ImagePullBackOff":
        msg = 'Back-off pulling image "nope"'
        return "Pending", {"waiting": {"reason": "ImagePullBackOff", "message": msg}}
    if stage == "Running":
        return "Running", {"running": {"startedAt": TS}}
    if stage == "Succeeded":
        return "Succeeded", terminated(0, "Completed")
    if stage == "OOMKilled":
        return "Failed", terminated(137, "OOMKilled")
    if stage == "DeadlineExceeded":
        return "Failed", terminated(137, "DeadlineExceeded")
    return "Failed", terminated(exit_code, "Error")


_JOBS = re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods$")
_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")
_POLICIES = re.compile(r"^/apis/networking.k8s.io/v1/namespaces/([^/]+)/networkpolicies$")


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, *args: Any) -> None:  # keep test output clean
        return None

    def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def _not_found(self, what: str) -> None:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
        self._send(404, {**status, "reason": "NotFound", "message": f"{what} not found"})

    def do_GET(self) -> None:
        url = urlparse(self.path)
        c = self.cluster
        with c.lock:
            c.requests.append(("GET", url.path))
            if url.path == "/version" or url.path == "/version/":
                self._send(200, VERSION)
            elif m := _JOBS.match(url.path):
                self._get_job(m.group(2))
            elif _PODS.match(url.path):
                selector = parse_qs(url.query).get("labelSelector", [""])[0]
                self._list_pods(selector.removeprefix("job-name="))
            elif _LOG.match(url.path):
                self._send(200, c.scenario.log.encode(), "text/plain")
            else:
                self._not_found(url.path)

    def _get_job(self, name: str | None) -> None:
        job = self.cluster.jobs.get(name or "")
        if job is None or job.deleted:
            self._not_found(f"jobs {name}")
            return
        self._send(200, {**job.manifest, "status": self.cluster.job_status(job)})

    def _list_pods(self, name: str) -> None:
        job = self.cluster.jobs.get(name)
        items = []
        if job is not None and not job.deleted:
            items.append(self.cluster.pod(name, job))
            job.polls += 1
        self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})

    def do_POST(self) -> None:
        url = urlparse(self.path)
        body = self._body()
        c = self.cluster
        with c.lock:
            c.requests.append(("POST", url.path))
            if _JOBS.match(url.path):
                c.jobs[body["metadata"]["name"]] = FakeJob(manifest=body)
                self._send(201, body)
            elif _POLICIES.match(url.path):
                names = [p["metadata"]["name"] for p in c.policies]
                if body["metadata"]["name"] in names:
                    self._send(409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"})
                    return
                c.policies.append(body)
                self._send(201, body)
            else:
                self._not_found(url.path)

    def do_DELETE(self) -> None:
        url = urlparse(self.path)
        body = self._body()
        c = self.cluster
        with c.lock:
            c.requests.append(("DELETE", url.path))
            m = _JOBS.match(url.path)
            job = c.jobs.get(m.group(2) or "") if m else None
            if job is None or job.deleted:
                self._not_found(url.path)
                return
            job.deleted = True
            c.deletions.append({"name": m.group(2) if m else None, "options": body})
            self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


class FakeApiServer:
    """``with FakeApiServer() as fake: fake.url, fake.cluster``."""

    def __init__(self) -> None:
        self.cluster = FakeCluster()
        handler = type("Handler", (_Handler,), {"cluster": self.cluster})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
