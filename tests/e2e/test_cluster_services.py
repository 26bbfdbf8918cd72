"""Issue 5 end to end: Service networking (nftables kube-proxy) on 3 real nodes.

One `portico up --nodes 3` serves the module; each test gets a fresh namespace.
Clients run in the sandbox (the cluster's host, 10.223.0.1), in a node netns, or
in a one-shot pod; replies are agnhost netexec's `/hostname`, `/clientip` and
its UDP `hostname` command, so every assertion names the pod that answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from errno import ECONNREFUSED
from pathlib import Path

import pytest
from cluster_support import (
    HTTP_PORT,
    NODES,
    SANDBOX_IP,
    UDP_PORT,
    VENV_PYTHON,
    agnhost_container,
    cluster_ip,
    connect,
    curl,
    deployment,
    dump,
    host_dir,
    http_many,
    node_ip,
    node_netns,
    node_port,
    on_node,
    pods,
    ready_addresses,
    run_pod,
    running_cluster,
    service,
    wait_ready,
)
from e2e_support import LineReader

from portico.testing.sandbox import Cluster, end_process, wait_for
from tests.conftest import Kubectl

REQUESTS = 30


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


@pytest.fixture
def scratch() -> Iterator[Path]:
    yield from host_dir()


def web(k: Kubectl, name: str, replicas: int, svc_type: str = "ClusterIP", **svc: object,
        ) -> set[str]:
    """A Deployment of agnhost netexec plus its Service; the ready pods' names."""
    k.ok("apply", "-f", "-", input=dump(deployment(name, replicas),
                                         service(name, [HTTP_PORT, UDP_PORT], svc_type, **svc)))
    names = {p.name for p in wait_ready(k, f"app={name}", replicas)}
    wait_for(lambda: len(ready_addresses(k, name)) == replicas, 30, interval=0.2,
             message=f"{replicas} ready endpoints of {name}")
    return names


def loop_script(url: str, n: int = REQUESTS) -> str:
    return f"for i in $(seq {n}); do curl -s --max-time 2 {url}; echo; done"


def answers(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def test_cluster_ip_reaches_every_pod_from_node_and_pod(kubectl133: Kubectl,
                                                        cluster: Cluster) -> None:
    k = kubectl133
    names = web(k, "web", 3)
    url = f"http://{cluster_ip(k, 'web')}/hostname"
    assert set(http_many(cluster, url, REQUESTS, node=1)) == names
    script = f"for i in $(seq {REQUESTS}); do wget -qO- {url}; echo; done"
    run = run_pod(k, "client", script, node=2, timeout=90)
    assert run.phase == "Succeeded", run.logs
    assert answers(run.logs) == names


def test_node_port_answers_on_every_node(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    names = web(k, "np", 2, "NodePort")
    port = node_port(k, "np")
    for i in range(1, NODES + 1):
        assert set(http_many(cluster, f"http://{node_ip(i)}:{port}/hostname", 12)) == names, i


def test_session_affinity_keeps_one_client_on_one_pod(kubectl133: Kubectl,
                                                      cluster: Cluster) -> None:
    k = kubectl133
    web(k, "sticky", 3, sessionAffinity="ClientIP")
    url = f"http://{cluster_ip(k, 'sticky')}/hostname"
    seen = http_many(cluster, url, 20, node=1)
    assert len(seen) == 20 and len(set(seen)) == 1, seen


def test_external_traffic_policy_local_keeps_client_ip_and_health(kubectl133: Kubectl,
                                                                  cluster: Cluster) -> None:
    k = kubectl133
    names = web(k, "local", 1, "LoadBalancer", externalTrafficPolicy="Local")
    (pod,) = pods(k, "app=local")
    home = int(pod.node.removeprefix("node-"))
    port = node_port(k, "local")
    body = curl(cluster, f"http://{node_ip(home)}:{port}/clientip").stdout
    assert body.rpartition(":")[0] == SANDBOX_IP, body
    assert curl(cluster, f"http://{node_ip(home)}:{port}/hostname").stdout == next(iter(names))
    health = int(k.ok("get", "svc", "local", "-o", "jsonpath={.spec.healthCheckNodePort}"))
    codes = {}
    for i in range(1, NODES + 1):
        result = curl(cluster, f"http://{node_ip(i)}:{health}/healthz",
                      extra=["-o", "/dev/null", "-w", "%{http_code}"])
        codes[i] = result.stdout
    assert codes == {i: "200" if i == home else "503" for i in range(1, NODES + 1)}


def test_scaled_to_zero_refuses_at_once(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    web(k, "zero", 1, "NodePort")
    ip, port = cluster_ip(k, "zero"), node_port(k, "zero")
    k.ok("scale", "deployment", "zero", "--replicas=0")
    wait_for(lambda: not pods(k, "app=zero") and not ready_addresses(k, "zero"), 60,
             interval=0.2, message="zero endpoints")
    # From a node to the ClusterIP, and from the sandbox to a NodePort: ECONNREFUSED
    # (nftables `reject`: ICMP port unreachable), not a timeout.
    for node, target in ((1, (ip, 80)), (None, (node_ip(2), port))):
        errno, seconds = wait_for(lambda n=node, t=target: _refused(cluster, n, t), 20,  # type: ignore[misc]
                                  interval=0.2, message=f"a refused connection to {target}")
        assert (errno, seconds < 1.0) == (ECONNREFUSED, True), (target, errno, seconds)


def _refused(cluster: Cluster, node: int | None, target: tuple[str, int],
             ) -> tuple[int, float] | None:
    errno, seconds = connect(cluster, *target, node=node)
    return (errno, seconds) if errno else None


UDP_CLIENT = r"""
import os, socket, sys, time
ip, port, flag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
s.settimeout(2)
def ask():
    s.sendto(b"hostname", (ip, port))
    try:
        print(s.recv(512).decode(), flush=True)
    except OSError as e:
        print(f"error {e!r}", flush=True)
while True:
    ask()
    if os.path.exists(flag):
        break
    time.sleep(0.3)
while os.path.exists(flag):
    time.sleep(0.05)
print("second", flush=True)
ask()
"""


def test_udp_follows_pod_replacement(kubectl133: Kubectl, cluster: Cluster,
                                     scratch: Path) -> None:
    k = kubectl133
    (old,) = web(k, "udp", 1)
    ip = cluster_ip(k, "udp")
    flag = scratch / "flag"
    flag.touch()
    argv = ["nsenter", f"--net=/run/netns/{node_netns(cluster, 1)}", "--",
            VENV_PYTHON, "-c", UDP_CLIENT, ip, "81", str(flag)]
    client = cluster.sandbox.popen(argv)
    try:
        reader = LineReader(client)
        reader.wait_line(f"^{re.escape(old)}$", timeout=20)
        k.ok("delete", "pod", old, "--wait=false")
        (new,) = wait_for(lambda: {p.name for p in wait_ready(k, "app=udp", 1)} - {old}, 60,
                          message="the replacement pod")
        new_ip = pods(k, "app=udp")[0].ip
        wait_for(lambda: new_ip in on_node(cluster, 1, ["nft", "list", "table", "inet",
                                                        "portico-proxy"]).stdout,
                 30, interval=0.2, message="node-1's rules to use the new pod")
        flag.unlink()
        reader.wait_line("^second$", timeout=10)
        client.wait(timeout=10)
        lines = reader.finish()
        assert lines[-1] == new, lines
    finally:
        end_process(client, grace=2)


LOAD = r"""
import json, os, sys, time, urllib.request
url, flag = sys.argv[1], sys.argv[2]
ok, failures = 0, []
while os.path.exists(flag):
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            r.read()
        ok += 1
    except Exception as e:
        failures.append(repr(e))
    if ok % 20 == 0:
        print(f"ok {ok}", flush=True)
print(json.dumps({"ok": ok, "failures": failures}), flush=True)
"""


def test_rolling_restart_under_traffic_loses_nothing(kubectl133: Kubectl, cluster: Cluster,
                                                     scratch: Path) -> None:
    k = kubectl133
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    container = agnhost_container(readinessProbe=probe,
                                  lifecycle={"preStop": {"exec": {"command": ["sleep", "2"]}}})
    spec = {"terminationGracePeriodSeconds": 10, "containers": [container]}
    k.ok("apply", "-f", "-", input=dump(
        deployment("steady", 3, spec, strategy={"type": "RollingUpdate", "rollingUpdate": {
            "maxUnavailable": 0, "maxSurge": 1}}),
        service("steady", [HTTP_PORT], "NodePort")))
    before = {p.name for p in wait_ready(k, "app=steady", 3)}
    port = node_port(k, "steady")
    flag = scratch / "running"
    flag.touch()
    load = cluster.sandbox.popen([VENV_PYTHON, "-c", LOAD,
                                  f"http://{node_ip(2)}:{port}/hostname", str(flag)])
    try:
        reader = LineReader(load)
        reader.wait_line("^ok ", timeout=30)
        k.ok("rollout", "restart", "deployment/steady")
        wait_for(lambda: len(ready := wait_ready(k, "app=steady", 3, timeout=90)) == 3
                 and not {p.name for p in ready} & before, 120, interval=0.5,
                 message="every pod replaced")
        count = len(reader.drain())
        reader.wait_line("^ok ", nth=count + 2, timeout=30)
    finally:
        flag.unlink(missing_ok=True)
    load.wait(timeout=15)
    result = json.loads(reader.finish()[-1])
    assert result["ok"] > 40
    assert result["failures"] == []


@pytest.mark.parametrize("host", ["10.0.0.1", "kubernetes.default.svc"])
def test_kubernetes_service_reaches_api_server_from_pod(kubectl133: Kubectl, host: str) -> None:
    run = run_pod(kubectl133, "api", f"curl -sk --max-time 5 https://{host}/version")
    assert run.phase == "Succeeded", run.logs
    version = json.loads(run.logs)
    assert version["gitVersion"].startswith("v1."), version


def test_proxy_metrics_on_node_loopback_only(cluster: Cluster) -> None:
    result = on_node(cluster, 1, ["curl", "-sS", "--max-time", "3",
                                  "http://127.0.0.1:10249/metrics"])
    assert result.returncode == 0, result.stderr
    assert curl(cluster, f"http://{node_ip(1)}:10249/metrics").returncode != 0
    assert curl(cluster, f"http://{node_ip(1)}:10256/healthz").returncode == 0
    names = {line.split("{")[0].split(" ")[0] for line in result.stdout.splitlines()
             if line and not line.startswith("#")}
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in names, sorted(names)
