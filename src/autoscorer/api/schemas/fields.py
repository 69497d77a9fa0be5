"""Constrained types for request fields: the rules of :mod:`autoscorer.inputs` as pydantic
types, so the server enforces them and ``/openapi.json`` states them (``pattern``,
``maxLength``, ``minimum``/``maximum``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from autoscorer.inputs import (
    API_PATH_PATTERN,
    INT64_MAX,
    JOB_ID_PATTERN,
    MAX_NAME,
    MAX_PATH,
    MAX_TEXT,
    MAX_TREE_DEPTH,
    MAX_TREE_ITEMS,
    MAX_TREE_TEXT,
    MAX_URL,
    NAME_PATTERN,
    TEXT_PATTERN,
    api_path_problem,
    text_problem,
    tree_problem,
)


def _raise_on(problem: Callable[[Any], str | None]) -> AfterValidator:
    def check(value: Any) -> Any:
        found = problem(value)
        if found:
            raise ValueError(found)
        return value

    return AfterValidator(check)


def _text_rule(max_length: int) -> AfterValidator:
    return _raise_on(lambda v: text_problem(v, max_length=max_length))


# The pattern is documented (json_schema_extra), and enforced by the validator, which
# gives a clear message instead of "should match pattern".
ApiPath = Annotated[
    str,
    Field(min_length=1, max_length=MAX_PATH, json_schema_extra={"pattern": API_PATH_PATTERN}),
    _raise_on(api_path_problem),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME, json_schema_extra={"pattern": NAME_PATTERN}),
    _text_rule(MAX_NAME),
]
Text = Annotated[
    str,
    Field(max_length=MAX_TEXT, json_schema_extra={"pattern": TEXT_PATTERN}),
    _text_rule(MAX_TEXT),
]


def _url_problem(value: str) -> str | None:
    if not value.startswith(("http://", "https://")):
        return "must be an http(s) URL"
    try:
        urlsplit(value).port  # noqa: B018 -- parses host and port; raises on a bad one
    except ValueError as exc:  # "http://[::1", "http://h:99999": not a URL (found by fuzzing)
        return f"is not a URL: {exc}"
    return None


Url = Annotated[
    str,
    Field(min_length=1, max_length=MAX_URL, json_schema_extra={"pattern": r"^https?://[^\x00]+$"}),
    _text_rule(MAX_URL),
    _raise_on(_url_problem),
]
JobId = Annotated[str, Field(pattern=JOB_ID_PATTERN)]
_KEYS = {"maxLength": 2 * MAX_NAME, "pattern": TEXT_PATTERN}
# Free-form values are described loosely ("any JSON value"): a typed, nested description
# made schemathesis's coverage phase take ten minutes instead of half a minute. The server
# still checks every nested key and value by the rules of autoscorer.inputs.
JSON_VALUE_SCHEMAS = {
    "JsonValue": {
        "description": (
            f"Any JSON value; the server refuses text holding NUL or longer than "
            f"{MAX_TREE_TEXT} characters, numbers outside the signed 64-bit range, more than "
            f"{MAX_TREE_DEPTH} levels or {MAX_TREE_ITEMS} values in all"
        )
    }
}
JSON_VALUE_REF = {"$ref": "#/components/schemas/JsonValue"}
FreeObject = Annotated[
    dict[str, Any],
    Field(
        json_schema_extra={
            "propertyNames": _KEYS,
            "additionalProperties": JSON_VALUE_REF,
            "maxProperties": MAX_TREE_ITEMS,
        }
    ),
    _raise_on(tree_problem),
]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]

__all__ = ["ApiPath", "Count", "FreeObject", "JobId", "Name", "Text", "Url"]
