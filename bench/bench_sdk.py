"""SDK overhead: AutoScorerClient vs raw httpx, and connection reuse vs none.

Plain script (not pytest). Serves a fixed envelope from a local HTTP/1.1 server on
127.0.0.1 and times, in the same process run:

- raw ``httpx.Client.get`` on one pooled connection (the anchor),
- ``AutoScorerClient.get_job_status`` (envelope parsing + pydantic model),
- a fresh ``httpx.get`` per request (no connection reuse, as a naive script does).

    python3 bench/bench_sdk.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from autoscorer.client import AutoScorerClient

BODY = json.dumps(
    {
        "success": True,
        "data": {
            "job_id": "job-demo-001",
            "status": "running",
            "progress": 0.75,
            "created_at": "2024-08-24T10:00:00Z",
            "started_at": "2024-08-24T10:00:30Z",
            "executor": "docker",
            "resources": {"cpu_usage": 1.8, "memory_usage": "3.2Gi", "gpu_usage": 0},
            "logs_available": True,
        },
        "meta": {"timestamp": "2024-08-24T10:00:00Z", "request_id": "req_1", "api_version": "v1"},
    }
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this, delayed ACKs add ~40 ms
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def timed(n: int, fn: Callable[[], Any]) -> float:
    """Seconds per call, over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    path = "/api/v1/jobs/job-demo-001/status"
    raw = httpx.Client(base_url=url)
    sdk = AutoScorerClient(url, retries=0)
    assert sdk.get_job_status("job-demo-001").progress == 0.75
    results: dict[str, list[float]] = {"raw": [], "sdk": [], "fresh": []}
    for _ in range(args.rounds):
        results["raw"].append(timed(args.requests, lambda: raw.get(path).json()))
        results["sdk"].append(timed(args.requests, lambda: sdk.get_job_status("job-demo-001")))
        fresh_n = max(1, args.requests // 4)
        results["fresh"].append(timed(fresh_n, lambda: httpx.get(url + path).json()))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"requests per round: {args.requests}, rounds: {args.rounds} (median per call)")
    print(f"raw httpx, pooled (anchor)   {med['raw'] * 1e6:8.1f} us")
    print(
        f"AutoScorerClient             {med['sdk'] * 1e6:8.1f} us  x{med['sdk'] / med['raw']:.2f}"
    )
    fresh = med["fresh"]
    print(f"httpx.get, no reuse          {fresh * 1e6:8.1f} us  x{fresh / med['raw']:.2f}")
    raw.close()
    sdk.close()
    httpd.shutdown()


if __name__ == "__main__":
    main()
