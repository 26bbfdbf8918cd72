"""Benchmark the Service data plane (on demand, not in CI; needs root).

    .venv/bin/python bench/dataplane.py [--services 10000] [--endpoints 10] [--changes 100]
                                        [--seconds 3] [--skip-scale] [--skip-traffic]

Prints, each against a baseline measured in the same run:

- traffic: requests/s from a client pod to a netexec pod straight to the pod IP
  (baseline), through a ClusterIP and through a NodePort (from outside the node),
  with keep-alive and with a new connection per request; ratios vs direct;
- scale: a full sync of S services x E endpoints (render + one `nft -f -` +
  commit), the size of the resulting table, then single-endpoint changes
  (partial syncs: render + apply + commit; the `nft` share shown apart), p50/p99,
  and memory (the process's max RSS against its RSS before the state was built).

Everything runs in network namespaces named `portico-b-<hex>-*`, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portico.proxy import _gc  # noqa: E402
from portico.proxy._state import ProxyState  # noqa: E402
from portico.proxy.apply import NftCommand, netns_argv  # noqa: E402
from portico.proxy.config import ProxyConfig  # noqa: E402
from portico.proxy.model import (  # noqa: E402
    Endpoint,
    Protocol,
    ServiceName,
    ServicePort,
    ServicePortName,
    SliceInfo,
)

TAG = secrets.token_hex(3)
NODE_IP, OUT_IP, POD_IP, CLIENT_IP = "10.224.0.4", "10.224.0.100", "10.244.0.2", "10.244.0.3"
CONFIG = ProxyConfig(node_name="node-1", node_ip=NODE_IP, pod_cidr="10.244.0.0/24",
                     metrics_address="", healthz_address="")

LOAD = r"""
import http.client, sys, time
host, port, seconds, keep = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
n, end, conn = 0, time.monotonic() + seconds, None
while time.monotonic() < end:
    if conn is None:
        conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/hostname", headers={} if keep else {"Connection": "close"})
    conn.getresponse().read()
    n += 1
    if not keep:
        conn.close(); conn = None
print(n / seconds)
"""


def ns(role: str) -> str:
    return f"portico-b-{TAG}-{role}"


def sh(*argv: str, inp: str | None = None) -> str:
    result = subprocess.run(argv, input=inp, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


def inns(role: str, *argv: str) -> str:
    return sh("ip", "netns", "exec", ns(role), *argv)


def topology() -> subprocess.Popen[bytes]:
    for role in ("node", "out", "pod", "client"):
        sh("ip", "netns", "add", ns(role))
        inns(role, "ip", "link", "set", "lo", "up")
    inns("node", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    inns("node", "ip", "link", "add", "cbr0", "type", "bridge")
    inns("node", "ip", "addr", "add", "10.244.0.1/24", "dev", "cbr0")
    inns("node", "ip", "link", "set", "cbr0", "up")
    inns("out", "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns",
         ns("node"))
    for role, ip in (("out", OUT_IP), ("node", NODE_IP)):
        inns(role, "ip", "addr", "add", f"{ip}/16", "dev", "eth0")
        inns(role, "ip", "link", "set", "eth0", "up")
    for i, (role, ip) in enumerate((("pod", POD_IP), ("client", CLIENT_IP))):
        inns("node", "ip", "link", "add", f"vb{TAG}{i}", "type", "veth", "peer", "name", "eth0",
             "netns", ns(role))
        inns("node", "ip", "link", "set", f"vb{TAG}{i}", "master", "cbr0", "up")
        inns(role, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        inns(role, "ip", "link", "set", "eth0", "up")
        inns(role, "ip", "route", "add", "default", "via", "10.244.0.1")
    return subprocess.Popen(
        ["ip", "netns", "exec", ns("pod"), sys.executable, "-m", "portico.images.agnhost",
         "netexec", "--http-port=8080", "--udp-port=-1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def cleanup(server: subprocess.Popen[bytes] | None) -> None:
    if server is not None and server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    for role in ("node", "out", "pod", "client"):
        subprocess.run(["ip", "netns", "del", ns(role)], capture_output=True, check=False)


def one_service_state(node_port: int) -> ProxyState:
    state = ProxyState(CONFIG)
    name = ServiceName("bench", "web")
    spn = ServicePortName("bench", "web", "http", Protocol.TCP)
    state.service_changes.update(name, None, {spn: ServicePort(spn, "10.0.0.10", 80,
                                                               node_port=node_port)}, 0)
    eps = (Endpoint(POD_IP, 8080, node_name="node-1"),)
    state.slice_changes.update(("bench", "web-1"), None, SliceInfo(name, ((spn, eps),)), 0)
    return state


def load(role: str, host: str, port: int, seconds: float, keep: bool) -> float:
    return float(inns(role, sys.executable, "-c", LOAD, host, str(port), str(seconds),
                      "1" if keep else "0"))


def traffic(seconds: float) -> None:
    state = one_service_state(30080)
    plan = state.plan()
    sh("ip", "netns", "exec", ns("node"), "nft", "-f", "-", inp=plan.tx.script())
    deadline = time.monotonic() + 10
    while True:
        try:
            load("client", POD_IP, 8080, 0.1, True)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    print(f"traffic ({seconds:g}s each, one client, python http.client; agnhost netexec)")
    for keep in (True, False):
        mode = "keep-alive" if keep else "new connection per request"
        direct = load("client", POD_IP, 8080, seconds, keep)
        cluster = load("client", "10.0.0.10", 80, seconds, keep)
        nodeport = load("out", NODE_IP, 30080, seconds, keep)
        print(f"  {mode:28} direct {direct:8.0f} req/s | ClusterIP {cluster:8.0f} "
              f"({cluster / direct:.2f}x) | NodePort {nodeport:8.0f} ({nodeport / direct:.2f}x)")


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
    runner = NftCommand(ns("node"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    state = ProxyState(CONFIG)
    fill(state, services, endpoints)
    started = time.perf_counter()
    with _gc.paused():  # as the Proxier does
        plan = state.plan()
    rendered = time.perf_counter() - started
    await runner.run(plan.tx)
    applied = time.perf_counter() - started
    with _gc.paused():
        state.commit(plan)
    _gc.settle()
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
        with _gc.paused():
            plan = state.plan()
        t_nft = time.perf_counter()
        await runner.run(plan.tx)
        nft_times.append(time.perf_counter() - t_nft)
        with _gc.paused():
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
    parser.add_argument("--services", type=int, default=10000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-traffic", action="store_true")
    args = parser.parse_args()
    server = None
    try:
        server = topology()
        if not args.skip_traffic:
            traffic(args.seconds)
        if not args.skip_scale:
            subprocess.run(["ip", "netns", "exec", ns("node"), "nft", "delete", "table", "inet",
                            CONFIG.table], capture_output=True, check=False)
            asyncio.run(scale(args.services, args.endpoints, args.changes))
    finally:
        cleanup(server)


if __name__ == "__main__":
    main()
