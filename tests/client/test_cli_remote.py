"""``autoscorer submit|status|result|logs|cancel|jobs`` against the real server."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from autoscorer.cli.main import app


@pytest.fixture
def cli(live):
    runner = CliRunner()
    env = {"AUTOSCORER_SERVER": live.url, "AUTOSCORER_API_KEY": live.admin_key}

    def invoke(*args: str, env_extra: dict[str, str] | None = None):
        return runner.invoke(app, list(args), env={**env, **(env_extra or {})})

    return invoke


def test_submit_wait_json_then_status_result_logs(live, cli) -> None:
    job_id = f"cli-{uuid.uuid4().hex[:8]}"
    out = cli("submit", live.ws("cli"), "--job-id", job_id, "--wait", "--json")
    assert out.exit_code == 0, out.output
    outcome = json.loads(out.stdout)
    assert outcome["success"] is True
    assert outcome["data"]["result"]["summary"]["score"] == pytest.approx(2 / 3)

    status = cli("status", job_id, "--json")
    assert json.loads(status.stdout)["status"] == "completed"
    table = cli("status", job_id)
    assert "completed" in table.stdout and "100%" in table.stdout

    result = cli("result", job_id)
    assert result.exit_code == 0 and "0.666" in result.stdout and "accuracy" in result.stdout

    logs = cli("logs", job_id, "--json")
    lines = [json.loads(line) for line in logs.stdout.splitlines()]
    assert lines and all("message" in e for e in lines)


def test_submit_wait_draws_progress_and_prints_the_result(live, cli) -> None:
    out = cli("submit", live.ws("cli-wait"), "--wait", "--param", "average=micro")
    assert out.exit_code == 0, out.output
    assert "score" in out.stdout and "0.666" in out.stdout


def test_submit_without_wait_prints_the_job_id(live, cli) -> None:
    out = cli("submit", live.ws("cli-async"), "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["job_id"]


def test_failed_job_exits_non_zero(live, cli) -> None:
    out = cli("submit", live.ws("cli-bad", pred="id,oops\n1,a\n"), "--wait", "--json")
    assert out.exit_code == 1
    assert json.loads(out.stdout)["errors"][0]["code"] == "MISSING_COLUMN"


def test_logs_follow_and_cancel(live, cli, slow_scorer) -> None:
    ws = live.ws("cli-slow", scorer=slow_scorer, task_type="custom")
    job = json.loads(cli("submit", ws, "--param", "seconds=2", "--json").stdout)
    follow = cli("logs", job["job_id"], "--follow", "--json")  # started while the job runs
    assert follow.exit_code == 0
    followed = [json.loads(line)["message"] for line in follow.stdout.splitlines() if line]
    assert json.loads(cli("status", job["job_id"], "--json").stdout)["status"] == "completed"
    stored = [
        json.loads(line)["message"]
        for line in cli("logs", job["job_id"], "--json").stdout.splitlines()
        if line
    ]
    # every line, including those written after the follow began (the score and the end)
    assert followed == stored and len(stored) >= 3

    slow = json.loads(cli("submit", ws, "--param", "seconds=5", "--json").stdout)
    out = cli("cancel", slow["job_id"])
    assert out.exit_code == 0 and "cancelled" in out.stdout
    again = cli("cancel", slow["job_id"], "--json")
    assert again.exit_code == 2
    assert json.loads(again.stdout)["error"]["code"] == "CONFLICT"


def test_jobs_table_and_all_pages(live, cli) -> None:
    cli("submit", live.ws("cli-list"), "--wait", "--json")
    table = cli("jobs", "--limit", "3")
    assert table.exit_code == 0 and "Jobs (3 of" in table.stdout
    every = json.loads(cli("jobs", "--all", "--limit", "2", "--json").stdout)
    ids = [j["job_id"] for j in every["jobs"]]
    assert len(ids) == len(set(ids)) == every["total"] >= 3


def test_errors_are_one_line(live, cli) -> None:
    out = cli("status", "no-such-job")
    assert out.exit_code == 2
    assert "RESOURCE_NOT_FOUND" in out.output and "Traceback" not in out.output
    anon = cli("jobs", env_extra={"AUTOSCORER_API_KEY": ""})
    assert anon.exit_code == 2 and "UNAUTHORIZED" in anon.output


def test_unreachable_server() -> None:
    out = CliRunner().invoke(app, ["jobs", "--server", "http://127.0.0.1:9"])
    assert out.exit_code == 1 and "error" in out.output and "Traceback" not in out.output


def test_bad_param_is_a_clear_error(live, cli) -> None:
    out = cli("submit", live.ws("cli"), "--param", "novalue")
    assert out.exit_code == 2 and "name=value" in out.output
