"""The executor contract, run against the real Docker engine and real local processes.

Every test here runs for ``kind`` in (docker, local); the autouse ``no_leftovers``
fixture then checks the engine's container list (by this session's label) and
the process table.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SOLVE, python

import autoscorer
from autoscorer.executors.base import Executor
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_pipeline
from autoscorer.workspace.layout import Workspace

WsFactory = Callable[..., Path]


def run(executor: Executor, root: Path, cancel: CancelToken | None = None) -> RunOutcome:
    ws = Workspace.at(root)
    return executor.run(build_spec(ws, ws.load_meta()), cancel=cancel)


def probe(executor: Executor, workspace: WsFactory, code: str, **meta: Any) -> dict[str, Any]:
    """Run ``code`` (which fills the dict ``r``) in the sandbox and return ``r``."""
    script = (
        "import json, os\nr = {}\n"
        + code
        + "\njson.dump(r, open('/workspace/output/probe.json', 'w'))\n"
        + "open('/workspace/output/pred.csv', 'w').write('id,label\\n')\n"
    )
    root = workspace(python(script), **meta)
    outcome = run(executor, root)
    assert outcome.ok, (outcome.error, outcome.log_tail)
    return dict(json.loads((root / "output" / "probe.json").read_text()))


def test_correct_submission_scores(kind: str, executor: Executor, workspace: WsFactory) -> None:
    root = workspace(python(SOLVE))
    progress: list[tuple[str, float]] = []
    req = PipelineRequest(workspace=str(root), executor=kind)
    result = run_pipeline(req, executor=executor, on_progress=lambda s, v: progress.append((s, v)))
    assert result.error is None, result.error
    assert result.summary.score == 1.0
    assert result.timing.inference_time > 0
    assert result.timing.total_time >= result.timing.inference_time + result.timing.scoring_time
    if kind == "local":  # the engine's stats come once a second: too slow for this run
        assert result.resources.peak_memory is not None
    if kind == "docker":
        assert result.provenance.image_digest.startswith("sha256:")
    stages = [s for s, _ in progress]
    assert stages[0] == "validating" and stages[-1] == "done"
    assert {"inference", "scoring", "finalizing"} <= set(stages)
    assert [v for _, v in progress] == sorted(v for _, v in progress)
    on_disk = json.loads((root / "output" / "result.json").read_text())
    assert on_disk["summary"]["score"] == 1.0
    assert "predicting 20 ids" in (root / "logs" / "container.log").read_text()
    info = json.loads((root / "logs" / "run_info.json").read_text())
    assert info["exit_code"] == 0 and info["status"] == "succeeded" and info["error"] is None
    assert info["executor"] == kind and info["prediction"] == "output/pred.csv"


def test_timeout_is_killed_on_time(executor: Executor, workspace: WsFactory) -> None:
    root = workspace(python("import time; print('sleeping', flush=True); time.sleep(60)"))
    meta = json.loads((root / "meta.json").read_text())
    (root / "meta.json").write_text(json.dumps({**meta, "time_limit": 1}))
    t0 = time.monotonic()
    outcome = run(executor, root)
    wall = time.monotonic() - t0
    assert outcome.error is not None and outcome.error.code == "TIMEOUT_ERROR"
    assert outcome.error.fault == "participant"
    assert outcome.timed_out and 1.0 <= outcome.duration < 2.0
    assert wall < 6, wall
    info = json.loads((root / "logs" / "run_info.json").read_text())
    assert info["error"]["code"] == "TIMEOUT_ERROR" and info["timed_out"] is True


def test_memory_hog_is_oom_killed(executor: Executor, workspace: WsFactory) -> None:
    hog = "a = []\nwhile True:\n    a.append(b'x' * (8 << 20))"
    root = workspace(python(hog), resources={"memory": "64Mi"})
    outcome = run(executor, root)
    assert outcome.error is not None and outcome.error.code == "OOM_KILLED", outcome.error
    assert outcome.oom_killed and outcome.error.fault == "participant"
    assert outcome.error.details["memory_limit"] == "64.0Mi"
    assert json.loads((root / "logs" / "run_info.json").read_text())["oom_killed"] is True


FORK = """
import os, time, sys
n = 0
try:
    while n < 500:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as exc:
    print(f'fork failed after {n}: {exc.strerror}', flush=True)
    sys.exit(3)
print('no limit', flush=True)
"""


def test_fork_bomb_is_stopped_by_pids_limit(executor: Executor, workspace: WsFactory) -> None:
    root = workspace(python(FORK), resources={"pids": 32})
    t0 = time.monotonic()
    outcome = run(executor, root)
    assert time.monotonic() - t0 < 10
    assert outcome.error is not None and outcome.error.code == "EXIT_NONZERO"
    line = next(x for x in outcome.log_tail.splitlines() if x.startswith("fork failed"))
    forked = int(line.split()[3].rstrip(":"))
    assert 0 < forked < 32, line
    assert "Resource temporarily unavailable" in line


NET = """
import socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect(('127.0.0.1', PORT))
    r['net'] = 'connected'
except OSError as exc:
    r['net'] = type(exc).__name__
try:
    socket.create_connection(('1.1.1.1', 53), timeout=2)
    r['internet'] = 'connected'
except OSError as exc:
    r['internet'] = type(exc).__name__
r['interfaces'] = sorted(n for _, n in socket.if_nameindex())
"""


def test_no_network(executor: Executor, workspace: WsFactory) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        r = probe(executor, workspace, NET.replace("PORT", str(port)))
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever reached the host's listener
    assert r["net"] == "ConnectionRefusedError"
    assert r["internet"] != "connected"
    assert r["interfaces"] == ["lo"]


WRITE_INPUT = """
for path in ('/workspace/input/new.txt', '/workspace/input/data/ids.txt', '/workspace/x'):
    try:
        open(path, 'a').write('tampered')
        r[path] = 'written'
    except OSError as exc:
        r[path] = exc.strerror
"""


def test_cannot_write_input(executor: Executor, workspace: WsFactory, tmp_path: Path) -> None:
    r = probe(executor, workspace, WRITE_INPUT)
    assert all(v != "written" for v in r.values()), r
    assert all(p.name != "new.txt" for p in tmp_path.rglob("*"))
    assert "tampered" not in (tmp_path / "ws0" / "input" / "data" / "ids.txt").read_text()


READ_OUTSIDE = """
for path in ('SECRET', '/workspace/meta.json', '/workspace/input/gt.csv', '/root/.bashrc',
             '/etc/shadow', 'PACKAGE'):
    try:
        r[path] = open(path).read()[:20]
    except OSError as exc:
        r[path] = 'denied: ' + type(exc).__name__
r['input'] = sorted(os.listdir('/workspace/input'))
"""


def test_cannot_read_outside_mounts(
    executor: Executor, workspace: WsFactory, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    code = READ_OUTSIDE.replace("SECRET", str(secret)).replace("PACKAGE", autoscorer.__file__)
    r = probe(executor, workspace, code)
    assert r.pop("input") == ["data"]  # gt.csv hidden, only the other entries mounted
    for path, value in r.items():
        assert value.startswith("denied"), (path, value)


def test_ground_truth_visible_only_when_exposed(executor: Executor, workspace: WsFactory) -> None:
    code = "r['input'] = sorted(os.listdir('/workspace/input'))"
    assert probe(executor, workspace, code, expose_gt=True)["input"] == ["data", "gt.csv"]


def test_not_root(executor: Executor, workspace: WsFactory) -> None:
    r = probe(executor, workspace, "r['uid'] = os.getuid(); r['euid'] = os.geteuid()")
    assert r["uid"] != 0 and r["euid"] != 0


def test_crash_gives_exit_nonzero_with_log_tail(executor: Executor, workspace: WsFactory) -> None:
    crash = "print('loading model'); raise RuntimeError('weights file is corrupt')"
    root = workspace(python(crash))
    outcome = run(executor, root)
    err = outcome.error
    assert err is not None and err.code == "EXIT_NONZERO" and err.fault == "participant"
    assert err.details["exit_code"] == 1
    assert "loading model" in err.details["log_tail"]
    assert "RuntimeError: weights file is corrupt" in err.message
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert result.error is not None and result.error.code == "EXIT_NONZERO"
    saved = json.loads((root / "output" / "result.json").read_text())
    assert saved["error"]["code"] == "EXIT_NONZERO"
    assert saved["error"]["details"]["fault"] == "participant"
    assert saved["summary"]["score"] is None and saved["timing"]["inference_time"] > 0


def test_cancel_stops_within_two_seconds(executor: Executor, workspace: WsFactory) -> None:
    root = workspace(python("import time; print('ready', flush=True); time.sleep(60)"))
    token = CancelToken()
    box: list[RunOutcome] = []
    worker = threading.Thread(target=lambda: box.append(run(executor, root, token)))
    worker.start()
    log = root / "logs" / "container.log"
    deadline = time.monotonic() + 20
    while not (log.exists() and "ready" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.exists() and "ready" in log.read_text(), "the submission never started"
    t0 = time.monotonic()
    token.cancel()
    worker.join(10)
    assert time.monotonic() - t0 < 2.0
    assert box and box[0].error is not None and box[0].error.code == "CANCELLED"
    assert box[0].cancelled


def test_no_predictions(executor: Executor, workspace: WsFactory) -> None:
    root = workspace(python("print('forgot to write')"))
    stale = root / "output" / "pred.csv"
    stale.write_text("id,label\n1,1\n")
    old = time.time() - 3600
    import os

    os.utime(stale, (old, old))  # a leftover from an earlier run does not count
    outcome = run(executor, root)
    assert outcome.error is not None and outcome.error.code == "NO_PREDICTIONS"
    assert outcome.error.fault == "participant" and outcome.exit_code == 0


def test_symlinked_prediction_is_refused(executor: Executor, workspace: WsFactory) -> None:
    code = (
        "import os\nos.symlink('/workspace/input/gt.csv', '/workspace/output/pred.csv')\n"
        "os.symlink('/etc', '/workspace/output/artifacts')"
    )
    root = workspace(python(code))
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=executor)
    assert result.error is not None and result.error.code == "NO_PREDICTIONS"
    assert "symbolic link" in result.error.message
    assert not (root / "output" / "artifacts").is_symlink()
