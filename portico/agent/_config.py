"""The node agent's configuration: one JSON file per node, written by the supervisor.

`AgentConfig.to_file` / `AgentConfig.from_file` round-trip every field (paths as
strings).  Unknown keys in the file are ignored so an older agent can read a newer
file; missing optional keys take their defaults.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class AgentConfig:
    cluster_name: str
    node_name: str
    node_ip: str
    pod_cidr: str
    bridge_ip: str
    kubeconfig: Path
    data_dir: Path
    serving_cert: Path
    serving_key: Path
    client_ca: Path
    zone: str = "eastus-1"
    region: str = "eastus"
    cluster_dns: str = "10.0.0.10"
    cluster_domain: str = "cluster.local"
    # The node's resolv.conf (kubelet's resolvConf): dnsPolicy Default, host search paths.
    resolv_conf: Path | None = Path("/etc/resolv.conf")
    kubelet_port: int = 10250
    images_file: Path | None = None
    # CNs of client certificates (signed by client_ca) allowed on :10250.
    kubelet_client_cns: tuple[str, ...] = (KUBELET_CLIENT_CN,)
    # Also listen on 127.0.0.1 (the node netns' loopback).
    listen_loopback: bool = True
    # Start the Service proxy (portico.proxy.Proxier) when the module provides it.
    run_proxy: bool = True
    node_status_update_seconds: float = 60.0
    lease_renew_seconds: float = 10.0
    lease_duration_seconds: int = 40
    # Node shutdown (agent SIGTERM): at most this long between SIGTERM and SIGKILL.
    shutdown_grace_seconds: float = 5.0
    # How often running pods' configMap/secret/downwardAPI/projected volumes are
    # re-read and rewritten (kubelet: its sync period, 1 min, plus the cache's TTL).
    volume_sync_seconds: float = 10.0
    # How often PodMetrics/NodeMetrics are written (metrics-server's resolution: 15 s).
    metrics_seconds: float = 15.0
    # Real images (`portico.oci`): the cluster's shared store (None: images are not pulled),
    # the network namespace pulls run in ("": the agent's), k3s-style registries.yaml,
    # and whether the built-in catalog's images are pulled too.
    image_store: Path | None = None
    pull_netns: str = ""
    registries_file: Path | None = None
    pull_builtin_images: bool = False
    # kubelet's image garbage collection (imageGCHigh/LowThresholdPercent,
    # imageMinimumGCAge, ImageGCPeriod): `_image_gc`.
    image_gc_high_threshold_percent: int = 85
    image_gc_low_threshold_percent: int = 80
    image_minimum_gc_age_seconds: float = 120.0
    image_gc_period_seconds: float = 300.0

    @property
    def pod_prefix(self) -> str:
        """Prefix of this cluster's pod netns names (`portico-N-pod-`)."""
        return f"portico-{self.cluster_name}-pod-"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if value is not None and f.name in _PATH_FIELDS:
                value = Path(value)
            elif f.name == "kubelet_client_cns":
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    def to_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)

    @classmethod
    def from_file(cls, path: Path) -> AgentConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


_PATH_FIELDS = frozenset({
    "kubeconfig", "data_dir", "serving_cert", "serving_key", "client_ca", "images_file",
    "resolv_conf", "image_store", "registries_file",
})
