"""Rate limits hold across processes: two real API servers sharing one Redis count a
key's requests together; without Redis (or when it does not answer) each process
keeps its own counter."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
from tests.security.live_server import Key, Server, start

REDIS = "redis://127.0.0.1:6379/14"
PATH = "/api/v1/scorers"


def two_servers(tmp_path: Path, key: Key, storage: str) -> list[Server]:
    """Two servers started at the same time (each start waits for /health)."""

    def one(name: str) -> Server:
        root = tmp_path / name
        root.mkdir()
        env = {"AUTOSCORER_RATE_LIMIT_STORAGE_URL": storage, "AUTOSCORER_RATE_LIMIT_BURST": "4"}
        return start(root, [key, Key("other", "reader")], **env)

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(one, name) for name in ("a", "b")]
    started = [f.result() for f in futures if f.exception() is None]
    errors = [f.exception() for f in futures if f.exception() is not None]
    for error in errors:
        for s in started:
            s.stop()
        raise error
    return started


def test_two_processes_share_one_limit_through_redis(tmp_path: Path) -> None:
    key = Key(f"lim-{uuid.uuid4().hex[:8]}", "reader", rate_limit=0.1)  # 4 per 40 s
    servers = two_servers(tmp_path, key, REDIS)
    try:
        a, b = (s.client(key.name) for s in servers)
        codes = [c.get(PATH).status_code for c in (a, b, a, b)]
        assert codes == [200, 200, 200, 200]
        for c in (a, b):  # the fifth request is refused, whichever process gets it
            resp = c.get(PATH)
            assert resp.status_code == 429, resp.text
            error = resp.json()["errors"][0]
            assert error["code"] == "QUOTA_EXCEEDED" and error["details"]["shared"] is True
            assert 1 <= int(resp.headers["Retry-After"]) <= 40
        for s in servers:  # another key has its own count
            with s.client("other") as other:
                assert other.get(PATH).status_code == 200
        keys = redis.Redis.from_url(REDIS).keys(f"autoscorer-ratelimit*{key.name}*")
        assert keys, "the count is kept in Redis"
    finally:
        for s in servers:
            s.stop()


def test_unreachable_redis_falls_back_to_a_count_per_process(tmp_path: Path) -> None:
    key = Key(f"lim-{uuid.uuid4().hex[:8]}", "reader", rate_limit=0.1)
    servers = two_servers(tmp_path, key, "redis://127.0.0.1:1/0")
    try:
        for s in servers:  # each process allows its own burst of 4, then refuses
            with s.client(key.name) as c:
                codes = [c.get(PATH).status_code for _ in range(5)]
                assert codes == [200, 200, 200, 200, 429]
        for s in servers:
            assert "rate limit storage redis://127.0.0.1:1/0 unreachable" in s.log.read_text()
    finally:
        for s in servers:
            s.stop()
