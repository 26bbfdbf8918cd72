"""Issue 6 failover end to end: a node's agent dies, the load balancer drains the node.

This module has a cluster of its own because it damages node-3.  One agnhost pod
is pinned to each node behind an `externalTrafficPolicy: Local` LoadBalancer
Service, so the load balancer probes each node's healthCheckNodePort, which the
node's agent serves.  SIGSTOP of node-3's agent (found among the processes in its
netns, by command line: a hung agent, as one that is killed is restarted by the
supervisor at once) makes node-3's probe fail; after interval x probes (5 s x 2,
shortened by annotation) no new connection through the frontend fails.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import (
    HTTP_PORT,
    agnhost_container,
    dump,
    external_ip,
    http_many,
    node_netns,
    pod,
    running_cluster,
    service,
    wait_ready,
)

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

INTERVAL, PROBES = 5, 2
ANNOTATIONS = {
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-interval": str(INTERVAL),
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-num-of-probe": str(PROBES),
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


def agent_pid(cluster: Cluster, node: int) -> int:
    """The PID of node-I's agent: in its netns, titled `portico agent --config <node-I's>`."""
    netns = node_netns(cluster, node)
    out = cluster.sandbox.run(["ip", "netns", "pids", netns], check=True).stdout
    config = f"nodes/node-{node}/agent.json"
    for pid in map(int, out.split()):
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        if title.startswith("portico agent --config ") and config in title:
            return pid
    raise AssertionError(f"no agent process in {netns}: {out}")


def test_failover_when_an_agent_dies(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    pinned = [pod(f"fo-{i}", {"nodeName": f"node-{i}", "containers": [
        agnhost_container(readinessProbe=probe)]}, {"app": "fo"}) for i in (1, 2, 3)]
    k.ok("apply", "-f", "-", input=dump(*pinned, service(
        "fo", [HTTP_PORT], "LoadBalancer", annotations=ANNOTATIONS,
        externalTrafficPolicy="Local")))
    names = {p.name for p in wait_ready(k, "app=fo", 3)}
    ip = wait_for(lambda: external_ip(k, "fo"), 30, message="EXTERNAL-IP")
    url = f"http://{ip}/hostname"
    wait_for(lambda: set(http_many(cluster, url, 24)) == names, 60, interval=0.5,
             message="every node serving through the frontend")
    victim = agent_pid(cluster, 3)
    os.kill(victim, signal.SIGSTOP)  # our own cluster's agent, by PID
    try:
        killed_at = time.monotonic()
        during = http_many(cluster, url, 10)
        print(f"during the probe window: {sorted(set(during))}")
        remaining = INTERVAL * PROBES + 2 - (time.monotonic() - killed_at)
        if remaining > 0:
            wait_for(lambda: time.monotonic() - killed_at >= INTERVAL * PROBES + 2,
                     remaining + 1, interval=0.2, message="interval x probes")
        after = http_many(cluster, url, 30)
    finally:
        os.kill(victim, signal.SIGCONT)
    failures = [line for line in after if line.startswith("ERR")]
    assert failures == [], after
    assert set(after) <= names - {"fo-3"} and set(after), after
