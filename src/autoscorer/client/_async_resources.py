"""Sub-APIs of the asynchronous client: ``client.scorers``, ``.workspaces``, ``.config``.

``scripts/gen-sync-client`` generates ``_resources.py`` (the synchronous ones) from this file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from autoscorer.client import _calls as calls
from autoscorer.client import _models as m

if TYPE_CHECKING:
    from autoscorer.client._async_client import AsyncAutoScorerClient

ScorerList = list[m.ScorerInfo]


class _Resource:
    def __init__(self, client: AsyncAutoScorerClient) -> None:
        self._client = client


class Scorers(_Resource):
    """``/api/v1/scorers``: list, inspect, test, load, reload and watch scorers."""

    async def list(
        self, *, task_type: str | None = None, include_details: bool | None = None
    ) -> ScorerList:
        """Every registered scorer (optionally of one task type)."""
        return await self._client.request(calls.list_scorers(task_type, include_details))

    async def get(
        self, name: str, *, version: str | None = None, include_examples: bool | None = None
    ) -> m.ScorerInfo:
        """One scorer's parameters, formats and examples."""
        return await self._client.request(calls.get_scorer(name, version, include_examples))

    async def test(
        self,
        name: str,
        workspace_path: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        validate_only: bool | None = None,
        timeout: float | None = None,
    ) -> m.ScorerTest:
        """Run (or only validate) a scorer on a workspace without creating a job."""
        body = {
            "workspace_path": workspace_path,
            "parameters": parameters,
            "validate_only": validate_only,
        }
        return await self._client.request(calls.test_scorer(name, body, timeout))

    async def load(
        self,
        file_path: str,
        *,
        auto_watch: bool | None = None,
        check_interval: float | None = None,
        force_reload: bool | None = None,
    ) -> m.ScorersLoaded:
        """Load the scorers a Python file registers (admin)."""
        body = {
            "file_path": file_path,
            "auto_watch": auto_watch,
            "check_interval": check_interval,
            "force_reload": force_reload,
        }
        return await self._client.request(calls.load_scorers(body))

    async def reload(self, file_path: str, *, scorer_name: str | None = None) -> m.ScorersReloaded:
        """Reload a scorer file; a failing reload keeps the old version (admin)."""
        return await self._client.request(calls.reload_scorers(file_path, scorer_name))

    async def watch(self, file_path: str, *, check_interval: float | None = None) -> m.WatchStarted:
        """Reload ``file_path`` whenever it changes (admin)."""
        return await self._client.request(calls.watch_scorer(file_path, check_interval))

    async def unwatch(self, file_path: str) -> m.WatchStopped:
        """Stop watching ``file_path`` (admin)."""
        return await self._client.request(calls.unwatch_scorer(file_path))

    async def watch_status(self) -> m.WatchStatus:
        """The files being watched."""
        return await self._client.request(calls.watch_status())


class Workspaces(_Resource):
    """``/api/v1/workspaces``: validate and initialise workspaces on the server."""

    async def validate(
        self,
        workspace_path: str,
        *,
        task_type: str | None = None,
        scorer: str | None = None,
        strict_mode: bool | None = None,
        auto_fix: bool | None = None,
    ) -> m.WorkspaceValidation:
        """Check layout, data files and meta.json; ``.valid`` and ``.errors`` say how it went."""
        body = {
            "workspace_path": workspace_path,
            "task_type": task_type,
            "scorer": scorer,
            "strict_mode": strict_mode,
            "auto_fix": auto_fix,
        }
        return await self._client.request(calls.validate_workspace(body))

    async def init(
        self,
        workspace_path: str,
        *,
        template: str | None = None,
        job_id: str | None = None,
        task_type: str | None = None,
        scorer: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> m.WorkspaceCreated:
        """Create the standard layout and meta.json."""
        body = {
            "workspace_path": workspace_path,
            "template": template,
            "job_id": job_id,
            "task_type": task_type,
            "scorer": scorer,
            "config": config,
        }
        return await self._client.request(calls.init_workspace(body))


class Config(_Resource):
    """``/api/v1/config``: read and change the server's configuration."""

    async def get(
        self, *, section: str | None = None, include_defaults: bool | None = None
    ) -> m.SystemConfig:
        """The whole configuration or one section (attributes are the sections)."""
        return await self._client.request(calls.get_config(section, include_defaults))

    async def update(
        self, section: str, config: Mapping[str, Any], *, restart_required: bool | None = None
    ) -> m.ConfigUpdate:
        """Change one section (admin); ``.changes`` lists old and new values."""
        return await self._client.request(calls.update_config(section, config, restart_required))
