"""Load balancer traffic on a real cluster, for `bench/loadbalancer.py`.

Theory of operation. `portico up --nodes 2` runs in a sandbox netns
(`portico.testing.sandbox.Cluster`), which is the cluster's host: its routes send
the node subnet and the public pool into the cluster's cloud netns.  `kubectl`
applies the built-in nginx behind two LoadBalancer Services (short health probes):
- externalTrafficPolicy Cluster: a Deployment of one pod per node; every node's
  NodePort reaches both pods;
- externalTrafficPolicy Local: one pod, on node-1, so the load balancer's probes
  leave node-2 out (it has no local endpoint) and every path reaches that one pod
  through node-1: the load balancer's own cost, with no difference in which pods
  serve (a node's Local NodePort reaches only its own pods, so a spread over
  nodes could not be compared with one node's NodePort).
Per policy, three paths from the host, measured by `_wrk` in interleaved rounds,
each spread over the policy's nodes as the load balancer spreads its flows (two
wrk at once, each with half the threads and connections):
- `NodePort`: the nodes' nodeIP:nodePort (the node rules alone: the baseline);
- `frontend`: the Service's frontend IP:80 (the load balancer, then the node rules);
- `DNAT rule`: spare pool addresses, each with one hand-written DNAT rule to one
  node's nodeIP:nodePort, in a table of its own in the cloud netns
  (`ip portico-bench-dnat`, removed afterwards): the least a load balancer can do.
Every run starts from empty conntrack tables in the cloud and node netns.
The server's CPU is the nginx processes in the cluster's pod netns, whose TIME_WAIT
sockets are dropped (`_wrk.drop_time_wait`).  Closing the cluster (`portico down`,
the sandbox) removes everything, also on failure.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Callable
from typing import Any

from bench import _wrk
from portico.cloud import TopologyConfig, plan
from portico.testing.sandbox import Cluster, wait_for

POLICIES = ("Cluster", "Local")
REFERENCE_TABLE = "portico-bench-dnat"
SPARE_POOL_IPS = {"Cluster": ("198.51.100.250", "198.51.100.251"),
                  "Local": ("198.51.100.252", "198.51.100.253")}
PROBES = {"service.beta.kubernetes.io/azure-load-balancer-health-probe-interval": "5",
          "service.beta.kubernetes.io/azure-load-balancer-health-probe-num-of-probe": "2"}
FRONTEND_GOAL = 0.90
NODES = ("node-1", "node-2")
LOCAL_NODE = "node-1"
PODS = len(NODES) + 1
POLICY_NODES = {"Cluster": NODES, "Local": (LOCAL_NODE,) * len(NODES)}
"""The nodes each policy's paths spread over, one wrk per entry."""


def manifests() -> list[dict[str, Any]]:
    """Per policy a Deployment of nginx (Cluster: one pod per node; Local: one pod, on
    node-1) and its LoadBalancer Service."""
    nginx = {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
             "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}}
    objects: list[dict[str, Any]] = []
    for policy in POLICIES:
        name = f"web-{policy.lower()}"
        labels = {"app": name}
        if policy == "Local":
            replicas, placement = 1, {"nodeSelector": {"kubernetes.io/hostname": LOCAL_NODE}}
        else:
            replicas, placement = len(NODES), {"topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                                 "template": {"metadata": {"labels": labels},
                                              "spec": {"containers": [nginx], **placement}}}})
        objects.append({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": name, "annotations": PROBES},
                        "spec": {"type": "LoadBalancer", "selector": labels,
                                 "externalTrafficPolicy": policy,
                                 "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}})
    return objects


def reference_rules(targets: dict[str, str]) -> str:
    """One DNAT rule per spare pool address -> `ip:port` (pure)."""
    rules = "; ".join(f"ip daddr {ip} tcp dport 80 dnat to {target}"
                      for ip, target in targets.items())
    return (f"table ip {REFERENCE_TABLE} {{\n"
            f"  chain prerouting {{ type nat hook prerouting priority dstnat; {rules}; }}\n"
            "}\n")


def _services(cluster: Cluster) -> dict[str, dict[str, Any]] | None:
    """Service name -> Service once every one has its frontend and the pods are Ready."""
    out = cluster.kubectl("get", "services,pods", "-o", "json", check=True).stdout
    items = json.loads(out)["items"]
    services = {i["metadata"]["name"]: i for i in items if i["kind"] == "Service"
                and (i.get("status", {}).get("loadBalancer") or {}).get("ingress")}
    ready = [i for i in items if i["kind"] == "Pod" and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in i.get("status", {}).get("conditions") or [])]
    return services if len(services) == len(POLICIES) and len(ready) == PODS else None


def _answers(cluster: Cluster, url: str) -> bool:
    return cluster.sandbox.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "1", url],
                               timeout=5).returncode == 0


def _pod_netns(cluster: Cluster) -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=True).stdout
    prefix = f"portico-{cluster.name}-pod-"
    return [line.split()[0] for line in listing.splitlines() if line.startswith(prefix)]


def _node_ips(cluster: Cluster) -> dict[str, str]:
    """Node name -> InternalIP."""
    out = cluster.kubectl("get", "nodes", "-o", "json", check=True).stdout
    return {n["metadata"]["name"]: a["address"] for n in json.loads(out)["items"]
            for a in n["status"]["addresses"] if a["type"] == "InternalIP"}


def _steady(cluster: Cluster, url: str, answers: int = 20) -> bool:
    """`answers` new connections in a row answered (the probes have settled which nodes
    take new flows)."""
    return all(_answers(cluster, url) for _ in range(answers))


def _measure(cluster: Cluster, tracked: list[str], urls: list[str], seconds: float,
             close: bool, server: Callable[[], int], connections: int,
             threads: int) -> _wrk.Sample:
    """One wrk run from the host, from empty conntrack tables in `tracked`
    (`_wrk.flush_conntrack`)."""
    _wrk.flush_conntrack(tracked)
    return _wrk.run_wrk(cluster.sandbox.name, urls, seconds, close, server, connections,
                        threads)


def traffic(seconds: float, rounds: int, connections: int, threads: int) -> None:
    with Cluster(nodes=2) as cluster:
        cluster.kubectl("apply", "-f", "-", check=True,
                        input="\n---\n".join(json.dumps(m) for m in manifests()))
        services = wait_for(lambda: _services(cluster), 120, message="frontends and pods")
        node_ips = _node_ips(cluster)
        paths: dict[str, list[str]] = {}
        targets: dict[str, str] = {}
        for policy in POLICIES:
            svc = services[f"web-{policy.lower()}"]
            node_port = svc["spec"]["ports"][0]["nodePort"]
            frontend = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            nodes = [node_ips[n] for n in POLICY_NODES[policy]]
            targets.update({spare: f"{node}:{node_port}"
                            for spare, node in zip(SPARE_POOL_IPS[policy], nodes, strict=True)})
            paths[f"NodePort ({policy})"] = [f"http://{node}:{node_port}/" for node in nodes]
            paths[f"DNAT rule ({policy})"] = [f"http://{spare}/"
                                              for spare in SPARE_POOL_IPS[policy]]
            paths[f"frontend ({policy})"] = [f"http://{frontend}/"] * len(nodes)
        topology = plan(TopologyConfig(cluster.name, len(NODES)))  # the cluster's netns names
        cloud = topology.cloud_netns
        tracked = [cloud, *(node.netns for node in topology.nodes)]
        subprocess.run(["ip", "netns", "exec", cloud, "nft", "-f", "-"], check=True,
                       input=reference_rules(targets), text=True, capture_output=True)
        for url in {url for urls in paths.values() for url in urls}:
            wait_for(lambda url=url: _steady(cluster, url), 60, message=f"answers from {url}")
        pods = _pod_netns(cluster)
        for netns in pods:
            _wrk.drop_time_wait(netns)
        server = _wrk.netns_ticks(pods, "nginx")
        ratios = {f"frontend ({p})": [(f"NodePort ({p})", FRONTEND_GOAL), (f"DNAT rule ({p})",
                                                                             None)]
                  for p in POLICIES}
        try:
            for close in (False, True):
                samples = _wrk.interleave(
                    {label: functools.partial(_measure, cluster, tracked, urls, seconds, close,
                                              server, connections, threads)
                     for label, urls in paths.items()}, rounds)
                mode = "Connection: close" if close else "keep-alive"
                _wrk.print_table(f"load balancer, {mode} (two wrk -t{threads // 2} "
                                 f"-c{connections // 2}, {rounds} interleaved rounds of "
                                 f"{seconds:g}s, medians; built-in nginx)",
                                 samples, ratios)
        finally:
            subprocess.run(["ip", "netns", "exec", cloud, "nft", "delete", "table", "ip",
                            REFERENCE_TABLE], check=False, capture_output=True)
