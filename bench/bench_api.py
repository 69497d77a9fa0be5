"""REST API throughput and latency on loopback (bounded runs).

    python3 bench/bench_api.py [--duration 5] [--connections 32] [--sync-jobs 200]

One ``autoscorer serve`` process (1 worker) on 127.0.0.1 with zero configuration
(SQLite, in-process queue), loaded by ``wrk`` (Debian package) when installed, else a
bounded httpx loop. Measured in the same run, side by side:

- anchor: a bare ASGI app under the same uvicorn returning a same-sized JSON body;
- ``GET /api/v1/scorers/classification_f1`` (envelope, auth, routing, registry);
- ``GET /api/v1/jobs/{id}/status`` at 32 connections (goal >= 1,000 req/s, p99 < 50 ms);
- async ``POST /api/v1/jobs`` acceptance (goal >= 300 jobs/s);
- the async backlog worked off to the end (jobs/s, the in-process queue's 2 job threads);
- sync score-only jobs on examples/classification, p50/p99 (goal p50 < 50 ms), on the
  idle queue once that backlog is done.

Job figures need the job service (``autoscorer.jobs.service``); without it they are
reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "classification"
ANCHOR_APP = """
import json
BODY = json.dumps({"success": True, "data": {"job_id": "x" * 12, "status": "completed",
    "progress": 1.0, "created_at": "2024-08-24T10:00:00Z"}, "meta": {"timestamp": "t",
    "request_id": "req_0123456789abcdef", "api_version": "v1"}}).encode()

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
"""
SUBMIT_LUA = """
-- each wrk thread has its own Lua state: number the threads so job ids never collide
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"job_id":"bench-%%d-%%d-%%d","workspace_path":"%s","async":true}',
                             os.time(), tid, counter)
  return wrk.format("POST", "/api/v1/jobs", {["Content-Type"]="application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def start(cmd: list[str], cwd: Path, env: dict[str, str], probe: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    wait_up(probe, proc)
    return proc


def wrk(url: str, duration: float, connections: int, script: Path | None = None) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(duration)}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = {p: _ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", out).group(1)) for p in ("50", "99")}  # type: ignore[union-attr]
    return {
        "rps": rps,
        "p50": lat["50"],
        "p99": lat["99"],
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def row(name: str, r: dict, anchor: dict | None) -> str:
    ratio = f"x{anchor['rps'] / r['rps']:.2f}" if anchor else "x1.00"
    return (
        f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {ratio} |"
    )


def sync_latency(base: str, workspace: Path, count: int) -> dict:
    times = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(count):
            body = {"job_id": f"sync-{os.getpid()}-{i}", "workspace_path": str(workspace)}
            t0 = time.perf_counter()
            resp = client.post("/api/v1/jobs", json=body)
            times.append((time.perf_counter() - t0) * 1e3)
            if resp.status_code != 200 or resp.json()["data"]["status"] != "completed":
                raise SystemExit(f"sync job failed: {resp.status_code} {resp.text[:300]}")
    q = statistics.quantiles(times, n=100)
    return {"p50": statistics.median(times), "p99": q[98], "count": count}


def drain(base: str, limit: float = 600.0) -> dict:
    """Wait until no job is active; the backlog's size and how fast it was worked off."""
    t0 = time.monotonic()
    jobs = None
    while time.monotonic() - t0 < limit:
        metrics = httpx.get(f"{base}/api/v1/status", timeout=30).json()["data"]["metrics"]
        jobs = metrics["active_jobs"] if jobs is None else jobs
        if metrics["active_jobs"] == 0:
            took = time.monotonic() - t0
            return {"jobs": jobs, "seconds": took, "rate": jobs / took if took else 0.0}
        time.sleep(0.5)
    raise SystemExit(f"the async backlog did not drain in {limit:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--sync-jobs", type=int, default=200)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        run(Path(tmp), args)


def run(tmp: Path, args: argparse.Namespace) -> None:
    (tmp / "anchor.py").write_text(ANCHOR_APP)
    workspace = tmp / "classification"
    shutil.copytree(EXAMPLE, workspace)
    env = {
        **os.environ,
        "AUTOSCORER_WORKSPACE_ROOTS": json.dumps([str(tmp)]),
        "AUTOSCORER_DATABASE_URL": f"sqlite:///{tmp / 'jobs.db'}",
        "AUTOSCORER_EXECUTOR": "local",
    }
    results: list[str] = []
    a_port, s_port = free_port(), free_port()
    anchor_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "anchor:app",
        "--app-dir",
        str(tmp),
        "--port",
        str(a_port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    anchor_proc = start(anchor_cmd, tmp, env, f"http://127.0.0.1:{a_port}/")
    try:
        anchor = wrk(f"http://127.0.0.1:{a_port}/", args.duration, args.connections)
    finally:
        anchor_proc.terminate()
        anchor_proc.wait(10)
    results.append(row("anchor: bare ASGI JSON under uvicorn", anchor, None))
    base = f"http://127.0.0.1:{s_port}"
    server = start(
        [sys.executable, "-m", "autoscorer.cli.main", "serve", "--port", str(s_port)],
        tmp,
        env,
        f"{base}/health",
    )
    try:
        r = wrk(f"{base}/api/v1/scorers/classification_f1", args.duration, args.connections)
        results.append(row("GET /api/v1/scorers/classification_f1", r, anchor))
        results += job_rows(base, workspace, tmp, args, anchor)
    finally:
        server.terminate()
        server.wait(20)
    print(f"{args.connections} connections, {args.duration:g} s per run, 1 server process")
    print("| request | req/s | p50 ms | p99 ms | non-2xx | anchor/this |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(results))


def job_rows(
    base: str, workspace: Path, tmp: Path, args: argparse.Namespace, anchor: dict
) -> list[str]:
    probe = httpx.post(f"{base}/api/v1/jobs", json={"workspace_path": str(workspace)}, timeout=60)
    if probe.status_code == 503:
        return ["| job endpoints | skipped: " + probe.json()["errors"][0]["message"] + " | | | | |"]
    job_id = probe.json()["data"]["job_id"]
    rows = [
        row(
            "GET /api/v1/jobs/{id}/status",
            wrk(f"{base}/api/v1/jobs/{job_id}/status", args.duration, args.connections),
            anchor,
        )
    ]
    script = tmp / "submit.lua"
    script.write_text(SUBMIT_LUA % workspace)
    rows.append(
        row(
            "POST /api/v1/jobs async (accepted/s)",
            wrk(base, args.duration, args.connections, script),
            anchor,
        )
    )
    drained = drain(base)
    rows.append(
        f"| async backlog ({drained['jobs']} jobs) run to the end | {drained['rate']:.0f} jobs/s | "
        f"| | | |"
    )
    # measured on an idle queue: a sync job behind the backlog would time its wait instead
    sync = sync_latency(base, workspace, args.sync_jobs)
    rows.append(
        f"| POST /api/v1/jobs sync, {sync['count']} sequential jobs | | "
        f"{sync['p50']:.2f} | {sync['p99']:.2f} | 0 | |"
    )
    return rows


if __name__ == "__main__":
    main()
