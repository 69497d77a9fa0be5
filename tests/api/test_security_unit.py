"""Keys, roles, the token bucket and path roots, without HTTP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autoscorer.api.security import RateLimiter, authenticate, check_role, inside_roots
from autoscorer.errors import Forbidden, InvalidParameter, QuotaExceeded, Unauthorized
from autoscorer.settings import ApiKey, Settings, hash_key


def _keys(**extra: object) -> Settings:
    keys = [
        ApiKey(name="r", sha256=hash_key("read-key"), role="reader"),
        ApiKey(name="a", sha256=hash_key("admin-key"), role="admin", rate_limit=2),
    ]
    return Settings(api_keys=keys, **extra)


def test_open_server_makes_everyone_admin() -> None:
    assert authenticate(Settings(), None).role == "admin"


def test_keys_are_matched_by_hash_and_roles_are_ordered() -> None:
    s = _keys()
    reader = authenticate(s, "read-key")
    admin = authenticate(s, "admin-key")
    assert (reader.name, reader.role, admin.rate_limit) == ("r", "reader", 2)
    check_role(admin, "submitter")
    with pytest.raises(Forbidden, match="'submitter' role"):
        check_role(reader, "submitter")
    with pytest.raises(Unauthorized, match="not valid"):
        authenticate(s, "guess")
    with pytest.raises(Unauthorized, match="required"):
        authenticate(s, None)
    assert authenticate(_keys(anonymous_role="reader"), None).role == "reader"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_burst_then_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    for _ in range(3):
        limiter.hit("k", rate=2.0, burst=3)
    with pytest.raises(QuotaExceeded) as info:
        limiter.hit("k", rate=2.0, burst=3)
    assert info.value.retry_after == pytest.approx(0.5)
    limiter.hit("other", rate=2.0, burst=3)  # buckets are per caller
    clock.now += 0.5
    limiter.hit("k", rate=2.0, burst=3)
    with pytest.raises(QuotaExceeded):
        limiter.hit("k", rate=2.0, burst=3)
    limiter.hit("k", rate=0.0, burst=1)  # 0 = unlimited


def test_paths_must_resolve_inside_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "ws").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    os.symlink(outside, root / "link")
    roots = [str(root)]
    assert inside_roots("ws", roots, "workspace_path") == (root / "ws").resolve()
    assert inside_roots(str(root / "ws"), roots, "workspace_path") == (root / "ws").resolve()
    for escape in ("../secret", str(outside), "link", "ws/../../secret", "/etc"):
        with pytest.raises(Forbidden) as info:
            inside_roots(escape, roots, "file_path")
        assert info.value.field == "file_path"
    with pytest.raises(InvalidParameter):
        inside_roots("", roots, "workspace_path")
    with pytest.raises(InvalidParameter):
        inside_roots("a\x00b", roots, "workspace_path")
