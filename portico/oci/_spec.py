"""The OCI runtime config (`config.json`) of one container of an image (pure).

What Kubernetes does, in order:
- argv (containerd's `WithProcessArgs`): `command` replaces the image Entrypoint
  and drops its Cmd; `args` replaces Cmd; an Entrypoint of `[""]` counts as none;
  nothing at all is kubelet's "no command specified".
- env (containerd's `WithEnv`, later wins by key): PATH default, `HOSTNAME`, the
  image's Env, then the container's (already merged by the agent: service links,
  envFrom, env).
- cwd: `workingDir`, else the image's WorkingDir, else `/`.
- user: `runAsUser`/`runAsGroup` (container over pod) override the image's User
  (`uid`, `name`, `uid:gid`, `name:group`); names are looked up in the image's
  /etc/passwd and /etc/group; `runAsNonRoot` is checked as kubelet checks it
  (`verifyRunAsNonRoot`, with its messages) before anything is created.
- resources: CPU requests as shares, CPU limits as a quota per 100 ms; the memory
  limit is not here: it is set on the container's parent cgroup (see `_cgroups`),
  so that the OOM kill stays countable after crun removed the container's own.

The container keeps the network namespace crun runs in (the launcher started crun
inside the pod), gets its own mount namespace, and its own PID, IPC and UTS (with
the pod's hostname) namespaces unless it joins a running peer's of the same pod
(`join`: IPC and UTS always, PID with `shareProcessNamespace`, as the pod's
sandbox shares them; the first container of a pod makes them).  The UTS namespace
is crun's, not the launcher's, so that `crun exec` enters it too.  Defaults
otherwise follow `runc spec` and containerd (14 capabilities, masked and read-only
/proc paths).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portico.model.quantity import milli_value as milli_cpu

Object = dict[str, Any]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_COMMAND = "no command specified"
CAPABILITIES = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware"]
READ_ONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
CPU_PERIOD = 100_000


class SpecError(Exception):
    """The container cannot be created (`reason` is kubelet's waiting reason)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class BindMount:
    """A machine path mounted into the container (same shape as the volume mounts)."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ImageUser:
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def merged_argv(command: Sequence[str] | None, args: Sequence[str] | None,
                image: Mapping[str, Any]) -> list[str]:
    entrypoint = [e for e in image.get("Entrypoint") or [] if e != ""] or []
    if command:
        return [*command, *(args or [])]
    out = [*entrypoint, *(args or image.get("Cmd") or [])]
    if not out:
        raise SpecError("CreateContainerError", NO_COMMAND)
    return out


def merged_env(image: Mapping[str, Any], hostname: str, env: Mapping[str, str]) -> list[str]:
    out: dict[str, str] = {}
    for item in [DEFAULT_PATH, f"HOSTNAME={hostname}", *(image.get("Env") or [])]:
        key, _, value = item.partition("=")
        out[key] = value
    out.update(env)
    return [f"{k}={v}" for k, v in out.items()]


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _lookup(name: str, table: list[list[str]], column: int) -> int | None:
    if name.isdigit():
        return int(name)
    for row in table:
        if len(row) > column and row[0] == name:
            return int(row[column])
    return None


def resolve_user(user: str, passwd: str, group: str, run_as_user: int | None,
                 run_as_group: int | None) -> ImageUser:
    """The process user: the pod's ids over the image's `User` (names from the image)."""
    name, _, group_name = (user or "0").partition(":")
    users, groups = _table(passwd), _table(group)
    uid = run_as_user if run_as_user is not None else _lookup(name, users, 2)
    if uid is None:
        raise SpecError("CreateContainerError",
                        f"unable to find user {name}: no matching entries in passwd file")
    primary = next((int(r[3]) for r in users if len(r) > 3 and r[2] == str(uid)), 0)
    gid = run_as_group if run_as_group is not None else (
        _lookup(group_name, groups, 2) if group_name else primary)
    if gid is None:
        raise SpecError("CreateContainerError",
                        f"unable to find group {group_name}: no matching entries in group file")
    account = next((r[0] for r in users if len(r) > 2 and r[2] == str(uid)), None)
    extra = tuple(int(r[2]) for r in groups if len(r) > 3 and account
                  and account in r[3].split(",") and int(r[2]) != gid)
    return ImageUser(uid, gid, extra)


def check_run_as_non_root(security: Mapping[str, Any], image_user: str, pod: str,
                          container: str) -> None:
    """kubelet's `verifyRunAsNonRoot` (security: the merged securityContext)."""
    if not security.get("runAsNonRoot"):
        return
    where = f"(pod: {pod!r}, container: {container})".replace("'", '"')
    run_as = security.get("runAsUser")
    if run_as is not None:
        if int(run_as) == 0:
            raise SpecError("CreateContainerConfigError",
                            f"container's runAsUser breaks non-root policy {where}")
        return
    name = (image_user or "").partition(":")[0]
    if name and not name.isdigit():
        raise SpecError("CreateContainerConfigError",
                        f"container has runAsNonRoot and image has non-numeric user ({name}), "
                        f"cannot verify user is non-root {where}")
    if not name or int(name) == 0:
        raise SpecError("CreateContainerConfigError",
                        f"container has runAsNonRoot and image will run as root {where}")


def security_context(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> Object:
    """The container's securityContext over the pod's (the fields both have)."""
    merged = {k: v for k, v in (pod_spec.get("securityContext") or {}).items()
              if k in ("runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile")}
    merged.update(container.get("securityContext") or {})
    return merged


def cpu_resources(resources: Mapping[str, Any]) -> Object:
    out: Object = {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    request = requests.get("cpu", limits.get("cpu"))
    if request is not None:
        out["shares"] = max(2, milli_cpu(str(request)) * 1024 // 1000)
    if limits.get("cpu") is not None:
        out["quota"], out["period"] = max(1000, milli_cpu(str(limits["cpu"])) * 100), CPU_PERIOD
    return out


def _mount(target: str, fstype: str, source: str, options: list[str]) -> Object:
    return {"destination": target, "type": fstype, "source": source, "options": options}


def base_mounts() -> list[Object]:
    return [_mount("/proc", "proc", "proc", []),
            _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            _mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance",
                                                   "ptmxmode=0666", "mode=0620", "gid=5"]),
            _mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777",
                                               "size=65536k"]),
            _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev",
                                                          "relatime", "ro"])]


def namespaces(joined: Mapping[str, str]) -> list[Object]:
    out: list[Object] = [{"type": "mount"}]
    for kind in ("pid", "ipc", "uts"):
        out.append({"type": kind, "path": joined[kind]} if kind in joined else {"type": kind})
    return out


def join(config: Object, joined: Mapping[str, str]) -> None:
    """Make `config` join a pod peer's namespaces (its UTS one has the hostname)."""
    config["linux"]["namespaces"] = namespaces(joined)
    if "uts" in joined:
        config.pop("hostname", None)


@dataclass(frozen=True)
class ProcessSpec:
    argv: list[str]
    env: list[str]
    cwd: str
    user: ImageUser
    tty: bool


def runtime_config(process: ProcessSpec, mounts: Sequence[BindMount], cgroups_path: str,
                   resources: Mapping[str, Any], hostname: str,
                   seccomp: Object | None = None) -> Object:
    """config.json for crun (rootfs at `rootfs` beside it), in namespaces of its own
    (the UTS one with `hostname`) until `join` makes it join a pod peer's."""
    binds = [_mount(m.target, "bind", m.source, ["rbind", "rprivate", "ro" if m.read_only
                                                 else "rw"]) for m in mounts]
    caps = list(CAPABILITIES)
    linux: Object = {
        "namespaces": namespaces({}),
        "cgroupsPath": cgroups_path, "maskedPaths": MASKED, "readonlyPaths": READ_ONLY,
        "resources": {"devices": [{"allow": False, "access": "rwm"}],
                      "cpu": cpu_resources(resources)}}
    if seccomp is not None:
        linux["seccomp"] = seccomp
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": process.tty, "args": process.argv, "env": process.env,
            "cwd": process.cwd,
            "user": {"uid": process.user.uid, "gid": process.user.gid,
                     "additionalGids": list(process.user.groups)},
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": False, "oomScoreAdj": 0},
        "root": {"path": "rootfs", "readonly": False}, "hostname": hostname,
        "mounts": base_mounts() + sorted(binds, key=lambda m: m["destination"].count("/")),
        "linux": linux}
