"""Callback URLs (the allow-list every webhook passes, their redaction in log lines) and the
failure reasons the metrics count."""

from __future__ import annotations

import pytest

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.webhooks import GAVE_UP, RETRYING, Attempt, check_url, failure_reason, redact_url


def test_allow_list() -> None:
    assert check_url("http://127.0.0.1:9/x", ["127.0.0.1"])
    assert check_url("https://hooks.example.com/x", ["*"])
    assert check_url("http://localhost:8080/x", ["localhost:8080"])
    for bad in ("ftp://127.0.0.1/x", "http:///x", "http://127.0.0.1:99999/x", "http://a:b/x"):
        with pytest.raises(InvalidParameter):
            check_url(bad, ["127.0.0.1"])
    with pytest.raises(Forbidden):
        check_url("http://10.0.0.1/x", ["127.0.0.1"])


def test_redact_url_hides_user_info_and_query() -> None:
    assert redact_url("https://u:p@hooks.example.com:8443/x?token=abc") == (
        "https://hooks.example.com:8443/x?..."
    )
    assert redact_url("http://127.0.0.1/hook") == "http://127.0.0.1/hook"


def test_failure_reasons_are_a_small_fixed_set() -> None:
    def reason(outcome: str, code: int | None = None, error: str | None = None) -> str:
        return failure_reason(Attempt("http://h/x", {}, 1, 3, outcome, code, error))

    assert reason(RETRYING, error="ReadTimeout: timed out") == "timeout"
    assert reason(RETRYING, error="ConnectError: refused") == "connection"
    assert (reason(RETRYING, 503), reason(RETRYING, 404), reason(RETRYING, 307)) == (
        "http_5xx", "http_4xx", "http_3xx"
    )  # fmt: skip
    assert reason(GAVE_UP, 503) == "gave_up"
