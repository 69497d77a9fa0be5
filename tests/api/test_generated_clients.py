"""Clients generated from ``/openapi.json`` work, typed end to end.

- ``openapi-python-client`` (installed into a throw-away venv: its pins clash with ours)
  generates a Python client from the live server's document; a script using only that
  client submits a job, waits for it and reads ``summary.score`` through typed attributes.
- ``openapi-typescript`` generates types that a ``strict`` TypeScript program type-checks
  while reading the same fields (and fails to read one that does not exist).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
PYTHON_GENERATOR = "openapi-python-client>=0.29,<0.30"
TS_PACKAGES = ["openapi-typescript@7", "typescript@5"]

USE_PYTHON_CLIENT = """
import sys, time
from autoscorer_api import AuthenticatedClient
from autoscorer_api.api.jobs import get_job_result, get_job_status, submit_job
from autoscorer_api.models import (
    EnvelopeJobPublic, EnvelopeJobResultPublic, EnvelopeJobStatusPublic, JobCreate, JobState,
)

client = AuthenticatedClient(base_url=sys.argv[1], token=sys.argv[2])
submitted = submit_job.sync(client=client, body=JobCreate(workspace_path="examples/classification"))
assert isinstance(submitted, EnvelopeJobPublic), submitted
job_id = submitted.data.job_id
for _ in range(300):
    status = get_job_status.sync(job_id, client=client)
    assert isinstance(status, EnvelopeJobStatusPublic), status
    if status.data.status in (JobState.COMPLETED, JobState.FAILED):
        break
    time.sleep(0.1)
answer = get_job_result.sync(job_id, client=client)
assert isinstance(answer, EnvelopeJobResultPublic), answer
result = answer.data.result
score = result.summary.score
assert isinstance(score, float) and 0 <= score <= 1, score
assert result.versioning.scorer == "classification_f1"
assert result.timing.total_time >= 0
print(f"score={score:.4f} metrics={len(result.metrics.additional_properties)}")
"""

TS_PROGRAM = """
import type { components, operations } from "./api";

type Schemas = components["schemas"];
type ResultAnswer = operations["getJobResult"]["responses"][200]["content"]["application/json"];
type SubmitBody = operations["submitJob"]["requestBody"]["content"]["application/json"];

export function score(answer: ResultAnswer): number | null {
  const result = answer.data.result;
  if (result === null) return null;
  const summary: Schemas["SummaryPublic"] = result.summary;
  const passed: boolean | null = summary.pass;
  const total: number = result.timing.total_time;
  const scorer: string | null = result.versioning.scorer;
  const metric: unknown = result.metrics["f1_macro"];
  void passed; void total; void scorer; void metric;
  // @ts-expect-error: no such field, so the generated types are not `any`
  void summary.no_such_field;
  return summary.score;
}

export const body: SubmitBody = { workspace_path: "examples/classification", async: false };
"""
TS_CONFIG = """{"compilerOptions": {"strict": true, "noEmit": true, "target": "ES2022",
 "module": "ES2022", "moduleResolution": "bundler", "noUncheckedIndexedAccess": true},
 "files": ["check.ts"]}"""


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def server(served):
    return served(keys=True)


def test_generated_python_client_reads_the_score(server, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", PYTHON_GENERATOR], tmp_path)
    generator = str(env_dir / "bin" / "openapi-python-client")
    url = f"{server.url}/openapi.json"
    run(
        [generator, "generate", "--url", url, "--meta", "none", "--output-path", "autoscorer_api"],
        tmp_path,
    )
    (tmp_path / "use_client.py").write_text(USE_PYTHON_CLIENT)
    token = server.headers["Authorization"].removeprefix("Bearer ")
    out = run([python, "use_client.py", server.url, token], tmp_path)
    assert out.startswith("score=0.") and "metrics=" in out, out
    assert "Traceback" not in server.output()


def test_generated_typescript_types_check_strictly(server, tmp_path: Path) -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed for the TypeScript generator"
    env = {**os.environ, "npm_config_audit": "false", "npm_config_fund": "false"}
    subprocess.run(
        [npm, "install", "--no-save", "--silent", *TS_PACKAGES],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    bin_dir = tmp_path / "node_modules" / ".bin"
    run(
        [str(bin_dir / "openapi-typescript"), f"{server.url}/openapi.json", "-o", "api.d.ts"],
        tmp_path,
    )
    (tmp_path / "check.ts").write_text(TS_PROGRAM)
    (tmp_path / "tsconfig.json").write_text(TS_CONFIG)
    run([str(bin_dir / "tsc"), "-p", "tsconfig.json"], tmp_path)
    # and the check can fail: reading a field the document does not have is a type error
    (tmp_path / "check.ts").write_text(
        TS_PROGRAM.replace("  // @ts-expect-error: no such", "  // no")
    )
    broken = subprocess.run(
        [str(bin_dir / "tsc"), "-p", "tsconfig.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert broken.returncode != 0 and "no_such_field" in broken.stdout, broken.stdout
