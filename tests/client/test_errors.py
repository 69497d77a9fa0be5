"""Each SDK error class, raised by the real server where it can be provoked, and by the
scripted server for the rest (408, 429, 500, 503)."""

from __future__ import annotations

import uuid

import pytest

from autoscorer.client import (
    APIError,
    AutoScorerClient,
    Conflict,
    ExecutionFailed,
    Forbidden,
    InvalidParameter,
    JobTimeout,
    MissingParameter,
    QuotaExceeded,
    ResourceNotFound,
    ScorerNotFound,
    ServiceUnavailable,
    Unauthorized,
    ValidationError,
    WorkspaceInvalid,
)


def test_scorer_not_found(admin: AutoScorerClient) -> None:
    with pytest.raises(ScorerNotFound) as info:
        admin.scorers.get("no_such_scorer")
    err = info.value
    assert err.code == "SCORER_NOT_FOUND" and err.status_code == 404
    assert "classification_f1" in str(err.details)
    assert err.request_id and err.response is not None


def test_job_not_found(admin: AutoScorerClient) -> None:
    with pytest.raises(ResourceNotFound) as info:
        admin.get_job_status("no-such-job")
    assert info.value.code == "RESOURCE_NOT_FOUND"
    assert not isinstance(info.value, ScorerNotFound)


def test_unauthorized_without_a_key(live) -> None:
    with AutoScorerClient(live.url, api_key="") as anon, pytest.raises(Unauthorized) as info:
        anon.list_jobs()
    assert info.value.status_code == 401


def test_wrong_key_is_unauthorized(live) -> None:
    with AutoScorerClient(live.url, api_key="sk-wrong") as c, pytest.raises(Unauthorized):
        c.list_jobs()


def test_reader_may_not_submit_or_change_config(live) -> None:
    with AutoScorerClient(live.url, api_key=live.reader_key) as reader:
        assert reader.list_jobs().pagination is not None
        with pytest.raises(Forbidden):
            reader.submit_job(workspace_path=live.ws("forbidden"), async_=True)
        with pytest.raises(Forbidden):
            reader.config.update("logging", {"level": "DEBUG"})


def test_workspace_outside_the_roots_is_forbidden(live, admin: AutoScorerClient) -> None:
    with pytest.raises(Forbidden) as info:
        admin.submit_job(workspace_path=str(live.root), async_=True)
    assert info.value.field == "workspace_path"


def test_duplicate_job_id_is_a_conflict(live, admin: AutoScorerClient) -> None:
    job_id = f"dup-{uuid.uuid4().hex[:8]}"
    admin.submit_job(job_id=job_id, workspace_path=live.ws("dup"))
    with pytest.raises(Conflict):
        admin.submit_job(job_id=job_id, workspace_path=live.ws("dup-other"))


def test_invalid_parameter(admin: AutoScorerClient) -> None:
    with pytest.raises(InvalidParameter) as info:
        admin.config.update("logging", {"no_such_setting": 1})
    assert info.value.code == "INVALID_PARAMETER" and info.value.status_code == 400
    assert "no_such_setting" in (info.value.field or "")


def test_missing_parameter(admin: AutoScorerClient) -> None:
    with pytest.raises(MissingParameter) as info:
        admin.submit_job(task_type="classification", async_=True)
    assert info.value.field == "workspace_path"
    assert isinstance(info.value, InvalidParameter)


def test_quota_exceeded_from_the_real_rate_limiter(live) -> None:
    with AutoScorerClient(live.url, api_key=live.limited_key, retries=0) as c:
        with pytest.raises(QuotaExceeded) as info:
            for _ in range(5):
                c.list_jobs(limit=1)
        err = info.value
        assert err.status_code == 429 and err.retry_after is not None and err.retry_after >= 1
        assert err.response is not None and err.response.headers["retry-after"]
    # the same calls with retries wait out Retry-After and get through
    with AutoScorerClient(live.url, api_key=live.limited_key, retries=3) as c:
        for _ in range(2):
            assert c.list_jobs(limit=1).pagination is not None


def test_data_problems_in_a_scorer_test_are_reported_not_raised(live, admin) -> None:
    ws = live.ws("dup-ids", pred="id,label\n1,a\n1,b\n2,b\n3,a\n4,b\n5,a\n6,b\n")
    test = admin.scorers.test("classification_f1", ws)
    assert test.test_status == "failed"
    assert test.error is not None and test.error.code == "DUPLICATE_ID"
    bad = admin.scorers.test(
        "classification_f1", live.ws("bad-avg"), parameters={"average": "sideways"}
    )
    assert bad.test_status == "failed" and bad.error.field == "average"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (408, "TIMEOUT_ERROR", JobTimeout),
        (422, "VALIDATION_ERROR", ValidationError),
        (422, "MISSING_COLUMN", ValidationError),
        (422, "WORKSPACE_INVALID", WorkspaceInvalid),
        (429, "QUOTA_EXCEEDED", QuotaExceeded),
        (500, "EXECUTION_FAILED", ExecutionFailed),
        (500, "EXIT_NONZERO", ExecutionFailed),
        (503, "SERVICE_UNAVAILABLE", ServiceUnavailable),
        (503, "EXECUTOR_UNAVAILABLE", ServiceUnavailable),
        (502, None, APIError),
    ],
)
def test_error_classes_from_a_scripted_server(scripted, status, code, cls) -> None:
    if code is None:
        scripted.reply(status, {"oops": "proxy page"})
    else:
        scripted.fail(status, code, "it went wrong", Retry_After="7")
    with AutoScorerClient(scripted.url, retries=0) as c, pytest.raises(cls) as info:
        c.submit_job(workspace_path="/w")
    err = info.value
    assert type(err) is cls
    assert err.status_code == status
    if code:
        assert (err.code, err.message, err.request_id) == (code, "it went wrong", "req_err")
    if cls is QuotaExceeded:
        assert err.retry_after == 7.0
