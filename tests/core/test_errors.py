"""The error tree: codes, statuses, faults and round-tripping through dicts."""

from __future__ import annotations

import pytest

from autoscorer import errors


def test_contract_codes_and_statuses() -> None:
    table = {
        errors.InvalidParameter: ("INVALID_PARAMETER", 400),
        errors.MissingParameter: ("MISSING_PARAMETER", 400),
        errors.DataValidationError: ("VALIDATION_ERROR", 422),
        errors.ResourceNotFound: ("RESOURCE_NOT_FOUND", 404),
        errors.ScorerNotFound: ("SCORER_NOT_FOUND", 404),
        errors.WorkspaceInvalid: ("WORKSPACE_INVALID", 422),
        errors.ExecutionFailed: ("EXECUTION_FAILED", 500),
        errors.JobTimeout: ("TIMEOUT_ERROR", 408),
        errors.QuotaExceeded: ("QUOTA_EXCEEDED", 429),
        errors.ServiceUnavailable: ("SERVICE_UNAVAILABLE", 503),
    }
    for cls, (code, status) in table.items():
        assert (cls.code, cls.http_status) == (code, status), cls


def test_to_dict_carries_field_details_and_fault() -> None:
    err = errors.DuplicateId(
        "output/pred.csv row 3: id 'a' repeated", field="id", details={"row": 3}
    )
    d = err.to_dict()
    assert d == {
        "code": "DUPLICATE_ID",
        "message": "output/pred.csv row 3: id 'a' repeated",
        "field": "id",
        "details": {"row": 3, "fault": "participant"},
    }
    assert isinstance(err, errors.DataValidationError)
    assert err.http_status == 422


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("SCORER_NOT_FOUND", errors.ScorerNotFound),
        ("RESOURCE_NOT_FOUND", errors.ResourceNotFound),
        ("OOM_KILLED", errors.OOMKilled),
        ("NOPE", errors.AutoScorerError),
    ],
)
def test_from_dict_rebuilds_the_class(code: str, cls: type) -> None:
    err = errors.from_dict({"code": code, "message": "m", "field": "f", "details": {"x": 1}})
    assert type(err) is cls
    assert (err.message, err.field, err.details) == ("m", "f", {"x": 1})


def test_quota_exceeded_has_retry_after() -> None:
    err = errors.QuotaExceeded("slow down", retry_after=3.5)
    assert err.retry_after == 3.5
    assert err.to_dict()["details"]["retry_after"] == 3.5


def test_every_class_has_a_docstring_and_unique_identity() -> None:
    classes = errors._all_subclasses(errors.AutoScorerError)
    assert len(classes) == len(set(classes))
    for cls in classes:
        assert cls.__doc__, cls
        assert cls.fault in {errors.PARTICIPANT, errors.HOST, errors.SYSTEM}
