"""verify_webhook (Python SDK) and verifyWebhook (JS SDK) on requests the server really sent."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

import autoscorer_client
from autoscorer.client import WebhookVerificationError, verify_webhook
from autoscorer.jobs.outbox import Outbox
from autoscorer.jobs.outbox_drain import Drainer
from autoscorer.jobs.records import NewJob
from autoscorer.jobs.store import JobStore
from autoscorer.webhook_schemes import AUTOSCORER, BOTH, STANDARD, Scheme, sign_standard
from autoscorer.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET = "whsec-verify"
JS_DIST = Path(__file__).resolve().parents[2] / "clients" / "js" / "dist" / "esm" / "index.js"
EVENT = {"event_id": "evt_1", "type": "job.completed", "job_id": "j1", "status": "completed",
         "previous_status": "running", "score": 0.85, "error_code": None, "request_id": None,
         "timestamp": "2026-11-28T10:01:15Z"}  # fmt: skip


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, str]]:
    """One webhook as the outbox drainer sends it (the default scheme), captured by a real
    receiver on 127.0.0.1."""
    return _capture(tmp_path_factory.mktemp("delivered"), SECRET, STANDARD)


def test_accepts_what_the_server_sent(delivered: tuple[bytes, dict[str, str]]) -> None:
    body, headers = delivered
    assert verify_webhook(body, headers, SECRET) == EVENT
    lower = {k.lower(): v for k, v in headers.items()}  # e.g. HTTP/2 or a proxy lower-cases
    assert verify_webhook(body, lower, SECRET) == EVENT
    assert verify_webhook(body.decode(), {k: [v] for k, v in lower.items()}, SECRET) == EVENT


def test_exported_from_autoscorer_client() -> None:
    assert autoscorer_client.verify_webhook is verify_webhook
    assert autoscorer_client.WebhookVerificationError is WebhookVerificationError
    assert issubclass(WebhookVerificationError, autoscorer_client.AutoScorerClientError)


def _signed(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, secret, ts), TIMESTAMP_HEADER: str(ts)}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered body", "bad_signature"),
        ("wrong secret", "bad_signature"),
        ("truncated signature", "bad_signature"),
        ("no signature", "missing_header"),
        ("no timestamp", "missing_header"),
        ("timestamp not a number", "bad_timestamp"),
        ("signed 10 minutes ago", "stale_timestamp"),
        ("signed 10 minutes ahead", "stale_timestamp"),
        ("body not JSON", "bad_body"),
        ("body a JSON list", "bad_body"),
    ],
)
def test_rejects(case: str, reason: str) -> None:
    now = 1_800_000_000
    body = json.dumps(EVENT).encode()
    headers = _signed(body, now)
    if case == "tampered body":
        body = body.replace(b"0.85", b"0.95")
    elif case == "wrong secret":
        headers = _signed(body, now, "other")
    elif case == "truncated signature":
        headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER][:-2]
    elif case.startswith("no "):
        del headers[SIGNATURE_HEADER if case == "no signature" else TIMESTAMP_HEADER]
    elif case == "timestamp not a number":
        headers[TIMESTAMP_HEADER] = "2026-11-28T10:00:00Z"
    elif case.startswith("signed 10"):
        headers = _signed(body, now + (600 if "ahead" in case else -600))
    else:
        body = b"not json" if case == "body not JSON" else b"[1, 2]"
        headers = _signed(body, now)
    with pytest.raises(WebhookVerificationError) as err:
        verify_webhook(body, headers, SECRET, now=now)
    assert err.value.reason == reason


def test_tolerance_bounds_the_age() -> None:
    body = json.dumps(EVENT).encode()
    headers = _signed(body, 1000)
    assert verify_webhook(body, headers, SECRET, tolerance=60, now=1060) == EVENT
    with pytest.raises(WebhookVerificationError, match="61 s away from now"):
        verify_webhook(body, headers, SECRET, tolerance=60, now=1061)


def test_an_empty_secret_is_a_configuration_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        verify_webhook(b"{}", _signed(b"{}", int(time.time()), ""), "")


NODE_CHECK = """
const { verifyWebhook } = await import(process.argv[1]);
const req = JSON.parse(await new Promise((ok) => {
  let s = ''; process.stdin.on('data', (d) => { s += d; }).on('end', () => ok(s));
}));
const body = Buffer.from(req.body, 'base64');
const out = { event: await verifyWebhook(body, req.headers, req.secret) };
try { await verifyWebhook(body, req.headers, 'wrong-secret'); } catch (e) { out.wrong = e.reason; }
console.log(JSON.stringify(out));
"""


def test_js_verifier_accepts_the_python_signature(delivered: tuple[bytes, dict[str, str]]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the JS half runs in clients/js (npm test)")
    if not JS_DIST.exists():
        pytest.skip(f"{JS_DIST} is not built; run `npm ci && npm run build` in clients/js")
    body, headers = delivered
    stdin = json.dumps({"body": base64.b64encode(body).decode(), "headers": headers,
                        "secret": SECRET})  # fmt: skip
    proc = subprocess.run(
        [node, "--input-type=module", "-e", NODE_CHECK, JS_DIST.as_uri()],
        input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["wrong"] == "bad_signature"
    assert out["event"]["jobId"] == "j1" and out["event"]["score"] == 0.85
    assert out["event"]["previousStatus"] == "running"


# -- Standard Webhooks: what the outbox drainer really sends -----------------------------------
WHSEC = "whsec_" + base64.b64encode(bytes(range(7, 31))).decode()


def _capture(tmp_path: Path, secret: str, scheme: Scheme) -> tuple[bytes, dict[str, str]]:
    """One webhook as the outbox drainer posts it, captured by a real receiver on 127.0.0.1."""
    got: list[tuple[bytes, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    store = JobStore(f"sqlite:///{tmp_path / f'{scheme}.db'}")
    drainer = Drainer(Outbox(store), secret, scheme=scheme, poll=0.05)
    try:
        store.add(NewJob(job_id="j1", workspace_path="/w", executor="local"))
        Outbox(store).record("j1", f"http://127.0.0.1:{server.server_address[1]}/h", EVENT)
        drainer.start()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        drainer.close()
        store.close()
        server.shutdown()
        server.server_close()
    assert got, "the receiver got nothing"
    return got[0]


@pytest.mark.parametrize(("secret", "key"), [(WHSEC, WHSEC), (SECRET, SECRET.encode())])
def test_the_standardwebhooks_library_verifies_our_deliveries(
    tmp_path: Path, secret: str, key: str | bytes
) -> None:
    """``whsec_<base64>`` is passed to stock libraries as is; any other secret as its bytes."""
    body, headers = _capture(tmp_path, secret, STANDARD)
    assert headers["webhook-id"] == EVENT["event_id"]
    assert "X-AutoScorer-Signature" not in headers
    assert standardwebhooks.Webhook(key).verify(body, headers) == EVENT
    assert verify_webhook(body, headers, secret) == EVENT
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(b"another key").verify(body, headers)
    with pytest.raises(WebhookVerificationError) as err:
        verify_webhook(body.replace(b"0.85", b"0.95"), headers, secret)
    assert err.value.reason == "bad_signature"


@pytest.mark.parametrize("scheme", [AUTOSCORER, BOTH])
def test_the_sdk_verifies_the_other_schemes(tmp_path: Path, scheme: Scheme) -> None:
    body, headers = _capture(tmp_path, WHSEC, scheme)
    assert ("webhook-signature" in headers) == (scheme == BOTH)
    assert verify_webhook(body, headers, WHSEC) == EVENT
    legacy = {k: v for k, v in headers.items() if k.lower().startswith("x-autoscorer")}
    assert verify_webhook(body, legacy, WHSEC) == EVENT  # the old header alone
    if scheme == BOTH:
        assert standardwebhooks.Webhook(WHSEC).verify(body, headers) == EVENT


def test_standard_signature_lists_rotation_and_reasons() -> None:
    body = json.dumps(EVENT).encode()
    now = 1_800_000_000
    good = sign_standard("evt_1", now, body, WHSEC)
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(now),
               "webhook-signature": f"v1,bm90IGl0 {good}"}  # fmt: skip
    assert verify_webhook(body, headers, WHSEC, now=now) == EVENT  # any entry may match
    cases = [({"webhook-id": "evt_2"}, "bad_signature"),
             ({"webhook-signature": "v1,bm90IGl0"}, "bad_signature"),
             ({"webhook-timestamp": "soon"}, "bad_timestamp"),
             ({"webhook-timestamp": str(now - 301)}, "bad_signature")]  # fmt: skip
    for change, reason in cases:
        with pytest.raises(WebhookVerificationError) as err:
            verify_webhook(body, {**headers, **change}, WHSEC, now=now)
        assert err.value.reason == reason, change
    with pytest.raises(WebhookVerificationError) as err:
        verify_webhook(body, {k: v for k, v in headers.items() if k != "webhook-id"}, WHSEC)
    assert err.value.reason == "missing_header"
    with pytest.raises(WebhookVerificationError) as err:
        verify_webhook(body, headers, WHSEC, now=now + 301)
    assert err.value.reason == "stale_timestamp"
    with pytest.raises(ValueError, match="base64"):
        verify_webhook(body, headers, "whsec_not*base64")


def test_the_sdk_verifier_imports_nothing_from_the_server() -> None:
    code = ("import sys, autoscorer.client.webhooks; "
            "print(sorted(m for m in sys.modules if m.startswith('autoscorer.')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    loaded = json.loads(out.replace("'", '"'))
    server = ("autoscorer.webhook", "autoscorer.jobs", "autoscorer.settings", "autoscorer.api")
    assert not [m for m in loaded if m.startswith(server)], loaded
