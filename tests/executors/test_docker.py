"""Docker-only behaviour: the container's configuration, images, stats, orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import BUSYBOX_IMAGE, SESSION, TEST_LABEL, make_executor, python

from autoscorer.errors import ExecutorUnavailable, InvalidParameter
from autoscorer.executors.docker import LABEL_KEEP, DockerExecutor, sample_from_stats
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.workspace.layout import Workspace

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("require_docker")]
WsFactory = Callable[..., Path]


def spec_of(root: Path, **kw: Any) -> Any:
    ws = Workspace.at(root)
    return build_spec(ws, ws.load_meta(), **kw)


def test_container_is_locked_down(workspace: WsFactory, docker_client: Any) -> None:
    """Inspect the live container: every isolation setting reached the engine."""
    root = workspace(python("import time; print('up', flush=True); time.sleep(30)"))
    ex = make_executor("docker")
    spec = spec_of(root)
    box: list[RunOutcome] = []
    t = threading.Thread(target=lambda: box.append(ex.run(spec)))
    t.start()
    deadline = time.monotonic() + 20
    found: list[Any] = []
    while not found and time.monotonic() < deadline:
        found = docker_client.containers.list(filters={"label": f"{TEST_LABEL}={SESSION}"})
        time.sleep(0.05)
    attrs = found[0].attrs
    ex.cancel(spec.job_id)
    t.join(10)
    hc, cfg = attrs["HostConfig"], attrs["Config"]
    assert hc["NetworkMode"] == "none" and hc["ReadonlyRootfs"] is True
    assert hc["CapDrop"] == ["ALL"] and hc["SecurityOpt"] == ["no-new-privileges"]
    assert hc["PidsLimit"] == 64 and hc["Memory"] == 256 * 1024**2
    assert hc["MemorySwap"] == 256 * 1024**2 and hc["NanoCpus"] == 10**9
    assert hc["Tmpfs"]["/tmp"].startswith("rw,nosuid,nodev")
    assert cfg["User"] == "65534:65534" and cfg["WorkingDir"] == "/workspace"
    assert cfg["Env"].count("AUTOSCORER_OUTPUT=/workspace/output") == 1
    mounts = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
    assert mounts == {
        "/workspace/input/data": False,
        "/workspace/output": True,
        "/workspace/logs": True,
    }
    assert box[0].error is not None and box[0].error.code == "CANCELLED"


def test_image_absent_with_pull_never(workspace: WsFactory) -> None:
    root = workspace(["true"], container={"image": "autoscorer-test/absent:1"})
    outcome = make_executor("docker").run(spec_of(root))
    err = outcome.error
    assert err is not None and err.code == "IMAGE_NOT_FOUND" and err.fault == "host"
    assert "pull_policy is 'never'" in err.message
    info = json.loads((root / "logs" / "run_info.json").read_text())
    assert info["error"]["code"] == "IMAGE_NOT_FOUND" and info["sandbox_id"] is None


def test_image_pull_failure_is_image_not_found(workspace: WsFactory) -> None:
    # a registry on a closed loopback port: the pull fails without leaving the machine
    image = "127.0.0.1:1/autoscorer/absent:1"
    root = workspace(["true"], container={"image": image, "pull_policy": "if-missing"})
    outcome = make_executor("docker").run(spec_of(root))
    assert outcome.error is not None and outcome.error.code == "IMAGE_NOT_FOUND"
    assert "could not be pulled" in outcome.error.message


def test_peak_resources_are_sampled(workspace: WsFactory) -> None:
    code = "import time\nb = bytearray(96 << 20)\nb[::4096] = b'x' * len(b[::4096])\n"
    code += "t = time.time()\nwhile time.time() - t < 2.5: pass\n"
    code += "open('/workspace/output/pred.csv', 'w').write('id,label\\n')"
    outcome = make_executor("docker").run(spec_of(workspace(python(code))))
    assert outcome.ok, outcome.error
    assert outcome.peak_memory is not None and outcome.peak_memory > 90 * 1024**2
    assert outcome.peak_cpu is not None and outcome.peak_cpu > 0.3


def test_keep_container(workspace: WsFactory, docker_client: Any) -> None:
    root = workspace(["sh", "-c", "echo id,label > /workspace/output/pred.csv"])
    meta = json.loads((root / "meta.json").read_text())
    meta["container"]["image"] = BUSYBOX_IMAGE
    (root / "meta.json").write_text(json.dumps(meta))
    outcome = make_executor("docker").run(spec_of(root, keep=True))
    assert outcome.ok
    kept = docker_client.containers.get(outcome.sandbox_id)
    try:
        assert kept.labels[LABEL_KEEP] == "1" and kept.status == "exited"
        assert make_executor("docker").reap_orphans() == []  # kept ones are never reaped
    finally:
        kept.remove(force=True)


CRASHING_CALLER = """
import sys
from autoscorer.executors.docker import DockerExecutor
from autoscorer.executors.spec import build_spec
from autoscorer.workspace.layout import Workspace
ws = Workspace.at(sys.argv[1])
DockerExecutor(labels={sys.argv[2]: sys.argv[3]}).run(build_spec(ws, ws.load_meta()))
"""


def test_container_of_a_crashed_caller_is_reaped(workspace: WsFactory, docker_client: Any) -> None:
    root = workspace(python("import time; time.sleep(60)"))
    caller = subprocess.Popen(
        [sys.executable, "-c", CRASHING_CALLER, str(root), TEST_LABEL, SESSION]
    )
    label = {"label": f"{TEST_LABEL}={SESSION}"}
    deadline = time.monotonic() + 30
    while not docker_client.containers.list(filters=label) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert docker_client.containers.list(filters=label), "the caller never started a container"
    os.kill(caller.pid, signal.SIGKILL)  # no finally, no cleanup in the caller
    caller.wait()
    assert docker_client.containers.list(all=True, filters=label)  # still there...
    make_executor("docker")  # ...until the next executor starts and reaps it
    assert docker_client.containers.list(all=True, filters=label) == []


def test_describe_creates_nothing(workspace: WsFactory, docker_client: Any) -> None:
    ex = make_executor("docker")
    desc = ex.describe(spec_of(workspace(["true"])))
    assert desc["network_mode"] == "none" and desc["read_only"] is True
    assert desc["memswap_limit"] == desc["mem_limit"] == 256 * 1024**2
    assert desc["labels"][TEST_LABEL] == SESSION
    assert (
        docker_client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={SESSION}"}) == []
    )


def test_root_user_and_restricted_network_are_refused(workspace: WsFactory) -> None:
    ex = make_executor("docker")
    root = workspace(["true"], container={"user": "0:0"})
    with pytest.raises(InvalidParameter, match="root"):
        ex.describe(spec_of(root))
    root = workspace(["true"], network_policy="restricted")
    with pytest.raises(InvalidParameter, match="restricted_network"):
        ex.describe(spec_of(root))


def test_gpus_become_a_device_request(workspace: WsFactory) -> None:
    desc = make_executor("docker").describe(spec_of(workspace(["true"], resources={"gpus": 2})))
    assert desc["device_requests"] == [
        {"Driver": "", "Count": 2, "DeviceIDs": [], "Capabilities": [["gpu"]], "Options": {}}
    ]


def test_unreachable_engine_is_executor_unavailable() -> None:
    with pytest.raises(ExecutorUnavailable, match="does not answer"):
        DockerExecutor(base_url="tcp://127.0.0.1:1", timeout=2)


def test_health_reports_engine() -> None:
    health = make_executor("docker").health()
    assert health["status"] == "healthy" and health["engine_version"]


def test_stats_record_parsing() -> None:
    record = {
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 2_000_000_000},
            "system_cpu_usage": 18_000_000_000,
        },
        "memory_stats": {"usage": 50_000_000, "stats": {"total_inactive_file": 10_000_000}},
    }
    sample = sample_from_stats(record)
    assert sample.cpu == pytest.approx(1.0) and sample.memory == 40_000_000
    first = sample_from_stats({**record, "precpu_stats": {}})
    assert first.cpu is None  # no previous reading yet


class FlakyApi:
    """``client.api`` whose ``remove_container`` fails with the given errors, then works."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors, self.calls = list(errors), 0

    def remove_container(self, container_id: str, force: bool, v: bool) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def _executor_with(api: FlakyApi) -> DockerExecutor:
    client = type("Client", (), {"api": api})()
    return DockerExecutor(client=client, reap_orphans=False)


def test_orphan_removal_retries_transient_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker.errors

    sleeps: list[float] = []
    monkeypatch.setattr("autoscorer.executors.docker.time.sleep", sleeps.append)
    busy = docker.errors.APIError("removal of container x is already in progress")
    api = FlakyApi([busy, busy])
    assert _executor_with(api)._force_remove("c1") is True
    assert api.calls == 3 and sleeps == [0.2, 0.4]

    sleeps.clear()
    api = FlakyApi([busy, busy, busy, busy])
    assert _executor_with(api)._force_remove("c2") is False
    assert api.calls == 3 and sleeps == [0.2, 0.4]  # no sleep after the last attempt

    gone = docker.errors.NotFound("no such container")
    api = FlakyApi([gone])
    assert _executor_with(api)._force_remove("c3") is False and api.calls == 1
