"""One container of an image under runc: bundle, cgroup, kill, exec, clean-up.

`OciContainer.create()` (blocking; the agent runs it in a thread) makes the bundle
`<node dir>/oci/<id>/`: `rootfs` is an overlayfs mount (lower = the image's
unpacked layers from the store, read-only and shared; upper and work = this
container's own, fresh for every start, as a restarted container gets a new
writable layer), `config.json` beside it.  The memory limit goes on the
container's parent cgroup `/portico/<cluster>-<node>/<id>`, made here, with runc's
own cgroup `.../<id>/c` below it: runc removes its cgroup when the container
exits, the parent keeps the OOM-kill count until `finish()` has read it.

The container process the launcher starts is `runc --root <node dir>/runc run
--bundle B ID` (foreground: runc exits with the container's code, 128 + signal
for a signal death, and forwards the signals it gets to the container's init).
runc's own death would orphan the container, so a SIGKILL goes through `runc kill`
(`kill()`); `exec_argv()` is `runc exec` (the container's env, user and cwd).  A
pod's containers join its IPC and UTS namespaces, bind-mounted on files by
`pod_namespaces` under /run/portico/<cluster>-<node>/ (removed with the pod).
The launcher pid -> container table (`register`/`lookup`) is how the agent's
generic process code finds them; a restarted agent re-registers adopted containers.
`finish()` (after the exit) reads the OOM count, deletes runc's state, unmounts
the rootfs, drops the store's lease on the image's layers (its path is kept in the
bundle, so an adopted container's is dropped too) and removes the bundle and the
cgroups, whatever state they are in.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNC = "runc"
UNSHARE, HOSTNAME = "unshare", "hostname"
NAMESPACES_ROOT = Path("/run/portico")
POD_NAMESPACES = "pod-"
RUNC_LOG = "runc.log"
LEASE = "lease"  # in the bundle: the path of the store's lease on the image root
START_FAILED = "unable to start container process: "
NSENTER = "nsenter"
CGROUP_ROOT = Path("/sys/fs/cgroup")
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class OciContainer:
    id: str
    runc_root: Path
    bundle: Path
    cgroup_parent: str  # "/portico/<cluster>-<node>/<id>"
    lower: tuple[Path, ...]  # the image's layer directories, top first (() if unknown)
    memory_limit: int | None = None
    lease: Path | None = None  # the store's mark that `lower` is in use (`_gc`)

    @property
    def rootfs(self) -> Path:
        return self.bundle / "rootfs"

    def run_argv(self) -> list[str]:
        """runc run, back in the caller's mount namespace: the launcher's child enters
        the pod (netns, UTS) but also remounts /sys, which hides the cgroup mounts."""
        return [NSENTER, f"--mount=/proc/{os.getpid()}/ns/mnt", "--", RUNC, "--root",
                str(self.runc_root), "--log", str(self.bundle / RUNC_LOG), "--log-format",
                "json", "run", "--bundle", str(self.bundle), self.id]

    def created(self) -> bool:
        """Whether runc has made the container (its state is saved once it has)."""
        return (self.runc_root / self.id / "state.json").exists()

    def init_pid(self) -> int | None:
        """The running container's init process (runc's state), or None."""
        try:
            state = json.loads((self.runc_root / self.id / "state.json").read_text())
            return int(state["init_process_pid"])
        except (OSError, ValueError, KeyError):
            return None

    def start_error(self) -> str:
        """What runc said when it could not start the process ("" when it started; read
        before `finish`): its own log, kept out of the container's."""
        try:
            lines = (self.bundle / RUNC_LOG).read_text().splitlines()
        except OSError:
            return ""
        for line in lines:
            with contextlib.suppress(ValueError, AttributeError):
                message = str(json.loads(line).get("msg", ""))
                if START_FAILED in message:
                    return message.split(START_FAILED, 1)[1]
        return ""

    def exec_argv(self, argv: list[str], tty: bool = False) -> list[str]:
        return [RUNC, "--root", str(self.runc_root), "exec", *(["-t"] if tty else []),
                self.id, *argv]

    def create(self, config: dict[str, Any]) -> None:
        """Mount the rootfs, write config.json, make the memory cgroup (clean on failure)."""
        try:
            for name in ("upper", "work", "rootfs"):
                (self.bundle / name).mkdir(parents=True, exist_ok=True)
            if self.lease is not None:  # `finish` drops it, adopted containers' too
                (self.bundle / LEASE).write_text(str(self.lease))
            lowerdir = ":".join(str(layer) for layer in self.lower)
            options = (f"lowerdir={lowerdir},upperdir={self.bundle / 'upper'},"
                       f"workdir={self.bundle / 'work'}")
            if _libc.mount(b"overlay", str(self.rootfs).encode(), b"overlay", 0,
                           options.encode()) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"mount overlay on {self.rootfs}: {os.strerror(error)}")
            if self.memory_limit is not None and not (CGROUP_ROOT / "memory").is_dir():
                # cgroup v2: runc limits its own cgroup; the OOM killer takes the whole
                # container (kubelet >= 1.28), and its kills count in our parent's events
                config["linux"]["resources"]["memory"] = {"limit": self.memory_limit}
                config["linux"]["resources"]["unified"] = {"memory.oom.group": "1"}
            self.write_config(config)
            self._limit_memory()
        except BaseException:
            self.finish()
            raise

    def write_config(self, config: dict[str, Any]) -> None:
        tmp = self.bundle / "config.json.tmp"
        tmp.write_text(json.dumps(config))
        tmp.replace(self.bundle / "config.json")

    def _limit_memory(self) -> None:
        if self.memory_limit is None:
            return
        v1 = CGROUP_ROOT / "memory"
        if v1.is_dir():
            parent = v1 / self.cgroup_parent.lstrip("/")
            parent.mkdir(parents=True, exist_ok=True)
            (parent / "memory.limit_in_bytes").write_text(str(self.memory_limit))
            with contextlib.suppress(OSError):  # swap accounting may be off
                (parent / "memory.memsw.limit_in_bytes").write_text(str(self.memory_limit))

    def oom_killed(self) -> bool:
        """Whether the container reached its memory limit (read before `finish`; the
        caller also checks the SIGKILL exit).  v2 counts OOM kills up the tree
        (`memory.events`); v1 counts them only in runc's (gone) cgroup, and with the
        swap limit set its fail counters stay 0, so there the parent's peak tells."""
        parent = CGROUP_ROOT / "memory" / self.cgroup_parent.lstrip("/")
        with contextlib.suppress(OSError, ValueError):
            peak = int((parent / "memory.max_usage_in_bytes").read_text())
            return peak >= int((parent / "memory.limit_in_bytes").read_text())
        with contextlib.suppress(OSError, ValueError):
            events = (CGROUP_ROOT / self.cgroup_parent.lstrip("/") / "memory.events")
            for line in events.read_text().splitlines():
                if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                    return True
        return False

    def kill(self, sig: signal.Signals) -> None:
        subprocess.run([RUNC, "--root", str(self.runc_root), "kill", self.id, str(int(sig))],
                       capture_output=True, timeout=10, check=False)

    def finish(self) -> None:
        subprocess.run([RUNC, "--root", str(self.runc_root), "delete", "--force", self.id],
                       capture_output=True, timeout=30, check=False)
        if os.path.ismount(self.rootfs):
            _libc.umount2(str(self.rootfs).encode(), MNT_DETACH)
        with contextlib.suppress(OSError):
            Path((self.bundle / LEASE).read_text()).unlink(missing_ok=True)
        if self.lease is not None:
            self.lease.unlink(missing_ok=True)
        shutil.rmtree(self.bundle, ignore_errors=True)
        remove_cgroups(self.cgroup_parent)


def remove_cgroups(path: str) -> None:
    """rmdir `path`'s runc child and then `path` and its empty parents, in every hierarchy."""
    parts = path.strip("/").split("/")
    hierarchies = [CGROUP_ROOT] if (CGROUP_ROOT / "cgroup.controllers").exists() else [
        p for p in CGROUP_ROOT.iterdir() if p.is_dir()]
    for hierarchy in hierarchies:
        with contextlib.suppress(OSError):
            (hierarchy / path.strip("/") / "c").rmdir()
        for depth in range(len(parts), 0, -1):
            try:
                (hierarchy / "/".join(parts[:depth])).rmdir()
            except OSError:
                break


def cgroup_base(cluster: str, node: str) -> str:
    """The parent of a node's container cgroups."""
    return f"/portico/{cluster}-{node}"


def namespaces_dir(cluster: str, node: str, pod_id: str = "") -> Path:
    """Where a node's pods keep their namespace files (outside the data directory,
    whose files `portico up` chmods: a namespace file cannot be)."""
    node_dir = NAMESPACES_ROOT / f"{cluster}-{node}"
    return node_dir / f"{POD_NAMESPACES}{pod_id}" if pod_id else node_dir


def pod_namespaces(directory: Path, hostname: str) -> dict[str, str]:
    """The pod's IPC and UTS (with `hostname`) namespaces, made once and bind-mounted
    on files in `directory` (`namespaces_dir`, as a pod sandbox holds them), for each
    of its containers to join whichever starts first (blocking; OSError when they
    cannot be made)."""
    paths = {kind: directory / kind for kind in ("ipc", "uts")}
    if not all(os.path.ismount(path) for path in paths.values()):
        remove_pod_namespaces(directory)
        directory.mkdir(parents=True, mode=0o700)
        for path in paths.values():
            path.touch()
        made = subprocess.run([UNSHARE, f"--ipc={paths['ipc']}", f"--uts={paths['uts']}",
                               HOSTNAME, hostname], capture_output=True, text=True,
                              timeout=30, check=False)
        if made.returncode != 0:
            remove_pod_namespaces(directory)
            raise OSError(f"cannot make the pod's namespaces: {made.stderr.strip()}")
    return {kind: str(path) for kind, path in paths.items()}


def remove_pod_namespaces(directory: Path) -> None:
    """Unmount and remove a pod's namespace files (`pod_namespaces`)."""
    for kind in ("ipc", "uts"):
        _libc.umount2(str(directory / kind).encode(), MNT_DETACH)
    shutil.rmtree(directory, ignore_errors=True)


def remove_node_containers(node_dir: Path, cluster: str) -> int:
    """Every container still under the node's runc root or bundle dir: killed, deleted,
    unmounted, its bundle and cgroups removed, and the pods' namespace files (an
    agent's shutdown after its pods stopped, and `portico down` after a crash).
    Returns how many containers there were."""
    root, bundles = node_dir / "runc", node_dir / "oci"
    pods = namespaces_dir(cluster, node_dir.name)
    for directory in pods.glob(f"{POD_NAMESPACES}*"):
        remove_pod_namespaces(directory)
    with contextlib.suppress(OSError):
        pods.rmdir()
    ids = {p.name for d in (root, bundles) if d.is_dir() for p in d.iterdir() if p.is_dir()}
    for cid in sorted(ids):
        container = OciContainer(cid, root, bundles / cid,
                                 f"{cgroup_base(cluster, node_dir.name)}/{cid}", ())
        container.kill(signal.SIGKILL)
        container.finish()
    return len(ids)


_BY_PID: dict[int, OciContainer] = {}


def register(pid: int, container: OciContainer) -> None:
    _BY_PID[pid] = container


def unregister(pid: int) -> None:
    _BY_PID.pop(pid, None)


def lookup(pid: int) -> OciContainer | None:
    return _BY_PID.get(pid)
