"""A fake Kubernetes API server: a real HTTP server on 127.0.0.1 that behaves like one
where the Kubernetes executor depends on it.

- every object received is validated against the Kubernetes 1.31 OpenAPI schemas
  (``kubernetes-validate``, strict: unknown fields are refused) plus the checks the
  API server adds (names, label values, namespace match, ``podFailurePolicy`` needs
  ``restartPolicy: Never``): 422 otherwise;
- every request is authorised against the Role of ``deploy/k8s/rbac.yaml``, bound in
  the fake's namespace (as kustomize's ``namespace:`` would): 403 otherwise;
- only its namespace exists; the PVC of ``pvc_name`` is the host folder ``pvc_root``;
- pods are played by ``k8s_fake_pod`` (real processes, Job controller conditions); a pod
  template that breaks the ``restricted`` Pod Security profile gets no pod (``k8s_fake_psa``);
- the log endpoint answers 400 while the container is waiting, and streams the real
  process output with ``follow=true``;
- every change of a Job or pod gets the next cluster-wide ``resourceVersion`` and is
  served to watches as it happens (``k8s_fake_watch``: 410 for a compacted version,
  ``timeoutSeconds``, bookmarks, connections that can be cut mid-stream).

No cluster is involved.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import kubernetes_validate
import yaml
from k8s_fake_pod import Controller, FakeJob, FakePod, Node, Scenario
from k8s_fake_proc import ProcessRunner, cleanup
from k8s_fake_watch import PublishingLock, Store, WatchStream, selector

ROOT = Path(__file__).resolve().parents[2]
RBAC = ROOT / "deploy" / "k8s" / "rbac.yaml"
K8S_VERSION = "1.31"
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.22",
           "compiler": "gc", "platform": "linux/amd64"}  # fmt: skip
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# path -> (api group, resource); the verb comes from the method and the name
_ROUTES = [
    (re.compile(r"^/apis/batch/v1/namespaces/([^/]+)/jobs(?:/([^/]+))?$"), "batch", "jobs"),
    (re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?$"), "", "pods"),
    (re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$"), "", "pods/log"),
    (
        re.compile(r"^/apis/networking.k8s.io/v1/namespaces/([^/]+)/networkpolicies(?:/([^/]+))?$"),
        "networking.k8s.io",
        "networkpolicies",
    ),
]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}  # fmt: skip


def role_rules(path: Path = RBAC) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    (role,) = [d for d in docs if d["kind"] == "Role"]
    return list(role["rules"])


def validate(obj: dict[str, Any], namespace: str) -> None:
    """What the API server checks on create (schema + the rules the schema cannot say)."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise ApiError(422, "Invalid", f"{obj.get('kind')} is invalid: {exc.message}") from exc
    meta = obj["metadata"]
    if meta.get("namespace", namespace) != namespace:
        raise ApiError(400, "BadRequest", "the namespace of the object does not match the request")
    if not _DNS_LABEL.match(meta.get("name", "")) or len(meta["name"]) > 63:
        raise ApiError(422, "Invalid", f"metadata.name {meta.get('name')!r}: not a DNS-1123 label")
    tpl = obj.get("spec", {}).get("template", {})
    for where, labels in (("metadata", meta), ("template", tpl.get("metadata", {}))):
        for key, value in labels.get("labels", {}).items():
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise ApiError(422, "Invalid", f"{where}.labels[{key}]: invalid value {value!r}")
    if obj.get("spec", {}).get("podFailurePolicy") and tpl["spec"]["restartPolicy"] != "Never":
        raise ApiError(422, "Invalid", "podFailurePolicy requires restartPolicy Never")


@dataclass
class FakeCluster:
    namespace: str
    pvc_name: str
    pvc_root: Path
    scenario: Scenario = field(default_factory=Scenario)
    rules: list[dict[str, Any]] = field(default_factory=role_rules)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    deletions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (verb, resource) authorised
    denied: list[tuple[str, str, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    bookmark_every: float = 1.0  # seconds between BOOKMARK events of a watch
    watch_cap: float | None = None  # seconds after which any watch ends (None: timeoutSeconds)

    def __post_init__(self) -> None:
        self.store = Store()
        self.lock = PublishingLock(self.publish)
        self.scratch = Path(tempfile.mkdtemp(prefix="k8s-fake-"))
        self.runner = ProcessRunner(self.pvc_root, self.scratch)
        self.controller = Controller(self)

    def authorize(self, group: str, resource: str, verb: str, namespace: str) -> None:
        allowed = namespace == self.namespace and any(
            group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
            for r in self.rules
        )
        if not allowed:
            self.denied.append((group, resource, verb))
            who = "system:serviceaccount:autoscorer:autoscorer-worker"
            msg = f'{resource} is forbidden: User "{who}" cannot {verb} resource "{resource}" '
            msg += f'in API group "{group}" in the namespace "{namespace}"'
            raise ApiError(403, "Forbidden", msg)
        self.calls.append((verb, resource))

    def publish(self) -> None:
        """Every Job and pod as the API shows them, into the store (new versions, events)."""
        current = {("jobs", n): {**j.manifest, "status": j.status()}
                   for n, j in self.jobs.items() if not j.deleted}  # fmt: skip
        current |= {("pods", p.name): p.to_json(self.namespace) for p in self.pods()}
        self.store.publish(copy.deepcopy(current))  # a copy: the fake mutates lists in place

    def create_job(self, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if name in self.jobs and not self.jobs[name].deleted:
            raise ApiError(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
        job = FakeJob(manifest=body)
        self.jobs[name] = job
        node = Node(self, job)
        self.nodes.append(node)
        node.thread.start()

    def delete_job(self, name: str, options: dict[str, Any]) -> None:
        job = self.jobs.get(name)
        if job is None or job.deleted:
            raise ApiError(404, "NotFound", f'jobs.batch "{name}" not found')
        job.deleted = True
        self.deletions.append({"name": name, "options": options, "at": time.time()})
        pod = job.pod
        if pod is not None and options.get("propagationPolicy") in ("Background", "Foreground"):
            threading.Thread(target=self.controller.terminate, args=(pod,), daemon=True).start()

    def pod_of(self, name: str) -> FakePod:
        for job in self.jobs.values():
            if job.pod is not None and job.pod.name == name:
                return job.pod
        raise ApiError(404, "NotFound", f'pods "{name}" not found')

    def pods(self) -> list[FakePod]:
        return [j.pod for j in self.jobs.values() if j.pod is not None and not j.deleted]

    def shutdown(self) -> None:
        for node in self.nodes:
            with self.lock:
                node.pod.deleted_at = node.pod.deleted_at or time.time()
            self.controller.terminate(node.pod)
        self.store.drop_watches()
        cleanup(self.scratch)


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, *args: Any) -> None:  # keep test output clean
        return None

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> tuple[str, str, str, str | None, str]:
        """(group, resource, namespace, name, verb) of this request, authorised."""
        url = urlparse(self.path)
        for pattern, group, resource in _ROUTES:
            if m := pattern.match(url.path):
                ns, name = m.group(1), m.group(2)
                watch = parse_qs(url.query).get("watch", ["false"])[0].lower() in ("true", "1")
                verb = {"POST": "create", "DELETE": "delete"}.get(method) or (
                    "watch" if watch else ("get" if name else "list")
                )
                self.cluster.authorize(group, resource, verb, ns)
                return group, resource, ns, name, verb
        raise ApiError(
            404, "NotFound", f"the server could not find the requested resource {url.path}"
        )

    def _handle(self, method: str) -> None:
        c = self.cluster
        c.requests.append((method, urlparse(self.path).path))
        try:
            if urlparse(self.path).path.rstrip("/") == "/version":
                self._send(200, VERSION)
                return
            route = self._route(method)
            if route[1] == "pods/log":
                self._log(route[3] or "")
                return
            if route[4] == "watch":
                self._watch(route[1], route[2])
                return
            with c.lock:
                code, body = getattr(self, f"_{method.lower()}")(*route)
            self._send(code, body)
        except ApiError as exc:
            self._send(exc.code, exc.body())

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _body(self) -> dict[str, Any]:
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def _get(self, group: str, resource: str, ns: str, name: str | None, verb: str) -> Any:
        c = self.cluster
        if ns != c.namespace:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
        if resource == "jobs" and name:
            job = c.store.get(("jobs", name))
            if job is None:
                raise ApiError(404, "NotFound", f'jobs.batch "{name}" not found')
            return 200, job
        if resource in ("jobs", "pods") and not name:
            items = c.store.items(resource, selector(parse_qs(urlparse(self.path).query)))
            kind = {"jobs": ("batch/v1", "JobList"), "pods": ("v1", "PodList")}[resource]
            meta = {"resourceVersion": str(c.store.rv)}
            return 200, {"kind": kind[1], "apiVersion": kind[0], "metadata": meta, "items": items}
        raise ApiError(405, "MethodNotAllowed", f"{verb} {resource} is not served by the fake")

    def _watch(self, resource: str, ns: str) -> None:
        c = self.cluster
        if ns != c.namespace:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
        if resource not in ("jobs", "pods"):
            raise ApiError(405, "MethodNotAllowed", f"watch {resource} is not served by the fake")
        query = parse_qs(urlparse(self.path).query)
        WatchStream(self, c.store, resource, query, c.bookmark_every, c.watch_cap).serve()

    def _post(self, group: str, resource: str, ns: str, name: str | None, verb: str) -> Any:
        c = self.cluster
        body = self._body()
        if ns != c.namespace:
            raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
        validate(body, ns)
        if resource == "jobs":
            c.create_job(body)
            c.publish()
            return 201, c.store.get(("jobs", body["metadata"]["name"]))
        if any(p["metadata"]["name"] == body["metadata"]["name"] for p in c.policies):
            raise ApiError(409, "AlreadyExists", "networkpolicies already exists")
        c.policies.append(body)
        return 201, body

    def _delete(self, group: str, resource: str, ns: str, name: str | None, verb: str) -> Any:
        if resource != "jobs" or not name:
            raise ApiError(405, "MethodNotAllowed", "only Jobs are deleted by the executor")
        self.cluster.delete_job(name, self._body())
        return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}

    def _log(self, name: str) -> None:
        c = self.cluster
        with c.lock:
            pod = c.pod_of(name)
            if not pod.started or pod.log_path is None:
                why = pod.state.get("waiting", {}).get("reason", "PodInitializing")
                raise ApiError(400, "BadRequest", f'container "submission" in pod "{name}" '
                               f"is waiting to start: {why}")  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")
        self.end_headers()
        if c.scenario.log_hangs:
            time.sleep(60)
            return
        follow = parse_qs(urlparse(self.path).query).get("follow", ["false"])[0] == "true"
        self._stream(pod, follow)

    def _stream(self, pod: FakePod, follow: bool) -> None:
        assert pod.log_path is not None
        with open(pod.log_path, "rb") as fh:
            while True:
                ended = not follow or pod.process_ended_at is not None
                chunk = fh.read(65536)
                if chunk:
                    try:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    except OSError:  # the client went away
                        return
                    continue
                if ended:
                    return
                time.sleep(0.02)


class FakeApiServer:
    """``with FakeApiServer(pvc_root) as fake: fake.url, fake.cluster``."""

    def __init__(
        self, pvc_root: Path, namespace: str = "autoscorer", pvc_name: str = "autoscorer-workspaces"
    ) -> None:
        self.cluster = FakeCluster(namespace, pvc_name, pvc_root)
        handler = type("Handler", (_Handler,), {"cluster": self.cluster})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.shutdown()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
