"""Benchmark the Service data plane (on demand, not in CI; needs root).

    .venv/bin/python bench/dataplane.py [--seconds 2] [--rounds 3] [--connections 16]
                                        [--services 10000] [--endpoints 10] [--changes 100]
                                        [--skip-scale] [--skip-traffic]

Prints, each against baselines measured in the same run:

- traffic (`_traffic`: a two-node cluster's data path; `_wrk`: wrk against the
  built-in nginx, keep-alive and `Connection: close`, interleaved rounds, medians,
  client and server CPU): requests/s from a client pod to the server pod's IP
  (direct: the node's tables loaded, as in a running cluster, so the connection
  passes conntrack), through a hand-written single DNAT rule and through Portico's
  rules for its ClusterIP, from the server's node and from the other node; from
  the host to the pod IP (routed through the node) and to nodeIP:NodePort, again
  with the DNAT rule and with Portico's rules.  Each Portico path prints its ratio
  to direct (goal >= 0.90) and to the DNAT rule (goal >= 0.97), or why there is
  none (a client-bound baseline).  The pod IP is also measured on nodes with no
  netfilter at all (no tables: no conntrack), and every path's ratio to that is
  shown, not judged: direct's own ratio to it is what conntrack costs;
- scale: a full sync of S services x E endpoints (render + one `nft -f -` +
  commit), the size of the resulting table, then single-endpoint changes
  (partial syncs: render + apply + commit; the `nft` share shown apart), p50/p99,
  and memory (the process's max RSS against its RSS before the state was built).

Everything runs inside a private network namespace (`_sandbox`), in namespaces
named `portico-b<hex>-*` / `portico-b-<hex>-scale`, removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import resource
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _wrk  # noqa: E402
from bench._sandbox import ensure_private_netns, scratch_netns  # noqa: E402
from bench._traffic import (  # noqa: E402
    NODE_PORT,
    SERVICE_IP,
    SERVICE_PORT,
    Rules,
    TrafficCluster,
    sh,
)
from portico.model.vocabulary import Protocol
from portico.proxy import (
    collector,  # noqa: E402
)
from portico.proxy._state import ProxyState  # noqa: E402
from portico.proxy.apply import NftCommand, netns_argv  # noqa: E402
from portico.proxy.config import ProxyConfig  # noqa: E402
from portico.proxy.model import Endpoint, ServiceName, ServicePort, ServicePortName, SliceInfo

SCALE_NETNS = f"portico-b-{secrets.token_hex(3)}-scale"
CONFIG = ProxyConfig(node_name="node-1", node_ip="10.224.0.4", pod_cidr="10.244.0.0/24",
                     metrics_address="", healthz_address="")
VS_DIRECT, VS_REFERENCE = 0.90, 0.97


def traffic_paths(cluster: TrafficCluster) -> dict[str, tuple[str | None, str, Rules]]:
    """label -> (client netns, URL, rules in place)."""
    direct = f"http://{cluster.server_ip}:80/"
    service = f"http://{SERVICE_IP}:{SERVICE_PORT}/"
    nodeport = f"http://{cluster.node1.ip}:{NODE_PORT}/"
    paths: dict[str, tuple[str | None, str, Rules]] = {}
    for where, pod in (("same node", "client1"), ("other node", "client2")):
        netns = cluster.pod_netns(pod)
        paths[f"pod->pod IP, no netfilter ({where})"] = (netns, direct, Rules.NONE)
        paths[f"pod->pod IP ({where})"] = (netns, direct, Rules.PORTICO)
        paths[f"pod->DNAT rule ({where})"] = (netns, service, Rules.REFERENCE)
        paths[f"pod->ClusterIP ({where})"] = (netns, service, Rules.PORTICO)
    host = None  # this (private) netns: the host of the cluster
    paths["host->pod IP, no netfilter"] = (host, direct, Rules.NONE)
    paths["host->pod IP"] = (host, direct, Rules.PORTICO)
    paths["host->DNAT rule NodePort"] = (host, nodeport, Rules.REFERENCE)
    paths["host->NodePort"] = (host, nodeport, Rules.PORTICO)
    return paths


def path_ratios(label: str) -> list[tuple[str, float | None]]:
    """The baselines a path is judged against (goal None: shown, not judged).

    Direct is the pod's IP in the cluster as it runs: the node's tables loaded, so
    the connection passes conntrack as every connection through a node with
    Service rules does (kube-proxy's too).  The same path on a node with no
    netfilter at all is shown beside it: the ratio of the two is what conntrack
    itself costs, which no Service rule layout can avoid."""
    if label.startswith("host"):
        direct, reference, bare = "host->pod IP", "host->DNAT rule NodePort", \
            "host->pod IP, no netfilter"
    else:
        where = label[label.index("("):]
        direct, reference, bare = f"pod->pod IP {where}", f"pod->DNAT rule {where}", \
            f"pod->pod IP, no netfilter {where}"
    if label == direct:
        return [(bare, None)]
    if label in (reference, bare):
        return []
    return [(direct, VS_DIRECT), (reference, VS_REFERENCE), (bare, None)]


def measure(cluster: TrafficCluster, netns: str | None, url: str, rules: Rules,
            args: argparse.Namespace, close: bool) -> _wrk.Sample:
    cluster.use(rules)
    return _wrk.run_wrk(netns, url, args.seconds, close, cluster.server_ticks, args.connections,
                        threads=args.threads)


def traffic(args: argparse.Namespace) -> None:
    cluster = TrafficCluster()
    try:
        cluster.start()
        for close in (False, True):
            paths = traffic_paths(cluster)
            samples = _wrk.interleave({label: functools.partial(measure, cluster, *path, args,
                                                                close)
                                       for label, path in paths.items()}, args.rounds)
            ratios = {label: path_ratios(label) for label in paths}
            mode = "Connection: close" if close else "keep-alive"
            _wrk.print_table(f"traffic, {mode} (wrk -t{args.threads} -c{args.connections}, "
                             f"{args.rounds} interleaved rounds of {args.seconds:g}s, medians; "
                             "built-in nginx)", samples, ratios)
    finally:
        cluster.close()


def fill(state: ProxyState, services: int, endpoints: int) -> None:
    for i in range(services):
        name = ServiceName("bench", f"svc{i}")
        spn = ServicePortName("bench", f"svc{i}", "http", Protocol.TCP)
        sp = ServicePort(spn, f"10.0.{i // 250}.{i % 250 + 1}", 80)
        state.service_changes.update(name, None, {spn: sp}, 0)
        state.slice_changes.update(("bench", f"svc{i}-1"), None,
                                   SliceInfo(name, ((spn, _endpoints(i, endpoints)),)), 0)


def _endpoints(i: int, count: int, skip: int = -1) -> tuple[Endpoint, ...]:
    n = i * count
    return tuple(Endpoint(f"10.{100 + (n + j) // 65536 % 100}.{(n + j) // 256 % 256}."
                          f"{(n + j) % 256}", 8080, node_name="node-2")
                 for j in range(count) if j != skip)


async def scale(services: int, endpoints: int, changes: int) -> None:
    runner = NftCommand(SCALE_NETNS)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    state = ProxyState(CONFIG)
    fill(state, services, endpoints)
    started = time.perf_counter()
    with collector.paused():  # as the Proxier does
        plan = state.plan()
    rendered = time.perf_counter() - started
    await runner.run(plan.tx)
    applied = time.perf_counter() - started
    with collector.paused():
        state.commit(plan)
    collector.settle()
    full = time.perf_counter() - started
    print(f"scale: {services} services x {endpoints} endpoints = {services * endpoints}")
    print(f"  full sync {full:.2f}s (render {rendered:.2f}s, nft {applied - rendered:.2f}s, "
          f"commit {full - applied:.2f}s; {len(plan.tx)} operations, "
          f"{len(plan.tx.script()) / 1e6:.1f} MB of nft script); "
          f"goal < 5s: {full / 5:.2f}x the budget")
    print(f"  table: {_count(runner.netns, 'chain')} chains, {_count(runner.netns, 'rule')} "
          f"rules, {len(state.applied.claims)} set/map elements")
    latencies, nft_times, ops = [], [], []
    for k in range(changes):
        i = (k * 7919) % services
        name = ServiceName("bench", f"svc{i}")
        spn = ServicePortName("bench", f"svc{i}", "http", Protocol.TCP)
        previous = state.slices[name][f"svc{i}-1"]
        current = SliceInfo(name, ((spn, _endpoints(i, endpoints, skip=k % endpoints)),))
        state.slice_changes.update(("bench", f"svc{i}-1"), previous, current, 0)
        t = time.perf_counter()
        with collector.paused():
            plan = state.plan()
        t_nft = time.perf_counter()
        await runner.run(plan.tx)
        nft_times.append(time.perf_counter() - t_nft)
        with collector.paused():
            state.commit(plan)
        latencies.append(time.perf_counter() - t)
        ops.append(len(plan.tx))
    p50, p99 = _percentiles(latencies)
    n50, n99 = _percentiles(nft_times)
    print(f"  single-endpoint change: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
          f"(of which applying, libnftables in process: p50 {n50 * 1000:.1f} ms, "
          f"p99 {n99 * 1000:.1f} ms; {min(ops)}-{max(ops)} operations); "
          f"goal p99 < 50 ms: {p99 / 0.05:.2f}x the budget")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  memory: max RSS {rss:.0f} MiB (baseline before building the state: "
          f"{rss_before:.0f} MiB, {rss / rss_before:.1f}x)")


def _percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.99))]


def _count(netns: str | None, what: str) -> int:
    listing = sh(*netns_argv(netns, "nft", "-a", "list", "table", "inet", CONFIG.table))
    lines = [line.strip() for line in listing.splitlines()]
    if what == "chain":
        return sum(1 for line in lines if line.startswith("chain "))
    return sum(1 for line in lines if "# handle" in line and not line.startswith(
        ("chain ", "set ", "map ", "table ")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _wrk.add_run_options(parser)
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-traffic", action="store_true")
    args = parser.parse_args()
    ensure_private_netns()
    if not args.skip_traffic:
        traffic(args)
    if not args.skip_scale:
        with scratch_netns(SCALE_NETNS):
            asyncio.run(scale(args.services, args.endpoints, args.changes))


if __name__ == "__main__":
    main()
