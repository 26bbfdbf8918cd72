"""build_view (API objects -> DnsView), flags/env -> Config, and the addon loader."""

from __future__ import annotations

import pytest

from portico.addons import load
from portico.dns import Upstream, build_view, parse_config
from portico.dns._config import choose_upstreams, parse_hostport
from portico.dns._view import Endpoint, Port, ServiceKind
from tests.unit.dns.dns_fixtures import (
    NAMESPACES,
    SERVICES,
    SLICES,
    VIEW,
    endpoint_slice,
    ep,
    service,
)


def test_services_by_kind() -> None:
    kinds = {key: svc.kind for key, svc in VIEW.services.items()}
    assert kinds == {("shop", "web"): ServiceKind.CLUSTER_IP, ("shop", "db"): ServiceKind.HEADLESS,
                     ("shop", "ext"): ServiceKind.EXTERNAL_NAME,
                     ("shop", "alias"): ServiceKind.EXTERNAL_NAME,
                     ("shop", "empty"): ServiceKind.HEADLESS,
                     ("shop", "dns6"): ServiceKind.CLUSTER_IP,
                     ("kube-system", "kube-dns"): ServiceKind.CLUSTER_IP}
    assert VIEW.nameservers == ("10.0.0.10",)
    assert VIEW.namespaces == frozenset({"default", "shop", "kube-system"})


def test_published_endpoints() -> None:
    pg = (Port(name="pg", protocol="TCP", port=5432),)
    assert VIEW.services[("shop", "db")].endpoints == (
        Endpoint(ip="10.244.0.5", hostname="db-0", ports=pg),
        Endpoint(ip="10.244.1.7", hostname="10-244-1-7", ports=pg))


@pytest.mark.parametrize(("slices", "expected"), [
    pytest.param([endpoint_slice("shop", "db", [ep("10.244.0.5", ready=None)])],
                 [("10.244.0.5", -1)], id="ready-unset-counts-as-ready-no-ports-sentinel"),
    pytest.param([endpoint_slice("shop", "db", [ep("a.example")], address_type="FQDN")], [],
                 id="fqdn-slices-ignored"),
    pytest.param([endpoint_slice("shop", "db", [ep("10.244.0.5")], suffix="a"),
                  endpoint_slice("shop", "db", [ep("10.244.0.6")], suffix="b")],
                 [("10.244.0.5", -1), ("10.244.0.6", -1)], id="slices-merged"),
    pytest.param([endpoint_slice("other", "db", [ep("10.244.0.5")])], [],
                 id="other-namespace-ignored"),
])
def test_endpoint_selection(slices: list, expected: list) -> None:
    view = build_view(NAMESPACES, [service("shop", "db", clusterIP="None")], slices)
    assert [(e.ip, p.port) for e in view.services[("shop", "db")].endpoints
            for p in e.ports] == expected


def test_reverse_index_prefers_cluster_ip() -> None:
    view = build_view(NAMESPACES, [*SERVICES, service("shop", "zz", clusterIP="10.0.0.42"),
                                   service("shop", "b", clusterIP="10.244.0.5")], SLICES)
    assert view.reverse["10.0.0.42"] == ("web.shop.svc.cluster.local",)  # first by (ns, name)
    assert build_view(NAMESPACES, [*SERVICES, service("shop", "b", clusterIP="10.0.0.42")],
                      SLICES).reverse["10.0.0.42"] == ("b.shop.svc.cluster.local",)
    assert view.reverse["10.244.0.5"] == ("b.shop.svc.cluster.local",)  # ClusterIP beats endpoint
    view = VIEW
    assert view.reverse["10.244.0.5"] == ("db-0.db.shop.svc.cluster.local",)
    assert "10.244.1.8" not in view.reverse


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("0.0.0.0:53", ("0.0.0.0", 53), id="v4"),
    pytest.param(":9153", ("0.0.0.0", 9153), id="any"),
    pytest.param("[::1]:5353", ("::1", 5353), id="v6"),
    pytest.param("1.1.1.1", ("1.1.1.1", 53), id="bare"),
])
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


RESOLV = "search x\nnameserver 10.0.0.10\nnameserver 192.0.2.53\noptions ndots:5\n"


@pytest.mark.parametrize(("flag", "env", "expected"), [
    pytest.param("192.0.2.1:5353,192.0.2.2", {"PORTICO_UPSTREAM_DNS": "192.0.2.9"},
                 (Upstream("192.0.2.1", 5353), Upstream("192.0.2.2", 53)), id="flag-wins"),
    pytest.param("", {"PORTICO_UPSTREAM_DNS": "192.0.2.9,10.0.0.10"},
                 (Upstream("192.0.2.9", 53),), id="env-then-drop-cluster-dns"),
    pytest.param("", {}, (Upstream("192.0.2.53", 53),), id="resolv-conf-without-10.0.0.10"),
    pytest.param("127.0.0.1:53", {}, (), id="never-ourselves"),
])
def test_choose_upstreams(flag: str, env: dict, expected: tuple) -> None:
    assert choose_upstreams(flag, env, RESOLV, ("127.0.0.1", 53)) == expected


def test_defaults_and_serviceaccount_dir() -> None:
    config = parse_config([], {"PORTICO_SERVICEACCOUNT_DIR": "/tmp/sa"}, RESOLV)
    assert (config.listen, config.zone, config.ttl, config.metrics, config.health, config.ready,
            str(config.serviceaccount_dir), config.kubeconfig) == (
        ("0.0.0.0", 53), "cluster.local", 5, ("0.0.0.0", 9153), ("0.0.0.0", 8080),
        ("0.0.0.0", 8181), "/tmp/sa", None)
    fallback = parse_config(["--zone", "Corp.Example.", "--ttl", "30"], {}, "")
    assert (fallback.zone, fallback.ttl, str(fallback.serviceaccount_dir)) == (
        "corp.example", 30, "/var/run/secrets/kubernetes.io/serviceaccount")


def test_coredns_addon_manifest() -> None:
    docs = {d["kind"]: d for d in load("coredns")}
    svc, deploy = docs["Service"], docs["Deployment"]
    assert svc["spec"]["clusterIP"] == "10.0.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert svc["metadata"]["labels"]["kubernetes.io/cluster-service"] == "true"
    assert svc["metadata"]["labels"]["kubernetes.io/name"] == "CoreDNS"
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert (deploy["spec"]["replicas"], pod["serviceAccountName"], container["image"]) == (
        2, "coredns", "portico/coredns")
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8181,
                                                      "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8080,
                                                     "scheme": "HTTP"}
    with pytest.raises(KeyError):
        load("nope")
