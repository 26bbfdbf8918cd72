"""Pod sandboxes: a named network namespace per pod, wired to the node's `cbr0`.

Creating one is two `ip -batch` runs (a few ms in all): in the node netns
`netns add <pod netns>`, `link add vp<hex> type veth peer name eth0 netns <pod
netns>`, `link set vp<hex> master cbr0 up`; then inside the pod netns `lo` up,
the address, `eth0` up and the default route via the bridge.  The DNS and hosts
files go to `/etc/netns/<pod netns>/{resolv.conf,hosts}`, which the container
launcher (like `ip netns exec`) bind-mounts over `/etc/resolv.conf` and `/etc/hosts`
in each container's mount namespace.

Mount namespaces (the kernel quirk): an agent started with `ip netns exec` gets a
private mount namespace that is a *slave* of its parent's (see ip-netns(8),
"netns_switch"), where a `netns add` would bind-mount /run/netns/<name> invisibly
to the parent and to `portico down`.  So when the agent's mount namespace differs
from its parent's, `netns add/del` run in the parent's (`nsenter --mount=...`, a
reference opened at start so it survives the parent).  `portico up` forks its
agents into their network namespace only, where this does not arise.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Any

from portico.agent._names import BRIDGE, NETNS_ETC, NETNS_RUN, POD_IFNAME

log = logging.getLogger("portico.agent.sandbox")
IP = shutil.which("ip") or "/usr/sbin/ip"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"


class SandboxError(Exception):
    """An `ip` command failed."""


def parent_mount_namespace() -> int | None:
    """An open fd on the parent's mount namespace if it differs from ours, else None."""
    try:
        ours = os.stat("/proc/self/ns/mnt").st_ino
        fd = os.open(f"/proc/{os.getppid()}/ns/mnt", os.O_RDONLY)
    except OSError:
        return None
    if os.fstat(fd).st_ino == ours:
        os.close(fd)
        return None
    return fd


class IpRunner:
    """Runs `ip -batch` scripts, in the right mount namespace for `netns add/del`."""

    def __init__(self, mount_ns_fd: int | None = None) -> None:
        self.mount_ns_fd = mount_ns_fd

    def _prefix(self) -> list[str]:
        if self.mount_ns_fd is None:
            return []
        return [NSENTER, f"--mount=/proc/{os.getpid()}/fd/{self.mount_ns_fd}", "--"]

    async def batch(self, script: str, netns: str | None = None, force: bool = False,
                    in_parent_mount_ns: bool = False) -> str:
        argv = [IP]
        if netns:
            argv += ["-n", netns]
        if force:
            argv.append("-force")
        argv += ["-batch", "-"]
        if in_parent_mount_ns:
            argv = self._prefix() + argv
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(script.encode())
        if proc.returncode != 0 and not force:
            raise SandboxError(f"ip -batch failed ({proc.returncode}): {err.decode().strip()}"
                               f"\nscript:\n{script}")
        return out.decode()


@dataclass(frozen=True)
class SandboxSpec:
    netns: str
    veth: str
    pod_ip: str
    prefixlen: int
    bridge_ip: str
    resolv_conf: str
    hosts: str


def pod_hostname(pod: dict[str, Any]) -> str:
    """kubelet's pod hostname: `spec.hostname` or the pod's name, cut to 63 characters
    without a trailing '-' or '.'."""
    name = str((pod.get("spec") or {}).get("hostname") or pod["metadata"]["name"])
    return name if len(name) <= 63 else name[:63].rstrip("-.")


def hosts_file(pod_ip: str, hostname: str, aliases: list[dict[str, Any]]) -> str:
    """kubelet's managed /etc/hosts."""
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
             "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters",
             f"{pod_ip}\t{hostname}"]
    if aliases:
        lines.append("")
        lines.append("# Entries added by HostAliases.")
        for alias in aliases:
            names = "\t".join(str(h) for h in alias.get("hostnames") or [])
            lines.append(f"{alias.get('ip')}\t{names}")
    return "\n".join(lines) + "\n"


async def ensure_bridge(ip: IpRunner, bridge_ip: str, pod_cidr: str) -> None:
    """`cbr0` with bridge_ip/<prefix>, up (idempotent)."""
    prefix = ipaddress.IPv4Network(pod_cidr, strict=False).prefixlen
    # `link add` fails harmlessly when cbr0 exists (-force: report, go on).
    await ip.batch(f"link add {BRIDGE} type bridge\n", force=True)
    await ip.batch(f"addr replace {bridge_ip}/{prefix} dev {BRIDGE}\nlink set {BRIDGE} up\n")


def _write_etc(spec: SandboxSpec) -> None:
    etc = NETNS_ETC / spec.netns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text(spec.resolv_conf)
    (etc / "hosts").write_text(spec.hosts)


async def create_sandbox(ip: IpRunner, spec: SandboxSpec) -> None:
    """Create (or re-create after a partial failure) the pod's netns and veth."""
    await asyncio.to_thread(_write_etc, spec)
    if (NETNS_RUN / spec.netns).exists():
        await remove_sandbox(ip, spec.netns, spec.veth, keep_etc=True)
    await ip.batch(
        f"netns add {spec.netns}\n"
        f"link add {spec.veth} type veth peer name {POD_IFNAME} netns {spec.netns}\n"
        f"link set {spec.veth} master {BRIDGE} up\n"
        # hairpin: a pod reaching itself through a Service gets its packet back on the
        # bridge port it came in on (kubenet's hairpin-veth mode)
        f"link set {spec.veth} type bridge_slave hairpin on\n"
        # a reused address must not be answered from a stale neighbour entry
        f"neigh flush to {spec.pod_ip} dev {BRIDGE}\n", in_parent_mount_ns=True)
    await ip.batch(
        "link set lo up\n"
        f"addr add {spec.pod_ip}/{spec.prefixlen} dev {POD_IFNAME}\n"
        f"link set {POD_IFNAME} up\n"
        f"route add default via {spec.bridge_ip}\n", netns=spec.netns)


async def keep_sandbox(ip: IpRunner, spec: SandboxSpec) -> None:
    """The sandbox of a pod whose containers outlived the agent: kept as it is (they run
    in it), created only if it is gone."""
    if not netns_exists(spec.netns):
        await create_sandbox(ip, spec)


async def remove_sandbox(ip: IpRunner, netns: str, veth: str, keep_etc: bool = False) -> None:
    """Delete the veth and the netns (idempotent) and the /etc/netns files."""
    await ip.batch(f"link del {veth}\n", force=True)
    if (NETNS_RUN / netns).exists():
        await ip.batch(f"netns del {netns}\n", force=True, in_parent_mount_ns=True)
    if not keep_etc:
        shutil.rmtree(NETNS_ETC / netns, ignore_errors=True)


def netns_exists(netns: str) -> bool:
    return (NETNS_RUN / netns).exists()
