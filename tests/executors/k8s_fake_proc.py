"""The fake kubelet's container runtime: a pod's container as a real process.

bwrap gives it the pod's mounts (each ``subPath`` of the PVC's host folder bound at its
``mountPath``, read-only where asked; emptyDirs as tmpfs mode 0777; mount points 0755 in
a read-only root) and no network; setpriv drops to ``runAsUser``/``runAsGroup`` with
``fsGroup`` and ``supplementalGroups`` as extra groups. A ``subPath`` that leaves the
volume is refused as the kubelet refuses it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from k8s_fake_pod import FakePod

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc/alternatives", "/etc/ld.so.cache")


class MountRefused(Exception):
    """A subPath that leaves its volume (the kubelet refuses such mounts)."""


class ProcessRunner:
    """Starts a pod's container as a real process: bwrap for the mounts, setpriv for the ids."""

    def __init__(self, pvc_root: Path, scratch: Path) -> None:
        self.pvc_root, self.scratch = pvc_root.resolve(), scratch

    def spawn(self, pod: FakePod) -> tuple[subprocess.Popen[bytes], Path]:
        # bwrap mounts as root, then setpriv takes the pod's ids: the fake needs root
        assert os.geteuid() == 0, "the fake kubelet runs pods under their uid/gid: run as root"
        c = pod.spec["containers"][0]
        argv = [*c.get("command", []), *c.get("args", [])]
        mounts = self._mounts(pod.spec, c)
        sec = pod.spec.get("securityContext", {})
        uid, gid = sec.get("runAsUser", 0), sec.get("runAsGroup", 0)
        groups = sorted({gid, *([sec["fsGroup"]] if "fsGroup" in sec else []),
                         *sec.get("supplementalGroups", [])})  # fmt: skip
        system: list[str] = []
        for p in SYSTEM:
            if os.path.islink(p):
                system += ["--symlink", os.readlink(p), p]
            elif os.path.exists(p):
                system += ["--ro-bind", p, p]
        cmd = [
            "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", *system,
            "--proc", "/proc", "--dev", "/dev", *mounts, "--remount-ro", "/",
            "--chdir", c.get("workingDir", "/"),
            "setpriv", f"--reuid={uid}", f"--regid={gid}",
            f"--groups={','.join(map(str, groups))}", "--inh-caps=-all", "--bounding-set=-all",
            "--no-new-privs", "--", *argv,
        ]  # fmt: skip
        log = self.scratch / f"{pod.name}.log"
        env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        return proc, log

    def _mounts(self, pod: dict[str, Any], c: dict[str, Any]) -> list[str]:
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        parents = {str(q) for m in c.get("volumeMounts", []) for q in Path(m["mountPath"]).parents}
        args: list[str] = []
        for d in sorted(parents - {"/"}, key=len):  # mount points in the image: 0755
            args += ["--perms", "0755", "--dir", d]
        for m in sorted(c.get("volumeMounts", []), key=lambda m: m["mountPath"]):
            vol = volumes[m["name"]]
            if "emptyDir" in vol:
                size = ["--size", "67108864"] if vol["emptyDir"].get("medium") == "Memory" else []
                args += ["--perms", "0777", *size, "--tmpfs", m["mountPath"]]
                if m.get("readOnly"):
                    args += ["--remount-ro", m["mountPath"]]
                continue
            source = self._subpath(m.get("subPath", ""))
            args += ["--ro-bind" if m.get("readOnly") else "--bind", str(source), m["mountPath"]]
        return args

    def _subpath(self, sub: str) -> Path:
        if sub.startswith("/") or ".." in Path(sub).parts:
            raise MountRefused(f"subPath {sub!r} must be relative without '..'")
        path = self.pvc_root / sub
        if not path.exists() and not path.is_symlink():
            path.mkdir(parents=True)  # the kubelet creates a missing subPath as a folder
        real = path.resolve()
        if not real.is_relative_to(self.pvc_root):
            raise MountRefused(f"subpath {path} not within volume path {self.pvc_root}")
        return real


def cleanup(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
