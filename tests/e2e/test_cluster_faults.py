"""Issue 18, points 1 and 2, end to end: components that die come back, containers
outlive their agent, a node whose agent stays gone has its pods evicted, and a
cluster comes back whole after `kill -9` of `portico up`.

One 3-node cluster for the module (node monitor grace 12 s, so that an eviction
takes seconds, not minutes); the `kill -9` of `portico up` test runs last, as it
restarts the whole cluster.  Traffic comes from node-2's namespace only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from cluster_support import (
    HTTP_PORT,
    agnhost_container,
    deployment,
    dump,
    external_ip,
    in_node,
    node_ip,
    node_port,
    pod,
    pods,
    ready_addresses,
    running_cluster,
    service,
    wait_ready,
)

from portico.agent._names import pod_netns
from portico.testing.sandbox import Cluster, wait_for
from portico.testing.traffic import finish_traffic, start_traffic
from tests.conftest import Kubectl

GRACE_SECONDS = 12


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(3, extra_args=["--node-monitor-grace-period", str(GRACE_SECONDS)])


def component_pid(cluster: Cluster, name: str) -> int:
    components = json.loads((cluster.data_dir / "components.json").read_text())
    return int(components[name]["pid"])


def agent_pid(cluster: Cluster, node: int) -> int:
    return component_pid(cluster, f"node-{node}")


def container_pids(cluster: Cluster, k: Kubectl, selector: str) -> dict[str, set[int]]:
    """Pod name -> the PIDs in its network namespace (its containers' processes)."""
    out = {}
    for item in k.json("get", "pods", "-l", selector)["items"]:
        netns = pod_netns(cluster.name, item["metadata"]["uid"])
        listing = subprocess.run(["ip", "netns", "pids", netns], capture_output=True,
                                 text=True, check=True)
        out[item["metadata"]["name"]] = {int(p) for p in listing.stdout.split()}
    return out


def agent_log(cluster: Cluster, node: int) -> str:
    return (cluster.data_dir / "nodes" / f"node-{node}" / "agent.log").read_text()


def node_ready(k: Kubectl, node: int) -> bool:
    conditions = k.json("get", "node", f"node-{node}")["status"]["conditions"]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_kill9_of_an_agent_keeps_its_containers_and_connections(
        cluster: Cluster, kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("web", 3), service("web", [HTTP_PORT],
                                                                      "NodePort")))
    placed = wait_ready(k, "app=web", 3)
    wait_for(lambda: len(ready_addresses(k, "web")) == 3, 30, message="3 endpoints")
    assert {p.node for p in placed} == {"node-1", "node-2", "node-3"}
    before = container_pids(cluster, k, "app=web")
    assert all(before.values())
    ip = k.ok("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    targets = [f"{ip}:80", f"{node_ip(1)}:{node_port(k, 'web')}"]
    client = start_traffic(cluster, in_node(cluster, 2, []), targets, seconds=10,
                           interval=0.02)
    old = agent_pid(cluster, 1)
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: agent_pid(cluster, 1) != old and agent_pid(cluster, 1), 30,
                   message="the supervisor to restart the agent")
    wait_for(lambda: "adopted the container launcher with" in agent_log(cluster, 1), 30,
             message="the new agent to adopt the launcher")
    wait_for(lambda: node_ready(k, 1), 30, message="node-1 Ready again")
    report = finish_traffic(client, 30)
    for target, result in report.items():
        assert result.new_ok > 100 and result.kept_ok > 100, (target, result)
        assert result.kept_failed == 0, (target, result)
        assert result.failure_window < 2.0, (target, result)
    assert new != old
    assert container_pids(cluster, k, "app=web") == before
    statuses = [p["status"]["containerStatuses"][0]
                for p in k.json("get", "pods", "-l", "app=web")["items"]]
    assert [(s["restartCount"], s["ready"]) for s in statuses] == [(0, True)] * 3
    # the restarted agent manages its adopted containers: a deletion ends them
    victim = next(p for p in k.json("get", "pods", "-l", "app=web")["items"]
                  if p["spec"]["nodeName"] == "node-1")
    k.ok("delete", "pod", victim["metadata"]["name"], "--wait=false")
    wait_ready(k, "app=web", 3)
    netns = pod_netns(cluster.name, victim["metadata"]["uid"])
    wait_for(lambda: not os.path.exists(f"/run/netns/{netns}"), 30,
             message="the deleted pod's sandbox gone")
    k.ok("delete", "deployment", "web")


def test_a_pod_deleted_while_its_agent_was_down_is_stopped_by_the_next(
        cluster: Cluster, kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(pod("lone", {"nodeName": "node-1",
                                                     "containers": [agnhost_container()]},
                                            {"app": "lone"})))
    wait_ready(k, "app=lone", 1)
    (pids,) = container_pids(cluster, k, "app=lone").values()
    agent = agent_pid(cluster, 1)
    os.kill(agent, signal.SIGSTOP)
    try:
        k.ok("delete", "pod", "lone", "--wait=false")
    finally:
        os.kill(agent, signal.SIGKILL)  # a stopped process dies of SIGKILL too
    wait_for(lambda: not k.json("get", "pods", "-l", "app=lone")["items"], 60,
             message="the pod gone, stopped by the restarted agent")
    assert agent_pid(cluster, 1) != agent
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 10,
             message="its containers' processes gone")


def test_killed_control_components_come_back(cluster: Cluster, kubectl133: Kubectl) -> None:
    """The controller manager and the load balancer, restarted as fresh interpreters."""
    k = kubectl133
    old = {name: component_pid(cluster, name) for name in ("controller-manager", "cloud-lb")}
    for pid in old.values():
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: all(component_pid(cluster, n) != p for n, p in old.items()), 30,
             message="both restarted")
    k.ok("apply", "-f", "-", input=dump(deployment("after", 1),
                                        service("after", [HTTP_PORT], "LoadBalancer")))
    wait_ready(k, "app=after", 1)  # the restarted controller manager and scheduler work
    wait_for(lambda: external_ip(k, "after"), 30, message="an EXTERNAL-IP from the new LB")
    restarted = {name: component_pid(cluster, name) for name in old}
    log = cluster.log_path.read_text()
    for name, pid in restarted.items():
        os.kill(pid, 0)
        assert log.count(f"{name} restarted") == 1, log  # once: not crash-looping
    k.ok("delete", "deployment,service", "after")


def test_pods_are_evicted_from_a_node_whose_agent_is_gone(
        cluster: Cluster, kubectl133: Kubectl) -> None:
    k = kubectl133
    spec = deployment("evict", 3)
    tolerations = [{"key": f"node.kubernetes.io/{key}", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 2}
                   for key in ("unreachable", "not-ready")]
    spec["spec"]["template"]["spec"]["tolerations"] = tolerations
    k.ok("apply", "-f", "-", input=dump(spec))
    placed = wait_ready(k, "app=evict", 3)
    on_node3 = [p.name for p in placed if p.node == "node-3"]
    assert on_node3
    agent = agent_pid(cluster, 3)
    os.kill(agent, signal.SIGSTOP)  # hung: alive for the supervisor, silent for the API
    try:
        def evicted() -> bool:
            current = {p.name: p for p in pods(k, "app=evict")}
            return all(current[n].terminating for n in on_node3 if n in current)
        wait_for(evicted, GRACE_SECONDS + 30, interval=0.5, message="pods evicted")
        taints = k.json("get", "node", "node-3")["spec"]["taints"]
        assert {(t["key"], t["effect"]) for t in taints} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute")}
        wait_for(lambda: len([p for p in pods(k, "app=evict")
                              if p.ready and not p.terminating]) == 3, 60, interval=0.5,
                 message="3 ready replacements")
        events = k.json("get", "events", "--field-selector", "reason=TaintManagerEviction")
        assert {e["involvedObject"]["name"] for e in events["items"]} >= set(on_node3)
    finally:
        os.kill(agent, signal.SIGCONT)
    wait_for(lambda: node_ready(k, 3) and not k.json("get", "node", "node-3")["spec"].get(
        "taints"), 60, message="node-3 back, untainted")
    wait_for(lambda: not set(on_node3) & {p.name for p in pods(k, "app=evict")}, 60,
             message="the evicted pods gone once their agent came back")
    k.ok("delete", "deployment", "evict")


BLOCK_PORT = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
time.sleep(120)
"""


def test_a_failed_start_exits_within_seconds() -> None:
    """The API port is taken: `portico up` fails after forking its components, which
    stop at once (not after their two-minute wait for the API server)."""
    failing = Cluster(nodes=1)
    failing.sandbox.create()
    try:
        blocker = failing.sandbox.popen([sys.executable, "-c", BLOCK_PORT,
                                         str(failing.api_port)])
        assert blocker.stdout is not None and blocker.stdout.readline().strip() == "listening"
        started = time.monotonic()
        failing.launch()
        assert failing.process is not None
        assert failing.process.wait(timeout=60) != 0
        assert time.monotonic() - started < 15
        assert failing.sandbox.pids() == [blocker.pid]  # no component left behind
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert f"portico-{failing.name}-" not in netns
    finally:
        failing.close()


def test_restart_right_after_kill9_of_portico_up(cluster: Cluster,
                                                 kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("back", 3)))
    wait_ready(k, "app=back", 3)
    for _ in range(3):
        cluster.kill9()
        cluster.start()  # returns once `portico wait` says ready
        assert all(node_ready(k, i) for i in (1, 2, 3))
        for i in (1, 2, 3):
            os.kill(agent_pid(cluster, i), 0)  # the agents `portico wait` counted are alive
        wait_ready(k, "app=back", 3)
    assert not any("address already in use" in agent_log(cluster, i) for i in (1, 2, 3))
