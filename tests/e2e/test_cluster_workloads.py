"""Issue 4 end to end: nodes, pods, probes, rollouts, logs and restarts on 3 real nodes.

One `portico up --nodes 3` serves the whole module; each test works in a fresh
namespace (`kubectl133`).  Probes that the test toggles are exec probes reading a
file under a per-test directory of the machine (pods share the host filesystem).
The restart test runs last: it stops and restarts the shared cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import (
    HTTP_PORT,
    NETEXEC,
    NODES,
    PodView,
    agnhost_container,
    deployment,
    dump,
    endpoints,
    host_dir,
    node_cidr_prefix,
    node_ip,
    pod,
    pods,
    ready_addresses,
    run_pod,
    running_cluster,
    service,
    wait_ready,
)
from e2e_support import LineReader, parse_table

from portico.testing.sandbox import Cluster, end_process, wait_for
from tests.conftest import Kubectl


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


@pytest.fixture
def flags() -> Iterator[Path]:
    """A directory of the machine the test's pods can read (files = probe switches)."""
    yield from host_dir()


def test_nodes_are_ready_with_internal_ips_and_zones(kubectl133: Kubectl) -> None:
    out = kubectl133.ok("get", "nodes", "-o", "wide", "-L", "topology.kubernetes.io/zone")
    header, rows = parse_table(out)
    assert header[:6] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP"]
    assert [(r["NAME"], r["STATUS"], r["INTERNAL-IP"]) for r in rows] == [
        (f"node-{i}", "Ready", node_ip(i)) for i in range(1, NODES + 1)
    ]
    zones = [r["ZONE"] for r in rows]
    assert len(set(zones)) == NODES, zones


def test_deployment_spreads_over_every_node_with_node_local_ips(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("web", 6)))
    wait_ready(k, "app=web", 6)
    _, rows = parse_table(k.ok("get", "pods", "-o", "wide"))
    assert len(rows) == 6
    assert all(r["READY"] == "1/1" and r["STATUS"] == "Running" for r in rows), rows
    assert {r["NODE"] for r in rows} == {f"node-{i}" for i in range(1, NODES + 1)}
    assert len({r["IP"] for r in rows}) == 6
    for r in rows:
        i = int(r["NODE"].removeprefix("node-"))
        assert r["IP"].startswith(node_cidr_prefix(i)), r
        assert r["IP"] != f"{node_cidr_prefix(i)}1", r  # .1 is the bridge


def test_pod_to_pod_http_across_nodes(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("srv", 3, spec_node_spread())))
    servers = wait_ready(k, "app=srv", 3)
    target = servers[0]
    client_node = next(i for i in range(1, NODES + 1) if f"node-{i}" != target.node)
    url = f"http://{target.ip}:8080"
    run = run_pod(k, "client", f"wget -qO- {url}/hostname; echo; wget -qO- {url}/clientip",
                  node=client_node)
    assert run.phase == "Succeeded", run.logs
    client = pods(k, "!app")[0]
    assert client.node == f"node-{client_node}"
    hostname, clientip = run.logs.split()
    assert hostname == target.name
    assert clientip.rpartition(":")[0] == client.ip


def spec_node_spread() -> dict[str, object]:
    """A pod spec of agnhost netexec with hostname anti-affinity (one pod per node)."""
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    return {
        "containers": [agnhost_container(readinessProbe=probe)],
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "srv"}},
        }],
    }


def test_readiness_flips_remove_and_readd_the_endpoint(kubectl133: Kubectl, flags: Path) -> None:
    k = kubectl133
    switch = flags / "ready"
    probe = {"exec": {"command": ["test", "-f", str(switch)]}, "periodSeconds": 1,
             "failureThreshold": 1, "successThreshold": 1}
    flip = pod("flip", {"containers": [agnhost_container(readinessProbe=probe)]}, {"app": "flip"})
    k.ok("apply", "-f", "-", input=dump(flip, service("flip", [HTTP_PORT])))
    ip = wait_for(lambda: pods(k, "app=flip")[0].ip, 30, message="flip's IP")
    assert ready_addresses(k, "flip") == set()
    for present, expected in ((True, {ip}), (False, set()), (True, {ip})):
        if present:
            switch.touch()
        else:
            switch.unlink()
        wait_for(lambda e=expected: ready_addresses(k, "flip") == e, 20,  # type: ignore[misc]
                 interval=0.2, message=f"ready endpoints == {expected}")
        listed = [e["addresses"] for e in endpoints(k, "flip")]
        assert listed == [[ip]], listed  # not ready: still listed, with ready=false


def test_rolling_update_keeps_minimum_available(kubectl133: Kubectl) -> None:
    k = kubectl133
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    k.ok("apply", "-f", "-", input=dump(deployment("roll", 4, strategy=strategy)))
    before = {p.name for p in wait_ready(k, "app=roll", 4)}
    new_args = [*NETEXEC, "--sctp-port=-1"]
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": new_args}]
    k.ok("patch", "deployment", "roll", "--type=json", "-p", json.dumps(patch))
    lowest = 4

    def rolled() -> list[PodView] | None:
        nonlocal lowest
        current = pods(k, "app=roll")
        ready = [p for p in current if p.ready and not p.terminating]
        lowest = min(lowest, len(ready))
        names = {p.name for p in current}
        if len(current) == 4 and len(ready) == 4 and not names & before:
            return current
        return None

    wait_for(rolled, 90, interval=0.1, message="the rollout to replace every pod")
    assert lowest >= 3, f"only {lowest} pods Ready during the rollout (maxUnavailable=1)"
    items = k.json("get", "pods", "-l", "app=roll")["items"]
    assert [i["spec"]["containers"][0]["args"] for i in items] == [new_args] * 4


def test_deleted_pod_is_terminating_in_endpointslice(kubectl133: Kubectl) -> None:
    k = kubectl133
    container = agnhost_container(
        readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1},
        lifecycle={"preStop": {"exec": {"command": ["sleep", "3"]}}},
    )
    slow = pod("slow", {"terminationGracePeriodSeconds": 10, "containers": [container]},
               {"app": "slow"})
    k.ok("apply", "-f", "-", input=dump(slow, service("slow", [HTTP_PORT])))
    wait_for(lambda: ready_addresses(k, "slow"), 30, interval=0.2, message="slow ready")
    k.ok("delete", "pod", "slow", "--wait=false")

    def terminating() -> dict[str, object] | None:
        found = [e for e in endpoints(k, "slow") if e["conditions"].get("terminating")]
        return found[0] if found else None

    seen = wait_for(terminating, 10, interval=0.1, message="a terminating endpoint")
    assert seen["conditions"] == {"ready": False, "serving": True, "terminating": True}
    wait_for(lambda: endpoints(k, "slow") == [], 30, interval=0.2, message="endpoint removal")


def test_container_environment_as_kubelet_builds_it(kubectl133: Kubectl) -> None:
    """Plain values, fieldRefs, ConfigMap and Secret keys, the Service links, workingDir
    and the pod's hostname, read from inside the running container."""
    k = kubectl133
    ns = k.namespace
    k.ok("apply", "-f", "-", input=dump(
        service("web", [HTTP_PORT], selector={"app": "nothing"}),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
         "data": {"color": "blue"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
         "stringData": {"token": "s3cret"}}))
    web_ip = k.ok("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")

    def field(path: str) -> dict[str, object]:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}
    env = [{"name": "PLAIN", "value": "x"}, {"name": "POD_NAME", **field("metadata.name")},
           {"name": "POD_NS", **field("metadata.namespace")},
           {"name": "POD_IP", **field("status.podIP")},
           {"name": "NODE", **field("spec.nodeName")},
           {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "color"}}},
           {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}}]
    shell = pod("envy", {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"], "env": env,
         "workingDir": "/tmp"}]}, {"app": "envy"})
    k.ok("apply", "-f", "-", input=dump(shell))
    [view] = wait_ready(k, "app=envy", 1)
    got = dict(line.split("=", 1) for line in k.ok("exec", "envy", "--", "env").splitlines()
               if "=" in line)
    assert {key: got.get(key) for key in ("PLAIN", "POD_NAME", "POD_NS", "POD_IP", "NODE",
                                          "COLOR", "TOKEN")} == {
        "PLAIN": "x", "POD_NAME": "envy", "POD_NS": ns, "POD_IP": view.ip,
        "NODE": view.node, "COLOR": "blue", "TOKEN": "s3cret"}
    assert got["WEB_SERVICE_HOST"] == web_ip and got["WEB_SERVICE_PORT"] == "80"
    assert got["WEB_SERVICE_PORT_HTTP"] == "80"
    assert got["WEB_PORT"] == f"tcp://{web_ip}:80"
    assert got["WEB_PORT_80_TCP_ADDR"] == web_ip
    assert got["KUBERNETES_SERVICE_HOST"] == "10.0.0.1"
    assert k.ok("exec", "envy", "--", "sh", "-c", "pwd; hostname") == "/tmp\nenvy\n"


def test_cascading_deletion_background_foreground_orphan(kubectl133: Kubectl) -> None:
    """`kubectl delete --cascade=...`: the garbage collector takes the ReplicaSets and pods
    with the Deployment, after them (foreground), or leaves them ownerless (orphan)."""
    k = kubectl133
    pause = {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    for name in ("bg", "fg", "orphan"):
        k.ok("apply", "-f", "-", input=dump(deployment(name, 2, pause)))
        wait_ready(k, f"app={name}", 2)

    def left(selector: str) -> list[str]:
        return k.ok("get", "replicasets,pods", "-l", selector, "-o", "name").split()

    k.ok("delete", "deployment", "bg")  # background, kubectl's default
    wait_for(lambda: not left("app=bg"), 30, interval=0.2, message="bg's dependents gone")
    k.ok("delete", "deployment", "fg", "--cascade=foreground")  # waits for the finalizer
    assert not left("app=fg")
    k.ok("delete", "deployment", "orphan", "--cascade=orphan")
    wait_for(lambda: not k.ok("get", "replicasets", "-l", "app=orphan", "-o",
                              "jsonpath={.items[*].metadata.ownerReferences}"),
             30, interval=0.2, message="the orphaned ReplicaSet to lose its owner")
    assert len(wait_ready(k, "app=orphan", 2)) == 2  # its pods keep running


def test_logs_tail_and_follow(kubectl133: Kubectl, flags: Path) -> None:
    k = kubectl133
    go = flags / "go"
    script = (f"for i in 1 2 3 4 5; do echo line-$i; done; "
              f"while [ ! -f {go} ]; do sleep 0.1; done; echo after-follow; exec sleep 3600")
    talker = pod("talker", {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]})
    k.ok("apply", "-f", "-", input=dump(talker))
    expected = [f"line-{i}" for i in range(1, 6)]
    wait_for(lambda: k("logs", "talker").stdout.splitlines() == expected, 30, interval=0.2,
             message="five lines of logs")
    assert k.ok("logs", "talker", "--tail=2").splitlines() == ["line-4", "line-5"]
    follower = k.popen("logs", "-f", "talker")
    try:
        reader = LineReader(follower)
        reader.wait_line("^line-5$")
        go.touch()
        reader.wait_line("^after-follow$")
        assert reader.drain() == [*expected, "after-follow"]
    finally:
        end_process(follower, grace=2)


def test_rollout_undo_restores_previous_template(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("undo", 2)))
    wait_ready(k, "app=undo", 2)
    k.ok("set", "env", "deployment/undo", "COLOUR=blue")
    k.ok("rollout", "status", "deployment/undo", "--timeout=60s")
    k.ok("rollout", "undo", "deployment/undo")
    out = k.ok("rollout", "status", "deployment/undo", "--timeout=60s")
    assert "successfully rolled out" in out
    revision = k.ok("get", "deployment", "undo", "-o",
                    "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}")
    assert revision == "3"
    template = k.json("get", "deployment", "undo")["spec"]["template"]["spec"]
    assert "env" not in template["containers"][0]

    def env_free() -> bool:
        items = k.json("get", "pods", "-l", "app=undo")["items"]
        live = [i for i in items if "deletionTimestamp" not in i["metadata"]]
        return len(live) == 2 and all("env" not in i["spec"]["containers"][0] for i in live)

    wait_for(env_free, 60, interval=0.2, message="two pods of the restored template")
    wait_ready(k, "app=undo", 2)


def test_restart_brings_pods_back_on_same_node_and_ip(cluster: Cluster, kubectl133: Kubectl,
                                                      ) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("keep", 3)))
    before = {(p.name, p.node, p.ip) for p in wait_ready(k, "app=keep", 3)}
    assert cluster.stop() == 0
    cluster.start()
    after = wait_ready(k, "app=keep", 3, timeout=60)
    assert {(p.name, p.node, p.ip) for p in after} == before
    assert all(p.phase == "Running" for p in after)
