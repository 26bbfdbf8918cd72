"""Durability: a cluster restarted from its data dir keeps every acknowledged write."""

from __future__ import annotations

import json
import sys

from e2e_support import LineReader, manifest, service

from portico.testing.sandbox import Cluster, end_process
from tests.conftest import Kubectl, new_namespace


def identities(k: Kubectl) -> dict[str, tuple[str, str, str]]:
    """(kind/name) -> (uid, resourceVersion, clusterIP or '') for services and configmaps."""
    listed = json.loads(k.ok("get", "svc,cm", "-o", "json"))
    return {
        f"{i['kind']}/{i['metadata']['name']}": (
            i["metadata"]["uid"], i["metadata"]["resourceVersion"],
            i.get("spec", {}).get("clusterIP", ""),
        )
        for i in listed["items"]
    }


def test_stop_start_keeps_objects(fresh_cluster: Cluster) -> None:
    k = Kubectl(fresh_cluster, "1.33", new_namespace(fresh_cluster, "keep"))
    k.ok("apply", "-f", "-", input=service("web", [{"port": 80}], type_="NodePort"))
    k.ok("apply", "-f", "-", input=manifest("v1", "ConfigMap", "settings", data={"a": "1"}))
    before = identities(k)
    node_port = k.ok("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
    assert fresh_cluster.stop() == 0
    fresh_cluster.start()
    assert identities(k) == before
    assert k.ok("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}") == node_port
    # Writes continue with a higher resourceVersion after the restart.
    k.ok("label", "svc", "web", "after=restart")
    rv = int(k.ok("get", "svc", "web", "-o", "jsonpath={.metadata.resourceVersion}"))
    assert rv > max(int(v[1]) for v in before.values())


WRITER = """
import sys
ns = NAMESPACE
for i in range(100000):
    name = f"cm-{i:05d}"
    core.create_namespaced_config_map(ns, {"metadata": {"name": name}, "data": {"i": str(i)}})
    print(name, flush=True)
"""


def test_kill9_during_writes_keeps_acknowledged_writes(fresh_cluster: Cluster) -> None:
    namespace = new_namespace(fresh_cluster, "crash")
    prelude = (
        "from kubernetes import client, config\n"
        f"config.load_kube_config(config_file={str(fresh_cluster.kubeconfig)!r})\n"
        "core = client.CoreV1Api()\n"
        f"NAMESPACE = {namespace!r}\n"
    )
    writer = fresh_cluster.sandbox.popen(
        [sys.executable, "-c", prelude + WRITER], env=fresh_cluster.kube_env()
    )
    try:
        reader = LineReader(writer)
        reader.wait_line(r"^cm-00030$", timeout=60)
        assert fresh_cluster.kill9() == -9
        writer.wait(timeout=60)
    finally:
        end_process(writer, grace=5)
    acknowledged = [line for line in reader.finish() if line.startswith("cm-")]
    assert len(acknowledged) >= 31
    fresh_cluster.start()
    k = Kubectl(fresh_cluster, "1.33", namespace)
    present = set(k.ok("get", "cm", "-o", "jsonpath={.items[*].metadata.name}").split())
    assert sorted(set(acknowledged) - present) == []
