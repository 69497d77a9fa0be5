"""A real ``autoscorer`` API server in a child process (uvicorn, the app factory that
``autoscorer serve`` runs), on 127.0.0.1, with the API keys a test names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.live import free_port, wait_healthy

from autoscorer.settings import hash_key


@dataclass
class Key:
    name: str
    role: str
    rate_limit: float | None = None

    @property
    def secret(self) -> str:
        return f"sk-{self.name}-secret"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


@dataclass
class Server:
    url: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path
    keys: dict[str, Key] = field(default_factory=dict)

    def client(self, key: str | None) -> httpx.Client:
        headers = self.keys[key].headers if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def keys_json(keys: list[Key]) -> str:
    out: list[dict[str, Any]] = []
    for k in keys:
        item: dict[str, Any] = {"name": k.name, "sha256": hash_key(k.secret), "role": k.role}
        if k.rate_limit is not None:
            item["rate_limit"] = k.rate_limit
        out.append(item)
    return json.dumps(out)


def start(root: Path, keys: list[Key], name: str = "server", **env: str) -> Server:
    """Serve from ``root`` (its SQLite file unless ``env`` names another database)."""
    port = free_port()
    full = {
        **os.environ,
        "AUTOSCORER_DATABASE_URL": f"sqlite:///{root / 'db.sqlite'}",
        "AUTOSCORER_QUEUE": "inprocess",
        "AUTOSCORER_EXECUTOR": "local",
        "AUTOSCORER_API_KEYS": keys_json(keys),
        **env,
    }
    for var in ("AUTOSCORER_CONFIG", "AUTOSCORER_SERVER", "AUTOSCORER_API_KEY"):
        full.pop(var, None)
    log = root / f"{name}.log"
    cmd = [sys.executable, "-m", "uvicorn", "autoscorer.api.main:app_from_env", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=full, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", root, process, log, {k.name: k for k in keys})
    try:
        wait_healthy(server.url, server.process, server.log)
    except BaseException:
        server.stop()
        raise
    return server
