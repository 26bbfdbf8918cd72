"""Issue 7 end to end: cluster DNS (the coredns addon) as pods on 3 real nodes see it.

One `portico up --nodes 3` serves the module; each test gets a fresh namespace.
Every lookup runs inside a one-shot pod: the standard resolver (glibc, through
the pod's resolv.conf: `nameserver 10.0.0.10`, search path, ndots:5) via the
machine's python3, or dnspython via the test's own interpreter (absolute path; the
machine's python3 has no dnspython) for SRV and PTR.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from cluster_support import (
    HTTP_PORT,
    VENV_PYTHON,
    cluster_ip,
    deployment,
    dump,
    pods,
    run_pod,
    running_cluster,
    service,
    wait_ready,
)

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl, new_namespace

RESOLVE = ("import socket, sys\n"
           "for name in sys.argv[1:]:\n    print(name, socket.gethostbyname(name))")
ADDRINFO = ("import socket, sys\n"
            "print(' '.join(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 80, "
            "socket.AF_INET, socket.SOCK_STREAM)})))")
DNSPYTHON = ("import sys, dns.resolver, dns.reversename\n"
             "r = dns.resolver.Resolver()\n"
             "for kind, name in zip(sys.argv[1::2], sys.argv[2::2]):\n"
             "    if kind == 'PTR':\n"
             "        name = dns.reversename.from_address(name)\n"
             "    for rr in r.resolve(name, kind):\n"
             "        print(kind, rr.to_text())")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


def python_pod(k: Kubectl, name: str, code: str, *args: str, interpreter: str = "python3",
               ) -> str:
    run = run_pod(k, name, "", command=[interpreter, "-c", code, *args])
    assert run.phase == "Succeeded", run.logs
    return run.logs


def test_service_names_resolve_with_the_search_path(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(service("web", [HTTP_PORT])))
    ip, ns = cluster_ip(k, "web"), k.namespace
    names = ["web", f"web.{ns}", f"web.{ns}.svc", f"web.{ns}.svc.cluster.local"]
    out = python_pod(k, "resolve", RESOLVE, *names)
    assert out.splitlines() == [f"{n} {ip}" for n in names]


def test_other_namespace_needs_its_namespace(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    other = Kubectl(cluster, "1.33", new_namespace(cluster, "other"))
    try:
        other.ok("apply", "-f", "-", input=dump(service("elsewhere", [HTTP_PORT])))
        ip = cluster_ip(other, "elsewhere")
        code = ("import socket\n"
                "for n in ['elsewhere', 'elsewhere." + other.namespace + "']:\n"
                "    try:\n        print(n, socket.gethostbyname(n))\n"
                "    except socket.gaierror as e:\n        print(n, 'NXDOMAIN', e.errno)")
        lines = python_pod(k, "cross", code).splitlines()
        assert lines[0].split()[:2] == ["elsewhere", "NXDOMAIN"], lines
        assert lines[1] == f"elsewhere.{other.namespace} {ip}"
    finally:
        cluster.kubectl("delete", "namespace", other.namespace, "--wait=false")


def test_headless_service_returns_every_ready_pod(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("hl", 3),
                                         service("hl", [HTTP_PORT], clusterIP="None")))
    ips = " ".join(sorted(p.ip for p in wait_ready(k, "app=hl", 3)))
    fqdn = f"hl.{k.namespace}.svc.cluster.local"
    attempts = itertools.count()

    def answer() -> bool:
        return python_pod(k, f"hl-{next(attempts)}", ADDRINFO, fqdn).strip() == ips

    wait_for(answer, 30, interval=0.5, message="every ready pod in the headless answer")


def test_srv_and_ptr_answers(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(deployment("named", 1), service("named", [HTTP_PORT])))
    (pod,) = wait_ready(k, "app=named", 1)
    ip, ns = cluster_ip(k, "named"), k.namespace
    fqdn = f"named.{ns}.svc.cluster.local"
    out = python_pod(k, "srv", DNSPYTHON, "SRV", f"_http._tcp.{fqdn}", "PTR", ip,
                     interpreter=VENV_PYTHON)
    assert out.splitlines() == [f"SRV 0 100 80 {fqdn}.", f"PTR {fqdn}."], out


def test_external_name_answers_cname(kubectl133: Kubectl) -> None:
    k = kubectl133
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "example.org"}}
    k.ok("apply", "-f", "-", input=json.dumps(body))
    out = python_pod(k, "cname", DNSPYTHON, "CNAME", f"ext.{k.namespace}.svc.cluster.local",
                     interpreter=VENV_PYTHON)
    assert out.splitlines() == ["CNAME example.org."]


def test_new_service_resolves_on_first_try(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(service("fresh", [HTTP_PORT])))
    ip = cluster_ip(k, "fresh")
    assert python_pod(k, "first", RESOLVE, "fresh").splitlines() == [f"fresh {ip}"]


LOOP = """
import socket, sys, time
ok = bad = 0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.gethostbyname(sys.argv[1]); ok += 1
    except OSError:
        bad += 1
    time.sleep(0.05)
print(ok, bad)
"""


def test_deleting_a_coredns_pod_does_not_interrupt_resolution(kubectl133: Kubectl,
                                                              cluster: Cluster) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(service("steady", [HTTP_PORT])))
    system = Kubectl(cluster, "1.33", "kube-system")
    before = {p.name for p in pods(system, "k8s-app=kube-dns")}
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "loop"},
              "spec": {"restartPolicy": "Never", "containers": [
                  {"name": "c", "image": "busybox", "command": ["python3", "-c", LOOP, "steady",
                                                                "12"]}]}}
    k.ok("apply", "-f", "-", input=json.dumps(client))
    wait_for(lambda: k.ok("get", "pod", "loop", "-o", "jsonpath={.status.phase}") == "Running",
             30, interval=0.2, message="the lookup loop to run")
    victim = sorted(before)[0]
    system.ok("delete", "pod", victim, "--wait=false")
    wait_for(lambda: len({p.name for p in wait_ready(system, "k8s-app=kube-dns", 2)} - before)
             == 1, 60, interval=0.3, message="a replacement coredns pod")
    wait_for(lambda: k.ok("get", "pod", "loop", "-o", "jsonpath={.status.phase}") in
             ("Succeeded", "Failed"), 60, interval=0.3, message="the lookup loop to end")
    ok, bad = map(int, k.ok("logs", "loop").split())
    assert (ok > 20, bad) == (True, 0), (ok, bad)
