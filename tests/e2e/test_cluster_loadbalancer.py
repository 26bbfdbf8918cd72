"""Issue 6 end to end: the cloud load balancer in front of 3 real nodes.

One `portico up --nodes 3` serves the module; each test gets a fresh namespace.
Requests go from the sandbox (the cluster's host, 10.223.0.1) to the frontends
(198.51.100.0/24, or 10.224.x.x for internal ones), which live in the cloud netns
`portico-<name>-cloud`.  Probes are shortened with the health-probe annotations so
that new frontends come up within a few seconds.  Failover damages a node, so it
lives in `test_cluster_lb_failover.py` with a cluster of its own.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Iterator

import pytest
from cluster_support import (
    FAST_PROBES,
    HTTP_PORT,
    SANDBOX_IP,
    connect,
    curl,
    deployment,
    dump,
    external_ip,
    http_many,
    running_cluster,
    service,
    wait_ready,
)
from cluster_support import (
    LB_ANNOTATION as ANNOTATION,
)
from e2e_support import parse_table

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

PUBLIC_POOL = ipaddress.ip_network("198.51.100.0/24")
VNET = ipaddress.ip_network("10.224.0.0/16")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


def backends(k: Kubectl, name: str, replicas: int) -> set[str]:
    k.ok("apply", "-f", "-", input=dump(deployment(name, replicas)))
    return {p.name for p in wait_ready(k, f"app={name}", replicas)}


def lb_service(k: Kubectl, name: str, annotations: dict[str, str] | None = None,
               port: dict[str, object] | None = None, **spec: object) -> None:
    body = service(name, [port or HTTP_PORT], "LoadBalancer",
                   annotations={**FAST_PROBES, **(annotations or {})}, **spec)
    k.ok("apply", "-f", "-", input=dump(body))


def wait_external_ip(k: Kubectl, name: str, timeout: float = 30.0) -> str:
    return wait_for(lambda: external_ip(k, name), timeout, interval=0.05,
                    message=f"EXTERNAL-IP of {name}")


def answering_lb(k: Kubectl, cluster: Cluster, name: str) -> tuple[set[str], str]:
    """One backend and a LoadBalancer Service `name`: (its pod names, its EXTERNAL-IP),
    once the frontend answers from that pod."""
    names = backends(k, name, 1)
    lb_service(k, name)
    ip = wait_external_ip(k, name)
    serving(cluster, f"http://{ip}/hostname", names, n=2)
    return names, ip


def serving(cluster: Cluster, url: str, expected: set[str], n: int = 24) -> set[str]:
    """Poll until `n` requests through `url` reach exactly the `expected` pods."""
    return wait_for(lambda: set(http_many(cluster, url, n)) == expected and expected, 60,
                    interval=0.5, message=f"{url} to reach {sorted(expected)}")


def cloud_lb_table(cluster: Cluster) -> str:
    result = cluster.sandbox.run(["ip", "netns", "exec", f"portico-{cluster.name}-cloud",
                                  "nft", "list", "table", "inet", "portico-lb"])
    assert result.returncode == 0, result.stderr
    return result.stdout


def lb_show(cluster: Cluster) -> str:
    result = cluster.sandbox.run([os.fspath(cluster.portico), "lb", "show", "--name",
                                  cluster.name, "--data-dir", os.fspath(cluster.data_dir)])
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_external_ip_is_fast_and_reaches_every_pod(kubectl133: Kubectl,
                                                   cluster: Cluster) -> None:
    k = kubectl133
    names = backends(k, "pub", 3)
    start = time.monotonic()
    lb_service(k, "pub")
    ip = wait_external_ip(k, "pub")
    elapsed = time.monotonic() - start
    print(f"EXTERNAL-IP {ip} {elapsed:.2f}s after kubectl apply (kubectl calls included)")
    assert ipaddress.ip_address(ip) in PUBLIC_POOL
    assert elapsed < 5.0
    serving(cluster, f"http://{ip}/hostname", names)


def test_internal_annotation_gives_a_vnet_address(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    names = backends(k, "inner", 2)
    lb_service(k, "inner", {ANNOTATION + "azure-load-balancer-internal": "true"})
    ip = wait_external_ip(k, "inner")
    assert ipaddress.ip_address(ip) in VNET, ip
    serving(cluster, f"http://{ip}/hostname", names)


def test_shared_ip_serves_two_services(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    shared = "198.51.100.200"
    first, second = backends(k, "one", 1), backends(k, "two", 1)
    pin = {ANNOTATION + "azure-load-balancer-ipv4": shared}
    lb_service(k, "one", pin)
    lb_service(k, "two", pin, port={"name": "http", "port": 8080, "targetPort": 8080})
    assert (wait_external_ip(k, "one"), wait_external_ip(k, "two")) == (shared, shared)
    serving(cluster, f"http://{shared}/hostname", first, n=4)
    serving(cluster, f"http://{shared}:8080/hostname", second, n=4)


def test_source_ranges_block_the_sandbox(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    names = backends(k, "fenced", 1)
    # Control first: with the sandbox's address in the ranges, the frontend answers.
    lb_service(k, "fenced", loadBalancerSourceRanges=["192.0.2.0/24", f"{SANDBOX_IP}/32"])
    ip = wait_external_ip(k, "fenced")
    serving(cluster, f"http://{ip}/hostname", names, n=2)
    lb_service(k, "fenced", loadBalancerSourceRanges=["192.0.2.0/24"])
    wait_for(lambda: connect(cluster, ip, 80, timeout=2.0)[0] != 0, 30, interval=0.5,
             message="the sandbox to be blocked")
    assert [connect(cluster, ip, 80, timeout=2.0)[0] != 0 for _ in range(3)] == [True] * 3


def test_local_policy_through_frontend_keeps_client_ip(kubectl133: Kubectl,
                                                       cluster: Cluster) -> None:
    k = kubectl133
    backends(k, "keep", 2)
    lb_service(k, "keep", externalTrafficPolicy="Local")
    ip = wait_external_ip(k, "keep")
    body = wait_for(lambda: curl(cluster, f"http://{ip}/clientip").stdout, 60, interval=0.5,
                    message="an answer through the frontend")
    assert body.rpartition(":")[0] == SANDBOX_IP, body


def test_delete_removes_rules_and_frees_the_address(kubectl133: Kubectl,
                                                    cluster: Cluster) -> None:
    k = kubectl133
    names, ip = answering_lb(k, cluster, "gone")
    assert ip in cloud_lb_table(cluster)
    assert ip in lb_show(cluster)
    k.ok("delete", "svc", "gone")
    wait_for(lambda: ip not in cloud_lb_table(cluster), 30, interval=0.2,
             message=f"{ip} to leave the load balancer's nftables")
    wait_for(lambda: ip not in lb_show(cluster), 30, interval=0.2,
             message=f"{ip} to leave `portico lb show`")
    # The address is free again: a new Service may ask for it by annotation.
    lb_service(k, "again", {ANNOTATION + "azure-load-balancer-ipv4": ip},
               selector={"app": "gone"})
    assert wait_external_ip(k, "again") == ip
    serving(cluster, f"http://{ip}/hostname", names, n=2)


def test_get_lb_and_lb_show_list_frontends_pool_rules_probes(kubectl133: Kubectl,
                                                             cluster: Cluster) -> None:
    k = kubectl133
    _, ip = answering_lb(k, cluster, "shown")
    rows = [r for r in parse_table(k.ok("get", "lb"))[1] if r["TYPE"] == "public"]
    assert [r["NAME"] for r in rows] == [cluster.name], rows
    assert ip in rows[0]["FRONTENDS"].split(","), rows
    # BACKENDS = nodes with every probe up, of 3; other tests' Local-policy Services in the
    # same (shared) load balancer may hold a node down, so only the pool size is exact.
    assert re.fullmatch(r"[0-3]/3", rows[0]["BACKENDS"]), rows
    shown = lb_show(cluster)
    frontend = [ln for ln in shown.splitlines() if ip in ln]
    assert frontend and frontend[0].split()[-1] == f"{k.namespace}/shown", shown
    for i in (1, 2, 3):
        assert f"node-{i}   10.224.0.{3 + i}" in shown, shown
    for section in ("Backend address pool", "Load balancing rules:", "Probes:"):
        assert section in shown, shown
