"""Issue 17 end to end: NetworkPolicy enforced by the node agents, checked as upstream does.

One `portico up --nodes 3` serves the module, with upstream's model: namespaces
x, y, z, pods a, b, c (on node-1, -2, -3) serving TCP and UDP on 80 and 81, and
one prober per pod (`netpol_support.py`). Every case of `netpol_cases.py` (the
upstream `netpol` e2e suite, ported) applies its policies with the real kubectl
and waits until the whole 9 x 9 truth table of each checked port and protocol is
what upstream expects; after each case every policy and extra label is removed
and the matrix must be fully open again before the next one starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import (
    SANDBOX_IP,
    VENV_PYTHON,
    connect,
    curl,
    dump,
    node_ip,
    running_cluster,
    service,
)
from netpol_cases import (
    CASES,
    NS_LABEL,
    Apply,
    Case,
    DeleteAll,
    LabelNamespace,
    LabelPod,
    R,
    policy,
)
from netpol_support import (
    NAMESPACES,
    POD_NAMES,
    HeldConnection,
    Matrix,
    Prober,
    Reachability,
    server_pod,
)

from portico.testing.sandbox import Cluster, portico_executable, wait_for
from tests.conftest import Kubectl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXTRA_POD_LABELS = ("pod2", "target")
CURL_TIMED_OUT = 28
EXTRA_NAMESPACE_LABELS = ("ns2",)
RESOLVE = r"""
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers, r.lifetime = ["10.0.0.10"], 2
try:
    print(r.resolve("kubernetes.default.svc.cluster.local", "A")[0].address)
except Exception as e:
    print(repr(e))
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster()


def _kubectl(cluster: Cluster, *args: str, input: str | None = None) -> str:
    result = cluster.kubectl(*args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def matrix(cluster: Cluster) -> Iterator[Matrix]:
    for ns in NAMESPACES:
        _kubectl(cluster, "create", "namespace", ns)
    pods = [server_pod(ns, name, node) for ns in NAMESPACES
            for node, name in enumerate(POD_NAMES, start=1)]
    _kubectl(cluster, "apply", "-f", "-", input=dump(*pods))

    def running() -> dict[str, dict[str, str]] | None:
        found = {}
        for ns in NAMESPACES:
            items = json.loads(_kubectl(cluster, "get", "pods", "-n", ns, "-o", "json"))["items"]
            for p in items:
                ready = all(c.get("ready") for c in p["status"].get("containerStatuses", []))
                if p["status"].get("podIP") and ready and p["status"].get("containerStatuses"):
                    found[f"{ns}/{p['metadata']['name']}"] = {
                        "ip": p["status"]["podIP"], "uid": p["metadata"]["uid"]}
        return found if len(found) == len(pods) else None

    found = wait_for(running, 90, interval=0.3, message="9 ready server pods")
    netns = {key: f"portico-{cluster.name}-pod-{info['uid'].replace('-', '')[:12]}"
             for key, info in found.items()}
    probers = {key: Prober(cluster, name) for key, name in netns.items()}
    try:
        yield Matrix(probers, {key: info["ip"] for key, info in found.items()}, netns)
    finally:
        for prober in probers.values():
            prober.close()


def _reset(cluster: Cluster) -> None:
    for ns in NAMESPACES:
        _kubectl(cluster, "delete", "networkpolicy", "--all", "-n", ns)
        _kubectl(cluster, "label", "pods", "--all", "-n", ns,
                 *(f"{k}-" for k in EXTRA_POD_LABELS))
        _kubectl(cluster, "label", "namespace", ns, *(f"{k}-" for k in EXTRA_NAMESPACE_LABELS))


def _fill(text: str, matrix: Matrix) -> str:
    return re.sub(r"\{ip:([a-z]/[a-z])\}", lambda m: matrix.ips[m.group(1)], text)


def _run(cluster: Cluster, matrix: Matrix, action: object) -> None:
    if isinstance(action, Apply):
        _kubectl(cluster, "apply", "-n", action.namespace, "-f", "-",
                 input=_fill(json.dumps(action.policy), matrix))
    elif isinstance(action, LabelPod):
        _kubectl(cluster, "label", "pod", "-n", action.namespace, action.pod, "--overwrite",
                 *(f"{k}={v}" for k, v in action.labels.items()))
    elif isinstance(action, LabelNamespace):
        _kubectl(cluster, "label", "namespace", action.namespace, "--overwrite",
                 *(f"{k}={v}" for k, v in action.labels.items()))
    elif isinstance(action, DeleteAll):
        for ns in NAMESPACES:
            _kubectl(cluster, "delete", "networkpolicy", "--all", "-n", ns)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_upstream_case(cluster: Cluster, matrix: Matrix, case: Case) -> None:
    try:
        for step in case.steps:
            for action in step.actions:
                _run(cluster, matrix, action)
            matrix.wait(*step.checks)
    finally:
        _reset(cluster)
        matrix.wait(Reachability(80, "TCP"), Reachability(81, "UDP"))


# ---------------------------------------------------------------- beyond the matrix

ALLOW_XB_TO_XA = policy("allow-b", {"pod": "a"}, ingress=[{"from": [
    {"podSelector": {"matchLabels": {"pod": "b"}}}]}])


@pytest.fixture
def clean(cluster: Cluster, matrix: Matrix) -> Iterator[None]:
    yield
    for ns in NAMESPACES:
        _kubectl(cluster, "delete", "service", "--all", "-n", ns)
    _reset(cluster)
    matrix.wait(Reachability(80, "TCP"))


def test_kubectl_get_describe_explain_and_validation(cluster: Cluster, clean: None) -> None:
    _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=json.dumps(ALLOW_XB_TO_XA))
    table = _kubectl(cluster, "get", "netpol", "-n", "x").splitlines()
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["allow-b", "pod=a"]
    described = _kubectl(cluster, "describe", "networkpolicy", "-n", "x", "allow-b")
    for line in ("  PodSelector:     pod=a", "  Allowing ingress traffic:",
                 "    To Port: <any> (traffic allowed to all ports)",
                 "      PodSelector: pod=b", "  Not affecting egress traffic",
                 "  Policy Types: Ingress"):
        assert line in described.splitlines(), described
    assert "endPort" in _kubectl(cluster, "explain", "networkpolicy.spec.egress.ports")
    bad = policy("bad", {}, egress=[{"ports": [{"port": "http", "endPort": 90}]}])
    result = cluster.kubectl("apply", "-n", "x", "-f", "-", input=json.dumps(bad))
    assert result.returncode != 0
    assert 'The NetworkPolicy "bad" is invalid: spec.egress[0].ports[0].endPort: Invalid ' \
           "value: 90: may not be specified when `port` is non-numeric" in result.stderr
    unknown = json.loads(json.dumps(ALLOW_XB_TO_XA))
    unknown["spec"]["podSelectr"] = {}
    result = cluster.kubectl("apply", "--validate=strict", "-n", "x", "-f", "-",
                             input=json.dumps(unknown))
    assert result.returncode != 0 and 'unknown field "spec.podSelectr"' in result.stderr


def test_policy_check_and_metrics(cluster: Cluster, matrix: Matrix, clean: None) -> None:
    _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=json.dumps(ALLOW_XB_TO_XA))
    b_to_a_only = R().all_ingress("x/a", False).expect("x/b", "x/a", True)
    matrix.wait(b_to_a_only)
    base = [str(portico_executable()), "policy", "check", "--kubeconfig", str(cluster.kubeconfig)]
    allowed = cluster.sandbox.run([*base, "--from", "x/b", "--to", "x/a:serve-80-tcp"])
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[-1] == \
        "  ingress x/a: allowed by x/allow-b (selected by x/allow-b)"
    denied = cluster.sandbox.run([*base, "--from", "y/b", "--to", "x/a:80"])
    assert denied.returncode == 1
    assert "denied" in denied.stdout.splitlines()[0]

    def counted() -> bool:
        # fresh allowed connections each poll: a resync of node-1's rules since the probes
        # above may have replaced the accept rule, and its counter with it
        matrix.observe([b_to_a_only])
        metrics = curl(cluster, "http://127.0.0.1:10249/metrics", node=1).stdout  # its loopback
        found = re.search(r'portico_networkpolicy_allowed_packets_total\{namespace="x",'
                          r'networkpolicy="allow-b",direction="Ingress"\} (\d+)', metrics)
        return found is not None and int(found.group(1)) > 0
    wait_for(counted, 10, message="a counted allowed connection in node-1's /metrics")


def test_policy_sees_the_endpoint_behind_a_cluster_ip(cluster: Cluster, matrix: Matrix,
                                                        clean: None) -> None:
    _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=dump(
        service("web", [{"port": 8080, "targetPort": 80}], selector={"pod": "a"}),
        ALLOW_XB_TO_XA))
    ip = _kubectl(cluster, "get", "svc", "-n", "x", "web", "-o", "jsonpath={.spec.clusterIP}")

    def through_service() -> dict[str, bool]:
        for prober in matrix.probers.values():
            prober.send([(ip, 8080, "TCP")], 0.6)
        return {src: prober.receive()[0] for src, prober in matrix.probers.items()}
    wait_for(lambda: through_service() == {p: p in ("x/a", "x/b") for p in matrix.probers},
             20, message="only x/b (and x/a itself, hairpin) reach x/a through the ClusterIP")


@pytest.mark.parametrize(("policy_", "node", "allowed"), [
    pytest.param("Local", 1, True, id="local-keeps-the-client-ip"),
    pytest.param("Cluster", 2, False, id="cluster-shows-the-node-address"),
])
def test_node_port_source_seen_by_ip_block(cluster: Cluster, matrix: Matrix, clean: None,
                                          policy_: str, node: int, allowed: bool) -> None:
    svc = service("web", [{"port": 80, "targetPort": 80}], type_="NodePort",
                  selector={"pod": "a"})
    svc["spec"]["externalTrafficPolicy"] = policy_
    from_sandbox = policy("from-sandbox", {"pod": "a"}, ingress=[{"from": [
        {"ipBlock": {"cidr": f"{SANDBOX_IP}/32"}}]}])
    _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=dump(svc, from_sandbox))
    port = int(_kubectl(cluster, "get", "svc", "-n", "x", "web", "-o",
                        "jsonpath={.spec.ports[0].nodePort}"))
    matrix.wait(R().all_ingress("x/a", False))
    wait_for(lambda: (connect(cluster, node_ip(node), port, timeout=1)[0] == 0) is allowed,
             20, message=f"NodePort via node-{node} allowed={allowed}")
    if not allowed:
        wait_for(lambda: connect(cluster, node_ip(1), port, timeout=1)[0] == 0, 20,
                 message="the same NodePort on the pod's own node (client IP kept) allowed")


def test_dns_egress_allowed_only_by_a_policy(cluster: Cluster, matrix: Matrix,
                                             clean: None) -> None:
    deny = policy("deny-egress", {"pod": "a"}, egress=[])
    _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=json.dumps(deny))
    matrix.wait(R().all_egress("x/a", False))
    assert not _resolves(cluster, matrix.netns["x/a"])
    dns = policy("allow-dns", {"pod": "a"}, egress=[{
        "to": [{"namespaceSelector": {"matchLabels": {NS_LABEL: "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}])
    _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=json.dumps(dns))
    wait_for(lambda: _resolves(cluster, matrix.netns["x/a"]), 20, message="DNS allowed")
    matrix.wait(R().all_egress("x/a", False))


def _resolves(cluster: Cluster, netns: str) -> bool:
    argv = ["nsenter", f"--net=/run/netns/{netns}", "--", VENV_PYTHON, "-c", RESOLVE]
    return cluster.sandbox.run(argv, timeout=20).stdout.strip() == "10.0.0.1"


def test_running_connections_kept_if_allowed_cut_if_forbidden(
        cluster: Cluster, matrix: Matrix, clean: None) -> None:
    kept = HeldConnection(cluster, matrix.netns["x/b"], matrix.ips["x/a"], 80)
    cut = HeldConnection(cluster, matrix.netns["x/c"], matrix.ips["x/a"], 80)
    try:
        _kubectl(cluster, "apply", "-n", "x", "-f", "-", input=json.dumps(ALLOW_XB_TO_XA))
        matrix.wait(R().all_ingress("x/a", False).expect("x/b", "x/a", True))
        wait_for(lambda: cut.ask() != "ok", 20, message="x/c's running connection cut")
        assert kept.ask() == "ok"
    finally:
        kept.close()
        cut.close()


def test_readme_chapter(cluster: Cluster, kubectl133: Kubectl) -> None:
    """README's NetworkPolicy chapter, command for command, in a namespace of its own."""
    k, ns = kubectl133, kubectl133.namespace
    k.ok("create", "deployment", "web", "--image=nginx")
    k.ok("expose", "deployment", "web", "--port=80")
    for pod, labels in (("client", ["--labels=app=client"]), ("other", [])):
        k.ok("run", pod, "--image=curlimages/curl", *labels, "--", "sleep", "3600")
    k.ok("wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
    k.ok("wait", "--for=condition=Ready", "pod/client", "pod/other", "--timeout=60s")

    def curl_rc(pod: str, *argv: str) -> int:
        return k("exec", pod, "--", "curl", "-s", "-m", "2", *argv, timeout=20).returncode
    web = ("-o", "/dev/null", "http://web")
    wait_for(lambda: curl_rc("other", *web) == 0, 20, message="other reaches web")
    for name in ("netpol-deny-all", "netpol-allow-client"):
        k.ok("apply", "-f", str(EXAMPLES / f"{name}.yaml"))
    wait_for(lambda: curl_rc("other", *web) == CURL_TIMED_OUT, 20,
             message="other no longer reaches web")
    assert curl_rc("client", *web) == 0
    k.ok("apply", "-f", str(EXAMPLES / "netpol-egress-dns.yaml"))
    wait_for(lambda: curl_rc("client", "-k", "https://kubernetes.default") == CURL_TIMED_OUT,
             20, message="client's egress to the API server denied")
    assert curl_rc("client", *web) == 0, "DNS and web still allowed"
    web_pod = k.ok("get", "pod", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    check = [str(portico_executable()), "policy", "check", "--kubeconfig",
             str(cluster.kubeconfig)]
    assert cluster.sandbox.run([*check, "--from", f"{ns}/client",
                                "--to", f"{ns}/{web_pod}:80"]).returncode == 0
    assert cluster.sandbox.run([*check, "--from", f"{ns}/other",
                                "--to", f"{ns}/{web_pod}:80"]).returncode == 1
