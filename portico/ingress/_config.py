"""Flags and environment -> one frozen `Config` for `python -m portico.ingress` (pure).

Flags keep ingress-nginx's names where it has one (`--ingress-class`,
`--controller-class`, `--publish-service`, `--election-id`, `--http-port`,
`--https-port`, `--healthz-port`). In a pod the API is reached with the
standard in-cluster settings (KUBERNETES_SERVICE_HOST/PORT and the
service-account directory from `$PORTICO_SERVICEACCOUNT_DIR`, else
/var/run/secrets/kubernetes.io/serviceaccount); `--kubeconfig` for local runs.
HAProxy's files live under `--state-dir`, default `$PORTICO_CONTAINER_DIR/haproxy`
(the per-container scratch directory the node agent provides), else a new
temporary directory. The pod's name (`$POD_NAME`, else `$HOSTNAME`) is its
identity in the leader Lease; its namespace comes from `$POD_NAMESPACE` or the
service account's `namespace` file.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVICEACCOUNT_ENV = "PORTICO_SERVICEACCOUNT_DIR"
SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
CONTAINER_DIR_ENV = "PORTICO_CONTAINER_DIR"


@dataclass(frozen=True)
class Config:
    ingress_class: str
    controller_class: str
    publish_service: tuple[str, str]
    election_id: str
    namespace: str
    identity: str
    http_port: int
    https_port: int
    stats_port: int
    healthz_port: int
    bind_address: str
    slot_scale: int
    state_dir: Path
    run_dir: Path
    haproxy: str
    kubeconfig: Path | None
    serviceaccount_dir: Path
    min_sync_interval: float


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m portico.ingress",
                                description="Ingress controller: Ingress -> HAProxy.")
    p.add_argument("--ingress-class", default="webapprouting.kubernetes.azure.com")
    p.add_argument("--controller-class", default="webapprouting.kubernetes.azure.com/nginx")
    p.add_argument("--publish-service", default="app-routing-system/nginx",
                   help="namespace/name of the Service whose EXTERNAL-IP Ingresses get")
    p.add_argument("--election-id", default="ingress-controller-leader")
    p.add_argument("--http-port", type=int, default=80)
    p.add_argument("--https-port", type=int, default=443)
    p.add_argument("--stats-port", type=int, default=10254,
                   help="HAProxy's /metrics (Prometheus) and /healthz")
    p.add_argument("--healthz-port", type=int, default=10255,
                   help="the controller's /healthz, /ready and /metrics")
    p.add_argument("--bind-address", default="")
    p.add_argument("--slot-scale", type=int, default=16)
    p.add_argument("--state-dir", default="")
    p.add_argument("--run-dir", default="", help="HAProxy's sockets (default: a new short "
                   "directory under /tmp; UNIX socket paths are limited to 97 bytes)")
    p.add_argument("--haproxy", default="/usr/sbin/haproxy")
    p.add_argument("--kubeconfig", default="")
    p.add_argument("--min-sync-interval", type=float, default=0.1)
    return p


def _namespace(environ: Mapping[str, str], sa_dir: Path) -> str:
    if environ.get("POD_NAMESPACE"):
        return environ["POD_NAMESPACE"]
    try:
        return (sa_dir / "namespace").read_text().strip() or "default"
    except OSError:
        return "default"


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    args = parser().parse_args(list(argv))
    sa_dir = Path(environ.get(SERVICEACCOUNT_ENV) or SERVICEACCOUNT_DIR)
    if args.state_dir:
        state = Path(args.state_dir)
    elif environ.get(CONTAINER_DIR_ENV):
        state = Path(environ[CONTAINER_DIR_ENV]) / "haproxy"
    else:
        state = Path(tempfile.mkdtemp(prefix="portico-ingress-"))
    ns, _, name = args.publish_service.rpartition("/")
    return Config(
        ingress_class=args.ingress_class, controller_class=args.controller_class,
        publish_service=(ns or "default", name), election_id=args.election_id,
        namespace=_namespace(environ, sa_dir),
        identity=environ.get("POD_NAME") or environ.get("HOSTNAME") or socket.gethostname(),
        http_port=args.http_port, https_port=args.https_port, stats_port=args.stats_port,
        healthz_port=args.healthz_port, bind_address=args.bind_address,
        slot_scale=args.slot_scale, state_dir=state, haproxy=args.haproxy,
        run_dir=Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="pi-")),
        kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
        serviceaccount_dir=sa_dir, min_sync_interval=args.min_sync_interval)
