"""Load balancer traffic on a real cluster, for `bench/loadbalancer.py`.

Theory of operation. `portico up --nodes 2` runs in a sandbox netns
(`portico.testing.sandbox.Cluster`), which is the cluster's host: its routes send
the node subnet and the public pool into the cluster's cloud netns.  `kubectl`
applies a Deployment of the built-in nginx, one pod per node, and two LoadBalancer
Services on it, externalTrafficPolicy Cluster and Local (short health probes).
Per policy, three paths from the host, measured by `_wrk` in interleaved rounds:
- `NodePort`: node-1's nodeIP:nodePort (the node rules alone: the baseline);
- `frontend`: the Service's frontend IP:80 (the load balancer, then the node rules);
- `DNAT rule`: a spare pool address whose only rule is one hand-written DNAT to
  node-1's nodeIP:nodePort, in a table of its own in the cloud netns
  (`ip portico-bench-dnat`, removed afterwards): the least a load balancer can do.
The server's CPU is the nginx processes in the cluster's pod netns, whose TIME_WAIT
sockets are dropped (`_wrk.drop_time_wait`).  Closing the cluster (`portico down`,
the sandbox) removes everything, also on failure.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from bench import _wrk
from portico.testing.sandbox import Cluster, wait_for

POLICIES = ("Cluster", "Local")
REFERENCE_TABLE = "portico-bench-dnat"
SPARE_POOL_IP = {"Cluster": "198.51.100.250", "Local": "198.51.100.251"}
PROBES = {"service.beta.kubernetes.io/azure-load-balancer-health-probe-interval": "5",
          "service.beta.kubernetes.io/azure-load-balancer-health-probe-num-of-probe": "2"}
FRONTEND_GOAL = 0.90


def manifests() -> list[dict[str, Any]]:
    """The nginx Deployment (one pod per node) and one LoadBalancer Service per policy."""
    labels = {"app": "web"}
    nginx = {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
             "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}}
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
               "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                           "template": {"metadata": {"labels": labels},
                                        "spec": {"containers": [nginx],
                                                 "topologySpreadConstraints": spread}}}}
    services = [{"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": f"web-{policy.lower()}", "annotations": PROBES},
                 "spec": {"type": "LoadBalancer", "selector": labels,
                          "externalTrafficPolicy": policy,
                          "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]}}
                for policy in POLICIES]
    return [deployment, *services]


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
    return services if len(services) == len(POLICIES) and len(ready) == 2 else None


def _answers(cluster: Cluster, url: str) -> bool:
    return cluster.sandbox.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "1", url],
                               timeout=5).returncode == 0


def _pod_netns(cluster: Cluster) -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=True).stdout
    prefix = f"portico-{cluster.name}-pod-"
    return [line.split()[0] for line in listing.splitlines() if line.startswith(prefix)]


def traffic(seconds: float, rounds: int, connections: int, threads: int) -> None:
    with Cluster(nodes=2) as cluster:
        cluster.kubectl("apply", "-f", "-", check=True,
                        input="\n---\n".join(json.dumps(m) for m in manifests()))
        services = wait_for(lambda: _services(cluster), 120, message="frontends and pods")
        node1 = "10.224.0.4"
        paths: dict[str, str] = {}
        targets: dict[str, str] = {}
        for policy in POLICIES:
            svc = services[f"web-{policy.lower()}"]
            node_port = svc["spec"]["ports"][0]["nodePort"]
            frontend = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            targets[SPARE_POOL_IP[policy]] = f"{node1}:{node_port}"
            paths[f"NodePort ({policy})"] = f"http://{node1}:{node_port}/"
            paths[f"DNAT rule ({policy})"] = f"http://{SPARE_POOL_IP[policy]}/"
            paths[f"frontend ({policy})"] = f"http://{frontend}/"
        cloud = f"portico-{cluster.name}-cloud"
        subprocess.run(["ip", "netns", "exec", cloud, "nft", "-f", "-"], check=True,
                       input=reference_rules(targets), text=True, capture_output=True)
        for url in paths.values():
            wait_for(lambda url=url: _answers(cluster, url), 60, message=f"an answer from {url}")
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
                    {label: (lambda url=url, close=close: _wrk.run_wrk(cluster.sandbox.name, url,
                                                                       seconds, close, server,
                                                                       connections, threads))
                     for label, url in paths.items()}, rounds)
                mode = "Connection: close" if close else "keep-alive"
                _wrk.print_table(f"load balancer, {mode} (wrk -t{threads} -c{connections}"
                                 f", {rounds} interleaved rounds of {seconds:g}s, medians; "
                                 "built-in nginx, one pod per node)", samples, ratios)
        finally:
            subprocess.run(["ip", "netns", "exec", cloud, "nft", "delete", "table", "ip",
                            REFERENCE_TABLE], check=False, capture_output=True)
