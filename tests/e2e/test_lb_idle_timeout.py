"""The idle timeout annotation end to end: conntrack in the cloud netns forgets idle flows.

One `portico up --nodes 1`. A client in the sandbox (the cluster's host) keeps
one HTTP keep-alive connection open through a LoadBalancer frontend annotated
`azure-load-balancer-tcp-idle-timeout: "5"`; the flow's conntrack entry in the
cloud netns `portico-<name>-cloud` must expire within 300 s of the last packet
(not the kernel's 432000 s), also after another Service made the load balancer
replace its nftables table.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl
from tests.e2e.cluster_support import (
    FAST_PROBES,
    HTTP_PORT,
    VENV_PYTHON,
    curl,
    deployment,
    dump,
    external_ip,
    running_cluster,
    service,
    wait_ready,
)
from tests.e2e.cluster_support import (
    LB_ANNOTATION as ANNOTATION,
)

IDLE_MINUTES = 5
KERNEL_DEFAULT = 432000  # nf_conntrack_tcp_timeout_established

# One keep-alive connection: a GET at start and one per stdin line; prints
# "<local port> <body>" per answer, "ERR ..." (and exits) on any failure.
HOLD = r"""
import http.client, sys
conn = http.client.HTTPConnection(sys.argv[1], 80, timeout=10)
def get():
    conn.request("GET", "/hostname")
    body = conn.getresponse().read().decode().strip()
    print(conn.sock.getsockname()[1], body, flush=True)
try:
    get()
    while sys.stdin.readline():
        get()
except Exception as e:
    print("ERR", repr(e), flush=True)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(nodes=1)


def lb_service(k: Kubectl, name: str, annotations: dict[str, str]) -> str:
    body = service(name, [HTTP_PORT], "LoadBalancer", selector={"app": "idle"},
                   annotations={**FAST_PROBES, **annotations})
    k.ok("apply", "-f", "-", input=dump(body))
    return wait_for(lambda: external_ip(k, name), 30, interval=0.1,
                    message=f"EXTERNAL-IP of {name}")


def in_cloud(cluster: Cluster, *argv: str) -> str:
    result = cluster.sandbox.run(["ip", "netns", "exec", f"portico-{cluster.name}-cloud",
                                  *argv])
    assert result.returncode == 0, result.stderr
    return result.stdout


def flow_timeout(cluster: Cluster, ip: str, port: int) -> int | None:
    """Seconds left of the ESTABLISHED entry of sandbox:port -> ip:80 in the cloud netns."""
    listed = in_cloud(cluster, "conntrack", "-L", "-p", "tcp", "--orig-dst", ip,
                      "--orig-port-src", str(port), "--orig-port-dst", "80")
    entries = [line.split() for line in listed.splitlines() if " ESTABLISHED " in line]
    return int(entries[0][2]) if len(entries) == 1 else None


def answer(holder: subprocess.Popen[str]) -> tuple[int, str]:
    assert holder.stdout is not None
    line = holder.stdout.readline().strip()
    port, _, body = line.partition(" ")
    assert port.isdigit(), line
    return int(port), body


def test_idle_timeout_caps_the_flow_in_the_cloud_netns(kubectl133: Kubectl,
                                                        cluster: Cluster) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("idle", 1)))
    pod = wait_ready(k, "app=idle", 1)[0].name
    ip = lb_service(k, "idle", {ANNOTATION + "azure-load-balancer-tcp-idle-timeout":
                                str(IDLE_MINUTES)})
    wait_for(lambda: curl(cluster, f"http://{ip}/hostname").stdout.strip() == pod, 60, interval=0.5,
             message=f"{ip} to answer")

    holder = cluster.sandbox.popen([VENV_PYTHON, "-c", HOLD, ip], stdin=subprocess.PIPE)
    try:
        port, body = answer(holder)
        assert body == pod
        left = wait_for(lambda: flow_timeout(cluster, ip, port), 10, interval=0.1,
                        message="the flow's conntrack entry in the cloud netns")
        assert 0 < left <= IDLE_MINUTES * 60 < KERNEL_DEFAULT, left

        # Another Service changes the ruleset's structure (table portico-lb replaced);
        # the held flow keeps its idle timeout when its next packet refreshes the entry.
        other = lb_service(k, "other", {})
        wait_for(lambda: other in in_cloud(cluster, "nft", "list", "table", "inet",
                                           "portico-lb"),
                 30, interval=0.2, message=f"{other} in the load balancer's nftables")
        assert holder.stdin is not None
        holder.stdin.write("again\n")
        holder.stdin.flush()
        assert answer(holder) == (port, pod)
        left = flow_timeout(cluster, ip, port)
        assert left is not None and IDLE_MINUTES * 60 - 10 <= left <= IDLE_MINUTES * 60, left
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=15)
