"""``GET /api/v1/config``: one named schema per section, built from the settings table.

:data:`autoscorer.settings.SECTIONS` maps each section's keys (``k8s.enabled``) to a
settings field; the field's type is the key's type here, so the document follows the
settings without a second list. Every key is optional: ``section=`` picks one section
and ``include_defaults=false`` shows only keys set explicitly. Secrets show as
``********`` (a string), so they are typed as strings.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, create_model

from autoscorer.api.schemas.common import Public
from autoscorer.settings import SECTIONS, Settings


class ApiKeyShown(Public):
    name: str
    role: Literal["reader", "submitter", "admin"]
    sha256: str = "********"


def _key_type(field: str) -> Any:
    if field == "api_keys":
        return list[ApiKeyShown]
    annotation = Settings.model_fields[field].annotation
    if annotation is SecretStr or annotation == (SecretStr | None):
        return str | None
    return annotation


def _model(name: str, keys: dict[str, Any]) -> type[BaseModel]:
    """A model of ``keys`` (nested dicts become nested models); every key optional."""
    fields: dict[str, Any] = {}
    for key, value in keys.items():
        if isinstance(value, dict):
            sub = _model(f"{name}{key.title()}", value)
            fields[key] = (sub | None, None)
        else:
            fields[key] = (value | None, None)
    config = ConfigDict(extra="ignore")
    return create_model(name, __config__=config, **fields)


def _nested(section: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, field in SECTIONS[section].items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _key_type(field)
    return out


SECTION_MODELS = {
    section: _model(f"{section.title()}Config", _nested(section)) for section in SECTIONS
}
ConfigPublic = create_model(  # type: ignore[call-overload]
    "ConfigPublic",
    __config__=ConfigDict(extra="forbid"),
    __doc__="The settings by section (only the one asked for with section=).",
    **{section: (model | None, None) for section, model in SECTION_MODELS.items()},
)
