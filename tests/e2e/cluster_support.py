"""Helpers for the multi-node cluster end-to-end tests (`test_cluster_*.py`).

Theory of operation: every module runs ONE `Cluster(nodes=3)` (`running_cluster`)
and gives each test a fresh namespace (`conftest.kubectl133`).  Traffic is only
ever sent from inside namespaces the harness created:

- "from the sandbox" (the cluster's host, 10.223.0.1): `cluster.sandbox.run`;
- "from a node": `nsenter --net=/run/netns/portico-<name>-node-<i>` through the
  sandbox (`on_node`);
- "from a pod": a `restartPolicy: Never` pod running `sh -c ...`; the test waits
  for Succeeded/Failed and reads `kubectl logs` (`run_pod`).  Pod commands run the
  machine's tools (sh, curl, python3) inside the pod's netns.

Every cluster gets the Gateway API CRDs from the conformance copy, never the network
(`Cluster`'s default `$PORTICO_GATEWAY_API_CRDS`, `sandbox.GATEWAY_API_BUNDLE`).
Nothing sleeps blindly: every wait polls with `wait_for` and a timeout.  Manifests
are built as dicts and dumped as JSON (a subset of YAML that kubectl reads).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
NETEXEC = ["netexec", "--http-port=8080", "--udp-port=8081"]
NODES = 3
SANDBOX_IP = "10.223.0.1"
VENV_PYTHON = sys.executable  # has dnspython; the pod's `python3` is the machine's
LB_ANNOTATION = "service.beta.kubernetes.io/"
# Azure's smallest probe settings: a backend is out after 2 failed probes 5 s apart
FAST_PROBES = {LB_ANNOTATION + "azure-load-balancer-health-probe-interval": "5",
               LB_ANNOTATION + "azure-load-balancer-health-probe-num-of-probe": "2"}
INGRESS_ADDON = Path(__file__).resolve().parents[2] / "portico" / "addons" / "ingress.yaml"
INGRESS_NS = "app-routing-system"


def node_ip(i: int) -> str:
    """node-I's InternalIP on the VNet (architecture.md: 10.224.0.(3+I))."""
    return f"10.224.0.{3 + i}"


def node_cidr_prefix(i: int) -> str:
    """The first three octets of node-I's pod /24 (10.244.(I-1).0/24)."""
    return f"10.244.{i - 1}."


def running_cluster(nodes: int = NODES, *, env: dict[str, str] | None = None,
                    extra_args: Sequence[str] = (), name: str | None = None,
                    ) -> Iterator[Cluster]:
    """Body of a module-scoped fixture: one real cluster (`env`: more of `portico up`'s
    environment; `extra_args`: more of its arguments; `name`: its name), closed afterwards.

    `portico wait` returns before the addons run, so this also waits for both
    coredns replicas to be ready endpoints of kube-dns (pods rely on DNS).
    """
    with Cluster(nodes=nodes, env=env, extra_args=extra_args, name=name) as cluster:
        system = Kubectl(cluster, "1.33", "kube-system")
        wait_for(lambda: len(ready_addresses(system, "kube-dns")) == 2, 60, interval=0.2,
                 message="two ready kube-dns endpoints")
        yield cluster


def host_dir() -> Iterator[Path]:
    """Body of a fixture: a fresh directory of the machine that the test's pods can read
    (pods share the machine's filesystem), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"portico-e2e-{secrets.token_hex(3)}-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def ingress_cluster(nodes: int) -> Iterator[Cluster]:
    """A cluster with the ingress addon applied (again, if `portico up` has not yet)."""
    with Cluster(nodes=nodes) as cluster:
        if cluster.kubectl("get", "namespace", INGRESS_NS).returncode != 0:
            cluster.kubectl("apply", "-f", str(INGRESS_ADDON), check=True)
        yield cluster


def node_netns(cluster: Cluster, i: int) -> str:
    return f"portico-{cluster.name}-node-{i}"


def on_node(cluster: Cluster, i: int, argv: Sequence[str], timeout: float = 30.0,
            ) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside node-I's network namespace (entered from the sandbox)."""
    return cluster.sandbox.run(
        ["nsenter", f"--net=/run/netns/{node_netns(cluster, i)}", "--", *argv], timeout=timeout)


def curl(cluster: Cluster, url: str, node: int | None = None, max_time: float = 3.0,
         extra: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """`curl -sS` from the sandbox (node=None) or from a node netns."""
    argv = ["curl", "-sS", "--max-time", str(max_time), *extra, url]
    if node is None:
        return cluster.sandbox.run(argv, timeout=max_time + 10)
    return on_node(cluster, node, argv, timeout=max_time + 10)


HTTP_MANY = r"""
import sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            print(r.read().decode().strip(), flush=True)
    except Exception as e:
        print(f"ERR {e!r}", flush=True)
"""

CONNECT = r"""
import json, socket, sys, time
s = socket.socket()
s.settimeout(float(sys.argv[3]))
start = time.monotonic()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    errno = 0
except OSError as e:
    errno = e.errno or -1
print(json.dumps({"errno": errno, "seconds": time.monotonic() - start}))
"""


def in_node(cluster: Cluster, node: int | None, argv: Sequence[str]) -> list[str]:
    """`argv` prefixed to run in node-I's netns (None: the sandbox itself)."""
    if node is None:
        return list(argv)
    return ["nsenter", f"--net=/run/netns/{node_netns(cluster, node)}", "--", *argv]


def http_many(cluster: Cluster, url: str, n: int, node: int | None = None) -> list[str]:
    """GET `url` n times (one new connection each) from the sandbox or a node; bodies
    (or `ERR ...` lines), in order."""
    argv = in_node(cluster, node, [VENV_PYTHON, "-c", HTTP_MANY, url, str(n)])
    result = cluster.sandbox.run(argv, timeout=10 + 4 * n)
    return result.stdout.splitlines()


def connect(cluster: Cluster, ip: str, port: int, node: int | None = None,
            timeout: float = 5.0) -> tuple[int, float]:
    """TCP connect from the sandbox or a node: (errno, 0 when connected; seconds taken)."""
    argv = in_node(cluster, node, [VENV_PYTHON, "-c", CONNECT, ip, str(port), str(timeout)])
    out = json.loads(cluster.sandbox.run(argv, timeout=timeout + 10).stdout)
    return int(out["errno"]), float(out["seconds"])


def body_or_empty(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip() if result.returncode == 0 else ""


# ---------------------------------------------------------------- manifests


def dump(*objects: dict[str, Any]) -> str:
    """Objects as a multi-document stream kubectl accepts (JSON is YAML)."""
    return "\n---\n".join(json.dumps(o) for o in objects)


def agnhost_container(args: Sequence[str] = NETEXEC, **extra: Any) -> dict[str, Any]:
    return {"name": "agnhost", "image": AGNHOST, "args": list(args), **extra}


def deployment(name: str, replicas: int, pod_spec: dict[str, Any] | None = None,
               **spec: Any) -> dict[str, Any]:
    """A Deployment of agnhost netexec pods labelled app=<name> (readiness: /healthz)."""
    labels = {"app": name}
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    pod = pod_spec or {"containers": [agnhost_container(readinessProbe=probe)]}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": pod}, **spec},
    }


def service(name: str, ports: Sequence[dict[str, Any]], type_: str = "ClusterIP",
            annotations: dict[str, str] | None = None, selector: dict[str, str] | None = None,
            **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"type": type_, "selector": selector or {"app": name},
                     "ports": list(ports), **spec}}


HTTP_PORT = {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}
UDP_PORT = {"name": "udp", "port": 81, "targetPort": 8081, "protocol": "UDP"}


def pod(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None,
        ) -> dict[str, Any]:
    """A bare Pod manifest."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def client_pod(name: str, command: Sequence[str], node: int | None = None,
               image: str = "busybox") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "c", "image": image, "command": list(command)}],
    }
    if node is not None:
        spec["nodeName"] = f"node-{node}"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


# ---------------------------------------------------------------- kubectl views


@dataclass(frozen=True)
class PodView:
    name: str
    ip: str
    node: str
    phase: str
    ready: bool
    terminating: bool


def pods(k: Kubectl, selector: str) -> list[PodView]:
    items = k.json("get", "pods", "-l", selector)["items"]
    views = []
    for p in items:
        status = p.get("status", {})
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        views.append(PodView(
            name=p["metadata"]["name"], ip=status.get("podIP", ""),
            node=p["spec"].get("nodeName", ""), phase=status.get("phase", ""),
            ready=conditions.get("Ready") == "True",
            terminating="deletionTimestamp" in p["metadata"],
        ))
    return sorted(views, key=lambda v: v.name)


def ready_pods(k: Kubectl, selector: str) -> list[PodView]:
    return [p for p in pods(k, selector) if p.ready and not p.terminating]


def wait_ready(k: Kubectl, selector: str, count: int, timeout: float = 60.0,
               ) -> list[PodView]:
    """Exactly `count` pods match, none terminating, all Ready; return them."""
    def done() -> list[PodView] | None:
        current = pods(k, selector)
        if len(current) == count and all(p.ready and not p.terminating for p in current):
            return current
        return None
    return wait_for(done, timeout, interval=0.2, message=f"{count} ready pods {selector}")


def endpoints(k: Kubectl, service_name: str) -> list[dict[str, Any]]:
    """Every endpoint of the Service's EndpointSlices (address, conditions, targetRef)."""
    slices = k.json("get", "endpointslices", "-l",
                    f"kubernetes.io/service-name={service_name}")["items"]
    return [e for s in slices for e in (s.get("endpoints") or [])]


def ready_addresses(k: Kubectl, service_name: str) -> set[str]:
    return {a for e in endpoints(k, service_name) if e.get("conditions", {}).get("ready")
            for a in e["addresses"]}


def cluster_ip(k: Kubectl, name: str) -> str:
    return k.ok("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}")


def node_port(k: Kubectl, name: str, index: int = 0) -> int:
    return int(k.ok("get", "svc", name, "-o", f"jsonpath={{.spec.ports[{index}].nodePort}}"))


def external_ip(k: Kubectl, name: str) -> str:
    return k.ok("get", "svc", name, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")


@dataclass(frozen=True)
class PodRun:
    phase: str
    logs: str


def run_pod(k: Kubectl, name: str, script: str, node: int | None = None,
            timeout: float = 60.0, command: Sequence[str] | None = None) -> PodRun:
    """Run `sh -c script` (or `command`) in a one-shot pod; its final phase and logs."""
    argv = list(command) if command is not None else ["sh", "-c", script]
    k.ok("apply", "-f", "-", input=dump(client_pod(name, argv, node)))

    def finished() -> str | None:
        phase = k.ok("get", "pod", name, "-o", "jsonpath={.status.phase}")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for(finished, timeout, interval=0.2, message=f"pod {name} to finish")
    return PodRun(phase, k.ok("logs", name))


def counts(lines: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        out[line] = out.get(line, 0) + 1
    return out


def lines_matching(text: str, pattern: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if re.fullmatch(pattern, ln.strip())]
