"""The SDK's public surface is exactly its curated ``__all__``; the twins match."""

from __future__ import annotations

import inspect
import types

import pytest

import autoscorer.client as sdk
import autoscorer_client
from autoscorer import errors as server_errors
from autoscorer.client import _async_resources, _resources
from autoscorer.client._errors import APIError, error_class


def test_public_names_are_exactly_all() -> None:
    public = {
        name
        for name, value in vars(sdk).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(sdk.__all__)
    assert sorted(sdk.__all__) == sdk.__all__


def test_autoscorer_client_reexports_the_same_objects() -> None:
    assert autoscorer_client.__all__ == sdk.__all__
    for name in sdk.__all__:
        assert getattr(autoscorer_client, name) is getattr(sdk, name)


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(cls).items()
        if callable(fn) and not name.startswith("_")
    }


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [
        (sdk.AutoScorerClient, sdk.AsyncAutoScorerClient),
        (_resources.Scorers, _async_resources.Scorers),
        (_resources.Workspaces, _async_resources.Workspaces),
        (_resources.Config, _async_resources.Config),
    ],
)
def test_async_twin_has_the_same_methods_and_signatures(sync_cls: type, async_cls: type) -> None:
    sync_methods = _public_methods(sync_cls)
    async_methods = _public_methods(async_cls)
    sync_methods.pop("close", None)
    async_methods.pop("aclose", None)
    assert sync_methods.keys() == async_methods.keys()
    for name, sig in sync_methods.items():
        assert list(sig.parameters) == list(async_methods[name].parameters), name
        fn = getattr(async_cls, name)
        assert inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn), name


def _server_tree() -> list[type[server_errors.AutoScorerError]]:
    return server_errors._all_subclasses(server_errors.AutoScorerError)


@pytest.mark.parametrize("server_cls", _server_tree(), ids=lambda c: c.__name__)
def test_every_server_code_maps_to_the_client_class_of_its_nearest_ancestor(
    server_cls: type[server_errors.AutoScorerError],
) -> None:
    cls = error_class(server_cls.code, server_cls.http_status)
    assert issubclass(cls, APIError)
    ancestor_codes = [getattr(a, "code", None) for a in server_cls.__mro__]
    assert cls.default_code in ancestor_codes
    assert ancestor_codes.index(cls.default_code) == min(
        i for i, c in enumerate(ancestor_codes) if c in {k.default_code for k in _sdk_errors()}
    )


def _sdk_errors() -> list[type[APIError]]:
    return [v for v in vars(sdk).values() if isinstance(v, type) and issubclass(v, APIError)]


def test_contract_codes_have_classes_named_after_them() -> None:
    expected = {
        "INVALID_PARAMETER": "InvalidParameter",
        "MISSING_PARAMETER": "MissingParameter",
        "VALIDATION_ERROR": "ValidationError",
        "RESOURCE_NOT_FOUND": "ResourceNotFound",
        "SCORER_NOT_FOUND": "ScorerNotFound",
        "WORKSPACE_INVALID": "WorkspaceInvalid",
        "EXECUTION_FAILED": "ExecutionFailed",
        "TIMEOUT_ERROR": "JobTimeout",
        "QUOTA_EXCEEDED": "QuotaExceeded",
        "SERVICE_UNAVAILABLE": "ServiceUnavailable",
    }
    for code, name in expected.items():
        assert error_class(code, 200).__name__ == name


def test_unknown_code_falls_back_on_the_http_status() -> None:
    assert error_class("SOMETHING_NEW", 404) is sdk.ResourceNotFound
    assert error_class(None, 418) is APIError
