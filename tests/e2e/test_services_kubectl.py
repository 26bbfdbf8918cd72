"""Issue 3 through the real kubectl 1.32 and 1.33: `get svc` lines and error output.

On the shared `cluster` (`--nodes 0`: no load balancer ever answers, so a
LoadBalancer stays `<pending>`), each test creates its Services in a fresh
namespace and removes them again before it ends, so explicit nodePorts are free
for the next kubectl version. A second cluster of its own runs with
`--service-cidr 10.96.0.0/16 --node-port-range 31000-31999`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from portico.testing.sandbox import Cluster
from tests.conftest import Kubectl

HEADERS = ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE")
AGE = re.compile(r"\d+s")


def manifest(name: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                       "spec": spec})


def table(*rows: tuple[str, ...]) -> str:
    """kubectl's tabwriter: columns padded to the widest cell + 3, the last one unpadded."""
    cells = [HEADERS, *rows]
    widths = [max(len(row[i]) for row in cells) + 3 for i in range(len(HEADERS) - 1)]
    return "".join(
        "".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + row[-1] + "\n"
        for row in cells)


def get_svc(kubectl: Kubectl, name: str, *columns: str) -> None:
    """`kubectl get svc NAME` is exactly the expected header and row (AGE: seconds)."""
    out = kubectl.ok("get", "svc", name)
    age = out.splitlines()[1].rsplit(" ", 1)[1]
    assert AGE.fullmatch(age), out
    assert out == table((name, *columns, age))


@pytest.fixture
def ns(kubectl: Kubectl) -> Iterator[Kubectl]:
    yield kubectl
    kubectl("delete", "svc", "--all", "--wait=true")


def test_get_svc_lines(ns: Kubectl) -> None:
    ns.ok("create", "-f", "-", input=manifest("web", selector={"app": "web"},
                                              ports=[{"port": 80, "targetPort": 8080}]))
    web = ns.json("get", "svc", "web")["spec"]["clusterIP"]
    assert ipaddress.IPv4Address(web) in ipaddress.IPv4Network("10.0.0.0/16")
    get_svc(ns, "web", "ClusterIP", web, "<none>", "80/TCP")
    ns.ok("create", "-f", "-", input=manifest(
        "np", type="NodePort", selector={"app": "np"},
        ports=[{"name": "http", "port": 80, "nodePort": 30080},
               {"name": "https", "port": 443, "nodePort": 31443}]))
    np = ns.json("get", "svc", "np")["spec"]["clusterIP"]
    get_svc(ns, "np", "NodePort", np, "<none>", "80:30080/TCP,443:31443/TCP")
    ns.ok("create", "-f", "-", input=manifest(
        "lb", type="LoadBalancer", selector={"app": "lb"},
        ports=[{"port": 443, "nodePort": 30443}]))
    lb = ns.json("get", "svc", "lb")["spec"]["clusterIP"]
    get_svc(ns, "lb", "LoadBalancer", lb, "<pending>", "443:30443/TCP")
    ns.ok("create", "-f", "-", input=manifest("db", type="ExternalName",
                                              externalName="db.example.com"))
    get_svc(ns, "db", "ExternalName", "<none>", "db.example.com", "<none>")
    ns.ok("create", "-f", "-", input=manifest("headless", clusterIP="None",
                                              selector={"app": "h"}, ports=[{"port": 80}]))
    get_svc(ns, "headless", "ClusterIP", "None", "<none>", "80/TCP")


def test_kubectl_errors(ns: Kubectl) -> None:
    ns.ok("create", "-f", "-", input=manifest(
        "a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    err = ns.fail("create", "-f", "-", input=manifest(
        "x", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert err == ('The Service "x" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
                   "provided port is already allocated\n")
    err = ns.fail("create", "-f", "-", input=manifest("x", ports=[{"name": "Http", "port": 80}]))
    assert err == (
        'The Service "x" is invalid: spec.ports[0].name: Invalid value: "Http": a lowercase '
        "RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
        "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')\n")
    err = ns.fail("create", "service", "clusterip", "x", "--tcp=80:80", "--clusterip=10.0.0.1")
    assert err == ('error: failed to create ClusterIP service: Service "x" is invalid: '
                   'spec.clusterIPs: Invalid value: []string{"10.0.0.1"}: failed to allocate '
                   "IP 10.0.0.1: provided IP is already allocated\n")
    ns.ok("delete", "svc", "a")
    ns.ok("create", "-f", "-", input=manifest(
        "x", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))


@pytest.fixture(scope="module")
def custom() -> Iterator[Cluster]:
    args = ("--service-cidr", "10.96.0.0/16", "--node-port-range", "31000-31999")
    with Cluster(nodes=0, extra_args=args) as running:
        yield running


def test_custom_service_cidr_and_node_port_range(custom: Cluster) -> None:
    def get(*args: str) -> Any:
        result = custom.kubectl("get", *args, "-o", "json", check=True)
        return json.loads(result.stdout)

    kube = get("svc", "kubernetes", "-n", "default")["spec"]
    assert (kube["clusterIP"], kube["clusterIPs"]) == ("10.96.0.1", ["10.96.0.1"])
    endpoints = get("endpoints", "kubernetes", "-n", "default")
    assert [a["ip"] for a in endpoints["subsets"][0]["addresses"]] == ["10.223.0.1"]
    assert [p["port"] for p in endpoints["subsets"][0]["ports"]] == [custom.api_port]
    slices = get("endpointslices", "-n", "default",
                 "-l", "kubernetes.io/service-name=kubernetes")["items"]
    assert [e["addresses"] for s in slices for e in s["endpoints"]] == [["10.223.0.1"]]
    custom.kubectl("create", "-f", "-", check=True, input=manifest(
        "np", type="NodePort", ports=[{"port": 80}]))
    spec = get("svc", "np")["spec"]
    assert 31000 <= spec["ports"][0]["nodePort"] <= 31999
    assert ipaddress.IPv4Address(spec["clusterIP"]) in ipaddress.IPv4Network("10.96.0.0/16")
    result = custom.kubectl("create", "-f", "-", input=manifest(
        "out", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert (result.returncode, result.stderr) == (1, (
        'The Service "out" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided '
        "port is not in the valid range. The range of valid ports is 31000-31999\n"))
