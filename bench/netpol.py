"""Benchmark NetworkPolicy enforcement (on demand, not in CI; needs root).

    .venv/bin/python bench/netpol.py [--seconds 2] [--rounds 3] [--connections 16]
                                     [--policies 1000] [--pods 1000] [--changes 100]
                                     [--skip-scale] [--skip-traffic] [--skip-e2e]

Prints, against baselines measured in the same run:

- traffic (`_traffic`'s two-node data path with Portico's Service rules on both
  nodes; `_wrk`: wrk against the built-in nginx, interleaved rounds, medians): new
  connections (`Connection: close`) and keep-alive requests from a client pod on
  the server's node and on the other node to the server pod, with no policy table,
  and with `inet portico-netpol` holding 100 policies that select the server, the
  one allowing the clients sorted last (so every new connection walks all 100
  policy chains). Ratio goal >= 0.90 of the no-policy throughput;
- scale: a full sync of P policies over N pods in 10 namespaces on 3 nodes
  (render + one `nft -f -` + commit on node-1), the resulting table's size, then
  single pod-label changes (partial syncs: plan + apply through libnftables +
  commit), p50/p99; goals < 2 s and p99 < 50 ms;
- end to end (`_netpol_e2e.py`): the same workload in a real API server (a process of
  its own) and node-1's real `PolicyAgent`: its start (list, watch, full sync), then
  single pod-label PATCHes to the rules applied, p50/p99, split into delivery (API
  server write + watch), wait (coalescing), plan and nft; Portico's own time (plan +
  nft) apart from the waiting.

Everything runs inside a private network namespace (`_sandbox`); namespaces are
named `portico-b<hex>-*` / `portico-b-<hex>-netpol`, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _wrk  # noqa: E402
from bench._netpol_e2e import Workload, end_to_end, percentile  # noqa: E402
from bench._sandbox import ensure_private_netns, scratch_netns  # noqa: E402
from bench._traffic import Rules, TrafficCluster, sh  # noqa: E402
from portico.netpol._agent import node_addresses  # noqa: E402
from portico.netpol._state import PolicyState  # noqa: E402
from portico.netpol.model import (  # noqa: E402
    Pod,
    Policy,
    labels_of,
    namespace_labels,
    pod_from_object,
    policy_from_object,
)
from portico.netpol.render import TABLE  # noqa: E402
from portico.proxy import collector  # noqa: E402
from portico.proxy.apply import NftCommand, netns_argv  # noqa: E402

SCALE_NETNS = f"portico-b-{secrets.token_hex(3)}-netpol"
GOAL_RATIO, GOAL_FULL, GOAL_P99 = 0.90, 2.0, 0.05
TRAFFIC_POLICIES = 100


def server_policies(count: int) -> list[Policy]:
    """`count` policies selecting app=server; only the last (by name) allows role=client."""
    def one(i: int) -> Policy:
        role = "client" if i == count - 1 else f"other-{i}"
        return policy_from_object({
            "metadata": {"namespace": "bench", "name": f"p{i:04d}"},
            "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{
                "from": [{"podSelector": {"matchLabels": {"role": role}}}],
                "ports": [{"port": 80, "protocol": "TCP"}]}]}})
    return [one(i) for i in range(count)]


def traffic_state(cluster: TrafficCluster, node_index: int) -> PolicyState:
    node = cluster.topology.nodes[node_index]
    state = PolicyState(node.name, node_addresses(str(node.ip), str(node.pod_cidr)))
    state.set_namespace("bench", labels_of({"kubernetes.io/metadata.name": "bench"}))
    placed = {"server": ("node-1", "server"), "client1": ("node-1", "client"),
              "client2": ("node-2", "client")}
    for pod, (node_name, role) in placed.items():
        labels = {"app": "server"} if role == "server" else {"role": "client"}
        state.set_pod(f"bench/{pod}", Pod("bench", pod, cluster.pods[pod], node_name,
                                          labels_of(labels)))
    for p in server_policies(TRAFFIC_POLICIES):
        state.set_policy(p.key, p)
    return state


def use_policies(cluster: TrafficCluster, scripts: list[str] | None) -> None:
    """Install (or, for None, remove) each node's policy table; flush conntrack."""
    for i, node in enumerate(cluster.topology.nodes):
        subprocess.run(["ip", "netns", "exec", node.netns, "nft", "delete", "table", "inet",
                        TABLE], capture_output=True, check=False)
        if scripts is not None:
            sh("ip", "netns", "exec", node.netns, "nft", "-f", "-", inp=scripts[i])
    _wrk.flush_conntrack(node.netns for node in cluster.topology.nodes)


def traffic(args: argparse.Namespace) -> None:
    cluster = TrafficCluster()
    try:
        cluster.start()
        cluster.use(Rules.PORTICO)
        scripts = [traffic_state(cluster, i).plan().tx.script() for i in (0, 1)]
        url = f"http://{cluster.server_ip}:80/"

        def measure(netns: str, with_policies: bool, close: bool) -> _wrk.Sample:
            use_policies(cluster, scripts if with_policies else None)
            return _wrk.run_wrk(netns, url, args.seconds, close, cluster.server_ticks,
                                args.connections, threads=args.threads)

        for close in (True, False):
            paths = {}
            for where, pod in (("same node", "client1"), ("other node", "client2")):
                for label, on in (("no policy", False), (f"{TRAFFIC_POLICIES} policies", True)):
                    paths[f"{label} ({where})"] = functools.partial(
                        measure, cluster.pod_netns(pod), on, close)
            samples = _wrk.interleave(paths, args.rounds)
            ratios = {f"{TRAFFIC_POLICIES} policies ({w})": [(f"no policy ({w})", GOAL_RATIO)]
                      for w in ("same node", "other node")}
            mode = "new connections (Connection: close)" if close else "keep-alive"
            _wrk.print_table(f"traffic to the server pod, {mode} (wrk -t{args.threads} "
                             f"-c{args.connections}, {args.rounds} interleaved rounds of "
                             f"{args.seconds:g}s, medians; built-in nginx)", samples, ratios)
        use_policies(cluster, None)
    finally:
        cluster.close()


def scale_workload(policies: int, pods: int) -> Workload:
    """`pods` pods in 10 namespaces on 3 nodes, `policies` policies (each selects one of 50
    apps of its namespace, allows one of 10 roles, from its own namespace or every
    namespace labelled team=blue, on 80 and 8080-8090; every fourth also restricts egress
    to its namespace), as API objects."""
    namespaces = [{"metadata": {"name": f"ns{n}", "labels": {
        "kubernetes.io/metadata.name": f"ns{n}", "team": "blue" if n % 2 else "red"}}}
        for n in range(10)]
    pod_objects = []
    for i in range(pods):
        node = i % 3
        subnet = "10.244" if i < 750 else "10.245"
        pod_objects.append({
            "metadata": {"namespace": f"ns{i % 10}", "name": f"pod{i}",
                         "labels": {"app": f"app{i % 50}", "role": f"r{i % 10}"}},
            "spec": {"nodeName": f"node-{node + 1}",
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
            "status": {"phase": "Running", "podIP": f"{subnet}.{node}.{i // 3 % 250 + 2}"}})
    policy_objects = []
    for j in range(policies):
        spec: dict[str, object] = {
            "podSelector": {"matchLabels": {"app": f"app{j % 50}"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": f"r{j % 10}"}}},
                                  {"namespaceSelector": {"matchLabels": {"team": "blue"}},
                                   "podSelector": {"matchLabels": {"role": f"r{j % 7}"}}}],
                         "ports": [{"port": 80}, {"port": 8080, "endPort": 8090}]}]}
        if j % 4 == 0:
            spec["egress"] = [{"to": [{"podSelector": {}}]}]
        policy_objects.append({"metadata": {"namespace": f"ns{j % 10}", "name": f"np{j}"},
                               "spec": spec})
    return Workload(namespaces, pod_objects, policy_objects)


def scale_state(workload: Workload) -> PolicyState:
    """node-1's state over the workload, parsed as the agent parses its informers' objects."""
    state = PolicyState("node-1", node_addresses("10.224.0.4", "10.244.0.0/24"))
    for ns in workload.namespaces:
        state.set_namespace(ns["metadata"]["name"], namespace_labels(ns))
    for obj in workload.pods:
        state.set_pod(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}",
                      pod_from_object(obj))
    for obj in workload.policies:
        p = policy_from_object(obj)
        state.set_policy(p.key, p)
    return state


async def scale(policies: int, pods: int, changes: int) -> None:
    runner = NftCommand(SCALE_NETNS)
    state = scale_state(scale_workload(policies, pods))
    started = time.perf_counter()
    with collector.paused():  # as the agent does
        plan = state.plan()
    rendered = time.perf_counter() - started
    await runner.run(plan.tx)
    applied = time.perf_counter() - started
    state.commit(plan)
    collector.settle()
    full = time.perf_counter() - started
    listing = sh(*netns_argv(SCALE_NETNS, "nft", "-t", "list", "table", "inet", TABLE))
    chains = sum(1 for line in listing.splitlines() if line.strip().startswith("chain "))
    print(f"scale: {policies} policies over {pods} pods (10 namespaces, 3 nodes; node-1)")
    print(f"  full sync {full:.2f}s (render {rendered:.2f}s, nft {applied - rendered:.2f}s; "
          f"{len(plan.tx)} operations, {chains} chains); goal < {GOAL_FULL:g}s: "
          f"{full / GOAL_FULL:.2f}x the budget")
    latencies, cpu, ops, rendered_policies = [], [], [], []
    pod_list = sorted(state.cluster.pods.values(), key=lambda p: p.key)
    for k in range(changes):
        pod = pod_list[(k * 7919) % len(pod_list)]
        labels = dict(pod.labels)
        labels["role"] = f"r{(int(labels['role'][1:]) + 1) % 10}"
        changed = Pod(pod.namespace, pod.name, pod.ip, pod.node, labels_of(labels), pod.ports)
        t, t_cpu = time.perf_counter(), time.process_time()
        state.set_pod(pod.key, changed)
        with collector.paused():
            plan = state.plan()
        await runner.run(plan.tx)
        state.commit(plan)
        latencies.append(time.perf_counter() - t)
        cpu.append(time.process_time() - t_cpu)  # this process's threads, kernel included
        ops.append(len(plan.tx))
        rendered_policies.append(plan.policies)
        pod_list[(k * 7919) % len(pod_list)] = changed
    p99 = percentile(latencies, 0.99)
    print(f"  one pod label change to rules applied: p50 {percentile(latencies, 0.5):.1f} ms, "
          f"p99 {p99:.1f} ms ({min(ops)}-{max(ops)} operations, {min(rendered_policies)}-"
          f"{max(rendered_policies)} policies re-rendered); goal p99 < {GOAL_P99 * 1000:g} ms: "
          f"{p99 / 1000 / GOAL_P99:.2f}x the budget")
    print(f"    CPU of it (plan + nft, this process): p50 {percentile(cpu, 0.5):.1f} ms, "
          f"p99 {percentile(cpu, 0.99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _wrk.add_run_options(parser)
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-traffic", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    ensure_private_netns()
    if not args.skip_traffic:
        traffic(args)
    if not args.skip_scale:
        with scratch_netns(SCALE_NETNS):
            asyncio.run(scale(args.policies, args.pods, args.changes))
    if not args.skip_e2e:
        with scratch_netns(SCALE_NETNS):
            asyncio.run(end_to_end(scale_workload(args.policies, args.pods), args.changes,
                                   SCALE_NETNS))


if __name__ == "__main__":
    main()
