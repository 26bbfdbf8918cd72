"""Names and paths of a pod's sandbox and files, as `docs/architecture.md` fixes them.

Pure functions: the pod netns is `portico-<cluster>-pod-<first 12 hex of the uid>`,
the node-side veth `vp<first 10 hex>` (15 characters at most, the kernel's IFNAMSIZ-1),
the pod's files live under `<data_dir>/pods/<uid>/`.
"""

from __future__ import annotations

from pathlib import Path

BRIDGE = "cbr0"
POD_IFNAME = "eth0"
NETNS_ETC = Path("/etc/netns")
NETNS_RUN = Path("/run/netns")


def uid_hex(uid: str) -> str:
    return uid.replace("-", "").lower()


def pod_netns(cluster_name: str, uid: str) -> str:
    return f"portico-{cluster_name}-pod-{uid_hex(uid)[:12]}"


def pod_veth(uid: str) -> str:
    return f"vp{uid_hex(uid)[:10]}"


def pod_dir(data_dir: Path, uid: str) -> Path:
    return data_dir / "pods" / uid


def container_log(data_dir: Path, uid: str, container: str, restart_count: int) -> Path:
    return pod_dir(data_dir, uid) / container / f"{restart_count}.log"


def serviceaccount_dir(data_dir: Path, uid: str) -> Path:
    return pod_dir(data_dir, uid) / "serviceaccount"
