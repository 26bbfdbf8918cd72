"""Issue 18 (6-8) end to end: clusters that cannot hurt each other, hardened nodes, no ghosts.

One 3-node cluster named `<X>-b` serves the module, so that `portico down --name
<X>` (a prefix of its name) can show it leaves the cluster alone.  Against it: a
second `portico up` with the same name (refused at once, nothing touched), failed
starts (one line, within seconds), the node's loopback seen from a pod that routes
127.0.0.0/8 to its node (dropped, as kube-proxy drops it), the data dir's
permissions, and fast Deployment create/delete cycles (no ReplicaSet or pod of a
deleted Deployment survives).  The restart of an old, world-readable data dir runs
on a control-plane-only cluster of its own.
"""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import node_netns, run_pod, running_cluster

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

PREFIX = f"pt{secrets.token_hex(3)}"
START_SECONDS = 10.0  # "exits within seconds": a refused start creates nothing


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(name=f"{PREFIX}-b")


def portico(cluster: Cluster, *args: str, timeout: float = 60.0,
            ) -> tuple[subprocess.CompletedProcess[str], float]:
    """`portico ARGS` inside the cluster's sandbox; the result and how long it took."""
    start = time.monotonic()
    result = cluster.sandbox.run([cluster.portico, *args], timeout=timeout)
    return result, time.monotonic() - start


def intact(cluster: Cluster) -> None:
    """The cluster still runs: its process, its node netns with their agents, Ready nodes."""
    assert cluster.process is not None and cluster.process.poll() is None, cluster.log_tail()
    for i in (1, 2, 3):
        pids = subprocess.run(["ip", "netns", "pids", node_netns(cluster, i)],
                              capture_output=True, text=True)
        assert pids.returncode == 0 and pids.stdout.split(), f"node-{i}: {pids.stderr}"
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json", check=True).stdout)
    ready = [n["metadata"]["name"] for n in nodes["items"] if any(
        c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
    assert ready == ["node-1", "node-2", "node-3"], ready


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portico: "), stderr
    return lines[0]


def test_a_second_up_with_the_same_name_is_refused_and_touches_nothing(
        cluster: Cluster) -> None:
    other = cluster.workdir / "other-data"
    result, seconds = portico(cluster, "up", "--name", cluster.name, "--data-dir", str(other),
                              "--api-port", str(cluster.api_port + 1), "--nodes", "3")
    assert result.returncode == 1 and seconds < START_SECONDS, (seconds, result)
    line = one_line(result.stderr)
    assert f"cluster {cluster.name!r} is already running" in line, line
    assert str(cluster.data_dir) in line, line
    assert not other.exists()
    intact(cluster)


def test_down_matches_whole_names_and_spares_a_running_cluster(cluster: Cluster) -> None:
    result, _ = portico(cluster, "down", "--name", PREFIX)
    assert result.returncode == 0, result.stderr
    assert "ended 0 processes, removed 0 namespaces" in result.stdout, result.stdout
    intact(cluster)
    for args in (["--name", cluster.name], ["--data-dir", str(cluster.data_dir)]):
        refused, _ = portico(cluster, "down", *args)
        assert refused.returncode == 1, refused
        assert f"cluster {cluster.name!r} is running" in one_line(refused.stderr)
    intact(cluster)


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["--name", "taken-port"], "choose another port with --api-port", id="port"),
    pytest.param(["--name", "Not_A_Label", "--api-port", "7999"], "is not a DNS label",
                 id="name"),
])
def test_a_failed_start_is_one_line_within_seconds(cluster: Cluster, args: list[str],
                                                   expected: str) -> None:
    data_dir = cluster.workdir / f"failed-{secrets.token_hex(2)}"
    argv = ["up", "--data-dir", str(data_dir), "--api-port", str(cluster.api_port), *args]
    result, seconds = portico(cluster, *argv)
    assert result.returncode == 1 and seconds < START_SECONDS, (seconds, result)
    assert expected in one_line(result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert not data_dir.exists()


# The pod routes 127.0.0.2 to its node (10.244.0.1, node-1's bridge), as a VNet
# neighbour could: kube-proxy's healthz listens on 0.0.0.0:10256, so the node's
# loopback answers unless the localnet rule drops the packet.  The node's own IP
# answers, to show the path and the server work.
LOOPBACK_FROM_POD = """
sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.eth0.route_localnet=1
ip route del 127.0.0.0/8 dev lo table local
ip route add 127.0.0.2/32 via 10.244.0.1 dev eth0
for url in http://127.0.0.2:10256/healthz http://10.224.0.4:10256/healthz; do
  code=$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$url")
  echo "$url $code"
done
"""


def test_the_nodes_loopback_is_not_reachable_from_another_namespace(
        kubectl133: Kubectl) -> None:
    run = run_pod(kubectl133, "localnet", LOOPBACK_FROM_POD, node=1)
    assert run.logs.split() == ["http://127.0.0.2:10256/healthz", "000",
                                "http://10.224.0.4:10256/healthz", "200"], run.logs


def modes(root: Path, relative: list[str]) -> dict[str, str]:
    return {name: oct(stat.S_IMODE((root / name).stat().st_mode)) for name in relative}


SECRETS = ["state.db", "kubeconfig", "pki/ca.key", "pki/admin.token",
           "pki/sa.key", "controller-manager/kubeconfig",
           "nodes/node-1/kubeconfig", "nodes/node-1/kubelet.key", "cloud/kubeconfig"]


def test_the_data_dir_and_its_secrets_are_root_only(cluster: Cluster) -> None:
    assert modes(cluster.data_dir, ["."]) == {".": "0o700"}
    assert set(modes(cluster.data_dir, SECRETS).values()) == {"0o600"}
    nobody = cluster.sandbox.run(["setpriv", "--reuid=65534", "--regid=65534",
                                  "--clear-groups", "cat", str(cluster.kubeconfig)])
    assert nobody.returncode != 0 and "Permission denied" in nobody.stderr, nobody


def test_a_restart_makes_an_old_data_dir_root_only(fresh_cluster: Cluster) -> None:
    fresh_cluster.stop()
    data = fresh_cluster.data_dir
    loose = ["state.db", "kubeconfig", "pki/ca.key", "pki/admin.token"]
    for name in [".", "pki", *loose]:
        (data / name).chmod(0o755 if (data / name).is_dir() else 0o644)
    fresh_cluster.start()
    assert modes(data, [".", "pki"]) == {".": "0o700", "pki": "0o700"}
    assert set(modes(data, loose).values()) == {"0o600"}


# create and delete a few Deployment names over and over (in threads), each delete
# at another moment of the controllers' work on the Deployment just created
CYCLES = """
import threading, time
def body(name):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox",
                                                           "command": ["sleep", "3600"]}]}}}}
def cycle(name):
    for i in range(__CYCLES__):
        apps.create_namespaced_deployment("__NS__", body(name))
        time.sleep((i % 25) * 0.004)
        apps.delete_namespaced_deployment(name, "__NS__")
threads = [threading.Thread(target=cycle, args=(f"ghost-{n}",)) for n in range(__NAMES__)]
for t in threads: t.start()
for t in threads: t.join()
print("done")
"""


def test_fast_deployment_create_delete_cycles_leave_no_ghosts(cluster: Cluster,
                                                              kubectl133: Kubectl) -> None:
    k = kubectl133
    code = (CYCLES.replace("__CYCLES__", "50").replace("__NAMES__", "3")
            .replace("__NS__", k.namespace))
    assert cluster.python_client(code, timeout=120).strip() == "done"
    # a deleted Deployment back in the controllers' cache keeps (re)creating its
    # ReplicaSet; a ReplicaSet lost from it (an old one's late DELETED event) is never
    # collected: either way some would never be gone
    wait_for(lambda: not k.json("get", "deployments,replicasets,pods")["items"], 60,
             interval=0.5, message="no ReplicaSet or pod of a deleted Deployment left")
