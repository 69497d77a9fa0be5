"""The top-level commands: where each lives and what ``autoscorer --help`` says about it.

No imports beyond the standard library: ``autoscorer --help`` and ``--version`` are answered
from this table without importing typer (see ``autoscorer.cli.fasthelp``), and the typer app
imports a command's module only when that command runs (see ``autoscorer.cli.lazy``).
``tests/cli/test_startup.py`` checks the table against the commands themselves.
"""

from __future__ import annotations

from typing import NamedTuple

APP_HELP = "AutoScorer: run submissions in a sandbox and score them exactly."
VERSION_HELP = "Print the version and exit."


class Entry(NamedTuple):
    """The module under ``autoscorer.cli`` that registers a command, and the first
    paragraph of the command's help."""

    module: str
    summary: str


_WORKER = (
    "Run jobs from the broker (AUTOSCORER_BROKER_URL) against the store\n"
    "(AUTOSCORER_DATABASE_URL). Start as many as you like, on as many machines."
)
# in the order ``--help`` lists them (typer's: the modules' commands, then the groups)
COMMANDS = {
    "validate": Entry("workspace", "Check a workspace's layout, meta.json and data files."),
    "init-workspace": Entry("workspace", "Create the standard workspace layout from a template."),
    "score": Entry(
        "workspace", "Score predictions in each workspace and write output/result.json."
    ),
    "run": Entry("run", "Run the submission's inference in a sandbox (no scoring)."),
    "pipeline": Entry(
        "run", "Run inference (when meta.json has a container) and score: output/result.json."
    ),
    "worker": Entry("worker", _WORKER),
    "serve": Entry(
        "serve", "Serve the REST API (docs at /docs). Zero configuration: SQLite, in-process queue."
    ),
    "submit": Entry(
        "jobs_remote",
        "Submit a job (asynchronously); with --wait, wait for and print its result.",
    ),
    "status": Entry("jobs_remote", "Show a job's state and progress."),
    "result": Entry("jobs_remote", "Show a finished job's summary and metrics."),
    "logs": Entry("jobs_remote", "Print a job's logs; --follow streams them until the job ends."),
    "cancel": Entry("jobs_remote", "Cancel queued or running jobs."),
    "jobs": Entry("jobs_remote", "List jobs (newest first)."),
    "artifacts": Entry(
        "artifacts",
        "Download a finished job's artifacts into --out (default: the current directory).",
    ),
    "scorers": Entry("scorers", "List, inspect, try and load scorers."),
    "k8s": Entry("k8s", "Kubernetes executor helpers."),
}
