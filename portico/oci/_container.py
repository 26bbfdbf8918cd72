"""One container of an image under crun: bundle, cgroups, start, kill, exec, clean-up.

`OciContainer.create()` (blocking; the agent runs it in a thread) makes the bundle
`<node dir>/oci/<id>/`: `rootfs` is an overlayfs mount (lower = the image's
unpacked layers from the store, read-only and shared; upper and work = this
container's own, fresh for every start, as a restarted container gets a new
writable layer), `config.json` beside it.  The memory limit goes on the
container's parent cgroup `/portico/<cluster>-<node>/<id>`, made here, with the
runtime's own cgroup `.../<id>/c` below it: crun removes its cgroup when the
container exits, the parent keeps the OOM-kill count until `finish()` has read it.

Why crun and not runc: a `runc run` costs ~35 ms of CPU (a Go binary that copies
itself into a sealed memfd and re-executes per container), a `crun run` ~10 ms, and a
burst of pods on two cores queues behind that.  crun 1.8 refuses a "hybrid" machine
(cgroup v1 controllers with a cgroup2 mount at /sys/fs/cgroup/unified that holds
a controller) when it creates a container, so the launcher's child
(`enter_runtime`, in the pod's network namespace) hides that mount in a mount
namespace of its own before it execs `crun run`: crun then sees plain cgroup v1
and sets up every v1 hierarchy itself, as runc does (the cgroup2 mount only
tracks processes there).  Its other verbs (`kill`, `exec`, `delete`) work as they are.

The container process the launcher starts is `crun --root <node dir>/crun run
--bundle B ID` (foreground: crun exits with the container's code, 128 + signal
for a signal death).  Signals go to the container through `crun kill` (`kill()`),
never to crun (which does not forward them; its death would orphan the container);
`exec_argv()` is `crun exec` (the container's env, user and cwd).  A
pod's containers join its IPC and UTS namespaces, bind-mounted on files by
`pod_namespaces` under /run/portico/<cluster>-<node>/ (removed with the pod).
The launcher pid -> container table (`register`/`lookup`) is how the agent's
generic process code finds them; a restarted agent re-registers adopted containers.
`start_error()` gives runc's words for what crun could not start (what containerd
with runc, as on AKS, reports).  `finish()` (after the exit) reads the OOM count,
deletes the runtime's state, unmounts the rootfs, drops the store's lease on the
image's layers (its path is kept in the bundle, so an adopted container's is
dropped too) and removes the bundle and the cgroups, whatever state they are in.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.netns import NETNS_RUN, enter_netns

CRUN = "crun"
RUNTIME_STATE = "crun"  # the runtime's state root, in the node's directory
UNSHARE, HOSTNAME = "unshare", "hostname"
NAMESPACES_ROOT = Path("/run/portico")
POD_NAMESPACES = "pod-"
RUNTIME_LOG = "crun.log"
LEASE = "lease"  # in the bundle: the path of the store's lease on the image root
CGROUP_ROOT = Path("/sys/fs/cgroup")
HYBRID_UNIFIED = CGROUP_ROOT / "unified"
CLONE_NEWNS = 0x00020000
MS_REC, MS_SLAVE = 1 << 14, 1 << 19
MNT_DETACH = 2
# crun's texts for a process it cannot exec, in runc's words (what containerd reports)
NOT_FOUND = re.compile(r"executable file `(?P<name>.*)` not found in \$PATH")
NOT_PERMITTED = ("open executable: Permission denied", "open executable: Operation not permitted")
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class OciContainer:
    id: str
    runtime_root: Path
    bundle: Path
    cgroup_parent: str  # "/portico/<cluster>-<node>/<id>"
    lower: tuple[Path, ...]  # the image's layer directories, top first (() if unknown)
    memory_limit: int | None = None
    lease: Path | None = None  # the store's mark that `lower` is in use (`_gc`)

    @property
    def rootfs(self) -> Path:
        return self.bundle / "rootfs"

    def run_argv(self) -> list[str]:
        """crun run, which the launcher's child execs in the pod (`enter_runtime`)."""
        return [CRUN, "--root", str(self.runtime_root), f"--log=file:{self.bundle / RUNTIME_LOG}",
                "--log-format=json", "run", "--bundle", str(self.bundle), self.id]

    def _runtime(self, *args: str) -> list[str]:
        return [CRUN, "--root", str(self.runtime_root), *args]

    def created(self) -> bool:
        """Whether crun has made the container (its status is saved once it has)."""
        return (self.runtime_root / self.id / "status").exists()

    def init_pid(self) -> int | None:
        """The running container's init process (crun's status), or None."""
        try:
            status = json.loads((self.runtime_root / self.id / "status").read_text())
            return int(status["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def start_error(self) -> str:
        """Why crun could not start the process, in runc's words ("" when it started;
        read before `finish`): the errors of its own log, kept out of the container's."""
        try:
            lines = (self.bundle / RUNTIME_LOG).read_text().splitlines()
        except OSError:
            return ""
        for line in lines:
            with contextlib.suppress(ValueError, AttributeError):
                entry = json.loads(line)
                if entry.get("level") == "error":
                    return runc_words(str(entry.get("msg", "")), self._argv0())
        return ""

    def _argv0(self) -> str:
        try:
            return str(json.loads((self.bundle / "config.json").read_text())["process"]["args"][0])
        except (OSError, ValueError, KeyError, IndexError):
            return ""

    def exec_argv(self, argv: list[str]) -> list[str]:
        """`crun exec` of `argv` as the container's own process runs (env, user, groups,
        cwd, capabilities), as `runc exec` takes them from config.json; crun's flags
        would not, so its process file is written, once per content, in the bundle
        (a probe's is written on its first run; the caller's stdio is the terminal)."""
        config = json.loads((self.bundle / "config.json").read_text())
        text = json.dumps({**config["process"], "args": argv, "terminal": False},
                          sort_keys=True)
        path = self.bundle / f"exec-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text)
            tmp.replace(path)
        return self._runtime("exec", "--process", str(path), self.id)

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
                # cgroup v2: crun limits its own cgroup; the OOM killer takes the whole
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
        (`memory.events`); v1 counts them only in crun's (gone) cgroup, and with the
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
        subprocess.run(self._runtime("kill", self.id, str(int(sig))), capture_output=True,
                       timeout=10, check=False)

    def finish(self) -> None:
        subprocess.run(self._runtime("delete", "--force", self.id), capture_output=True,
                       timeout=30, check=False)
        if os.path.ismount(self.rootfs):
            _libc.umount2(str(self.rootfs).encode(), MNT_DETACH)
        with contextlib.suppress(OSError):
            Path((self.bundle / LEASE).read_text()).unlink(missing_ok=True)
        if self.lease is not None:
            self.lease.unlink(missing_ok=True)
        shutil.rmtree(self.bundle, ignore_errors=True)
        remove_cgroups(self.cgroup_parent)


def runc_words(message: str, argv0: str) -> str:
    """crun's error for a process it cannot exec as runc words it (other errors as they are)."""
    found = NOT_FOUND.match(message)
    if found is not None:
        name = found["name"]
        if "/" in name:
            return f'exec: "{name}": stat {name}: no such file or directory'
        return f'exec: "{name}": executable file not found in $PATH'
    if message in NOT_PERMITTED:
        return f'exec: "{argv0}": permission denied'
    return message


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def hybrid_cgroups() -> bool:
    """cgroup v1 controllers with a cgroup2 mount beside them (crun refuses that when
    the cgroup2 one holds a controller, as /sys/fs/cgroup/unified often holds hugetlb)."""
    return (not (CGROUP_ROOT / "cgroup.controllers").exists()
            and os.path.ismount(HYBRID_UNIFIED))


def enter_runtime(netns: str) -> None:
    """Where the launcher's child execs `crun run` (blocking, single-threaded): the pod's
    network namespace (the container keeps it) and a mount namespace of its own, a
    slave of the launcher's (which sees the agent's overlay mounts), without the pods'
    netns mounts (crun lives as long as its container: copies would keep deleted pods'
    namespaces alive) and without the hybrid cgroup2 mount (`hybrid_cgroups`)."""
    enter_netns(netns)
    _check(_libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    _check(_libc.mount(b"none", b"/", None, MS_SLAVE | MS_REC, None), "mount --make-rslave /")
    _libc.umount2(NETNS_RUN.encode(), MNT_DETACH)
    if hybrid_cgroups():
        _check(_libc.umount2(str(HYBRID_UNIFIED).encode(), MNT_DETACH),
               f"umount {HYBRID_UNIFIED}")


def remove_cgroups(path: str) -> None:
    """rmdir `path`'s runtime child and then `path` and its empty parents, in every hierarchy."""
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
    """Every container still under the node's runtime root or bundle dir: killed, deleted,
    unmounted, its bundle and cgroups removed, and the pods' namespace files (an
    agent's shutdown after its pods stopped, and `portico down` after a crash).
    Returns how many containers there were."""
    root, bundles = node_dir / RUNTIME_STATE, node_dir / "oci"
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
