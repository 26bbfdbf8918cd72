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

import pytest
from cluster_support import dump, running_cluster
from netpol_cases import CASES, Apply, Case, DeleteAll, LabelNamespace, LabelPod
from netpol_support import NAMESPACES, POD_NAMES, Matrix, Prober, Reachability, server_pod

from portico.testing.sandbox import Cluster, wait_for

EXTRA_POD_LABELS = ("pod2", "target")
EXTRA_NAMESPACE_LABELS = ("ns2",)


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
    probers = {key: Prober(cluster, f"portico-{cluster.name}-pod-"
                                    f"{info['uid'].replace('-', '')[:12]}")
               for key, info in found.items()}
    try:
        yield Matrix(probers, {key: info["ip"] for key, info in found.items()})
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
