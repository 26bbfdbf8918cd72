"""Command-line flags and environment -> one frozen `Config` (pure: no I/O here).

Upstream resolvers, in order of precedence: `--upstream a:53,b:53`, then env
`PORTICO_UPSTREAM_DNS` (same syntax), then the `nameserver` lines of the
machine's /etc/resolv.conf as read at start. Inside a pod that file names the
cluster DNS itself, so 10.0.0.10 (and our own listen address) is always
dropped: forwarding to ourselves would loop.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from portico.dns._forward import Upstream
from portico.dns._view import DEFAULT_TTL, DEFAULT_ZONE

CLUSTER_DNS_IP = "10.0.0.10"
UPSTREAM_ENV = "PORTICO_UPSTREAM_DNS"
SERVICEACCOUNT_ENV = "PORTICO_SERVICEACCOUNT_DIR"
SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
HostPort = tuple[str, int]


@dataclass(frozen=True)
class Config:
    listen: HostPort
    zone: str
    ttl: int
    upstreams: tuple[Upstream, ...]
    metrics: HostPort | None
    health: HostPort | None
    ready: HostPort | None
    kubeconfig: Path | None
    serviceaccount_dir: Path


def parse_hostport(text: str, default_port: int = 53) -> HostPort:
    """`1.2.3.4:53`, `:9153` (all addresses), `[::1]:53` or a bare host."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    return host or "0.0.0.0", int(port)


def _optional(text: str) -> HostPort | None:
    return parse_hostport(text) if text else None


def resolv_conf_nameservers(text: str) -> list[str]:
    servers = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def choose_upstreams(flag: str, environ: Mapping[str, str], resolv_conf: str,
                     listen: HostPort) -> tuple[Upstream, ...]:
    if flag:
        entries = flag.split(",")
    elif environ.get(UPSTREAM_ENV):
        entries = environ[UPSTREAM_ENV].split(",")
    else:
        entries = resolv_conf_nameservers(resolv_conf)
    chosen: list[Upstream] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        upstream = Upstream(*parse_hostport(entry))
        if upstream.host == CLUSTER_DNS_IP or (upstream.host, upstream.port) == listen:
            continue
        if upstream not in chosen:
            chosen.append(upstream)
    return tuple(chosen)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m portico.dns",
                                description="Cluster DNS (CoreDNS's kubernetes plugin).")
    p.add_argument("--listen", default="0.0.0.0:53", help="UDP and TCP address (host:port)")
    p.add_argument("--zone", default=DEFAULT_ZONE)
    p.add_argument("--ttl", type=int, default=DEFAULT_TTL)
    p.add_argument("--upstream", default="", help="a:53,b:53 (default: $PORTICO_UPSTREAM_DNS, "
                   "then /etc/resolv.conf)")
    p.add_argument("--metrics", default=":9153", help="Prometheus /metrics ('' to disable)")
    p.add_argument("--health", default=":8080", help="/health ('' to disable)")
    p.add_argument("--ready", default=":8181", help="/ready ('' to disable)")
    p.add_argument("--kubeconfig", default="", help="kubeconfig file (default: in-cluster)")
    return p


def parse_config(argv: Sequence[str], environ: Mapping[str, str], resolv_conf: str) -> Config:
    args = parser().parse_args(list(argv))
    listen = parse_hostport(args.listen)
    return Config(listen=listen, zone=args.zone.lower().strip("."), ttl=args.ttl,
                  upstreams=choose_upstreams(args.upstream, environ, resolv_conf, listen),
                  metrics=_optional(args.metrics), health=_optional(args.health),
                  ready=_optional(args.ready),
                  kubeconfig=Path(args.kubeconfig) if args.kubeconfig else None,
                  serviceaccount_dir=Path(environ.get(SERVICEACCOUNT_ENV) or SERVICEACCOUNT_DIR))
