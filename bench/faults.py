"""Failed requests during faults: an agent killed, a rolling update (on demand; root).

    .venv/bin/python -m bench.faults [--requests 2000]

Theory of operation: a 3-node cluster (`portico.testing.sandbox.Cluster`, in a
network namespace of its own) runs a 3-replica Deployment of agnhost netexec with
a readiness probe (HTTP /healthz every second) and `--delay-shutdown` (on SIGTERM it
serves 5 s more, as in kube's rolling-update e2e tests: without it, requests already
routed to a pod that exits at once fail, on any cluster) behind a NodePort Service.  From
node-2's namespace the client loop of `portico.testing.traffic` makes
`--requests` requests on new connections (and as many on established keep-alive
connections), `--interval` apart, while
- `kill -9` hits node-1's agent (targets: the ClusterIP and node-1's NodePort, half
  the requests each): the supervisor restarts the agent, which adopts its
  containers;
- `kubectl rollout restart` replaces the three pods one by one (target: the
  ClusterIP), until the old pods are gone: kube-proxy's e2e expects no failed new
  connection (an established one ends with the pod it was made to).
For each, the failed requests (new / established connections), the window of
failures and the distinct errors are printed, and whether the fault was over
before the requests were (else more requests are needed for a fair count).
Everything (cluster, namespaces, processes) is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench._sandbox import ensure_private_netns  # noqa: E402
from portico.testing.sandbox import Cluster, wait_for  # noqa: E402
from portico.testing.traffic import TargetReport, finish_traffic, start_traffic  # noqa: E402

NODE_1_IP = "10.224.0.4"
# as kube's rolling-update e2e tests: the server outlives its endpoint in every node's rules
DELAY_SHUTDOWN = 5
LABELS = {"app": "web"}
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
CONTAINER = {"name": "agnhost", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
             "args": ["netexec", "--http-port=8080", "--udp-port=8081",
                      f"--delay-shutdown={DELAY_SHUTDOWN}"],
             "readinessProbe": PROBE}
MANIFESTS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 3, "selector": {"matchLabels": LABELS},
              "template": {"metadata": {"labels": LABELS},
                           "spec": {"containers": [CONTAINER]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"type": "NodePort", "selector": LABELS,
              "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
]


def kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> str:
    return cluster.kubectl(*args, input=stdin, check=True, timeout=120).stdout


def ready_endpoints(cluster: Cluster) -> int:
    slices = json.loads(kubectl(cluster, "get", "endpointslices", "-l",
                                "kubernetes.io/service-name=web", "-o", "json"))["items"]
    return sum(1 for s in slices for e in s.get("endpoints") or []
               if (e.get("conditions") or {}).get("ready"))


def node_netns(cluster: Cluster, node: int) -> list[str]:
    return ["nsenter", f"--net=/run/netns/portico-{cluster.name}-node-{node}", "--"]


def agent_pid(cluster: Cluster, node: int) -> int:
    components = json.loads((cluster.data_dir / "components.json").read_text())
    return int(components[f"node-{node}"]["pid"])


def show(title: str, reports: dict[str, TargetReport], fault_seconds: float,
         traffic_seconds: float) -> None:
    within = "within" if fault_seconds <= traffic_seconds else "NOT within (use more requests)"
    print(f"{title}: fault over after {fault_seconds:.1f}s, {within} the "
          f"{traffic_seconds:.1f}s of requests")
    for target, r in reports.items():
        print(f"  {target:22} new connections {r.new_failed:4} failed of "
              f"{r.new_ok + r.new_failed:5} (window {r.failure_window:.2f}s) | established "
              f"{r.kept_failed:4} failed of {r.kept_ok + r.kept_failed:5}")
        for error in r.errors:
            print(f"    {error}")


def agent_kill(cluster: Cluster, requests: int, interval: float, cluster_ip: str,
               node_port: int) -> None:
    targets = [f"{cluster_ip}:80", f"{NODE_1_IP}:{node_port}"]
    start = time.monotonic()
    client = start_traffic(cluster, node_netns(cluster, 2), targets, requests=requests // 2,
                           interval=interval)
    old = agent_pid(cluster, 1)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: agent_pid(cluster, 1) != old, 60, message="the agent restarted")
    waiter = cluster.waiter("nodes")
    waiter.wait(timeout=120)
    fault = time.monotonic() - start
    reports = finish_traffic(client, 300)
    show("kill -9 of node-1's agent", reports, fault, time.monotonic() - start)


def pod_count(cluster: Cluster) -> int:
    return len(json.loads(kubectl(cluster, "get", "pods", "-l", "app=web", "-o",
                                  "json"))["items"])


def rolling_update(cluster: Cluster, requests: int, interval: float, cluster_ip: str) -> None:
    start = time.monotonic()
    client = start_traffic(cluster, node_netns(cluster, 2), [f"{cluster_ip}:80"],
                           requests=requests, interval=interval)
    kubectl(cluster, "rollout", "restart", "deployment/web")
    kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s")
    wait_for(lambda: pod_count(cluster) == 3, 120, interval=0.2, message="old pods gone")
    fault = time.monotonic() - start
    reports = finish_traffic(client, 300)
    show("rolling update of 3 replicas", reports, fault, time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=0.006,
                        help="seconds between rounds of requests (default 0.006)")
    args = parser.parse_args()
    ensure_private_netns()
    with Cluster(nodes=3) as cluster:
        kubectl(cluster, "apply", "-f", "-", stdin="\n---\n".join(json.dumps(m)
                                                                 for m in MANIFESTS))
        kubectl(cluster, "rollout", "status", "deployment/web", "--timeout=120s")
        wait_for(lambda: ready_endpoints(cluster) == 3, 60, message="3 ready endpoints")
        cluster_ip = kubectl(cluster, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
        node_port = int(kubectl(cluster, "get", "svc", "web", "-o",
                                "jsonpath={.spec.ports[0].nodePort}"))
        agent_kill(cluster, args.requests, args.interval * 2, cluster_ip, node_port)
        rolling_update(cluster, args.requests, args.interval, cluster_ip)


if __name__ == "__main__":
    main()
