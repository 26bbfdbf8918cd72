"""Namespaces, events, configmaps and secrets with the real kubectl."""

from __future__ import annotations

import secrets

import yaml
from e2e_support import AGE, assert_row, manifest, parse_table, service

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl


def test_namespace_lifecycle(cluster: Cluster, kubectl_version: str) -> None:
    shop = f"shop-{secrets.token_hex(3)}"
    k = Kubectl(cluster, kubectl_version, shop)
    assert k.ok("create", "namespace", shop) == f"namespace/{shop} created\n"
    try:
        _names, rows = parse_table(k.ok("get", "namespace", shop))
        assert_row(rows[0], {"NAME": shop, "STATUS": "Active", "AGE": AGE})
        k.ok("apply", "-f", "-", input=service("web", [{"port": 80}]))
        # A finalizer holds the namespace in Terminating until we release it.
        held = manifest("v1", "ConfigMap", "hold", data={"a": "1"})
        held_obj = yaml.safe_load(held)
        held_obj["metadata"]["finalizers"] = ["example.com/hold"]
        k.ok("apply", "-f", "-", input=yaml.safe_dump(held_obj))

        assert k.ok("delete", "namespace", shop, "--wait=false") == (
            f'namespace "{shop}" deleted\n'
        )
        phase = k.ok("get", "namespace", shop, "-o", "jsonpath={.status.phase}")
        assert phase == "Terminating"
        wait_for(lambda: k("get", "svc", "-o", "name").stdout == "", 30,
                 message=f"services in {shop} to be removed")
        refused = k.fail("apply", "-f", "-", input=service("late", [{"port": 80}]))
        assert refused == (
            f'Error from server (Forbidden): error when creating "STDIN": services "late" is '
            f"forbidden: unable to create new content in namespace {shop} because it is "
            "being terminated\n"
        )
        k.ok("patch", "configmap", "hold", "--type=json",
             "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
        wait_for(lambda: k("get", "namespace", shop).returncode == 1, 30,
                 message=f"namespace {shop} to be gone")
        assert k.fail("get", "namespace", shop) == (
            f'Error from server (NotFound): namespaces "{shop}" not found\n'
        )
    finally:
        cluster.kubectl("delete", "namespace", shop, "--wait=false")


def test_object_in_missing_namespace(cluster: Cluster) -> None:
    k = Kubectl(cluster, "1.33", "nowhere")
    assert k.fail("apply", "-f", "-", input=service("web", [{"port": 80}])) == (
        'Error from server (NotFound): error when creating "STDIN": namespaces "nowhere" '
        "not found\n"
    )


def test_get_events(kubectl: Kubectl) -> None:
    event = manifest(
        "v1", "Event", "web.1",
        involvedObject={"kind": "Service", "name": "web", "namespace": kubectl.namespace,
                        "apiVersion": "v1"},
        reason="Tested", message="hello from the e2e test", type="Normal",
        source={"component": "e2e"}, firstTimestamp="2025-01-01T00:00:00Z",
        lastTimestamp="2025-01-01T00:00:00Z", count=1,
    )
    kubectl.ok("create", "-f", "-", input=event)
    names, rows = parse_table(kubectl.ok("get", "events"))
    assert names == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert_row(rows[0], {"LAST SEEN": AGE, "TYPE": "Normal", "REASON": "Tested",
                         "OBJECT": "service/web", "MESSAGE": "hello from the e2e test"})
    selected = kubectl.ok("get", "events", "--field-selector", "involvedObject.name=web",
                          "-o", "name")
    assert selected == "event/web.1\n"


def test_configmaps(kubectl: Kubectl) -> None:
    body = manifest("v1", "ConfigMap", "settings", data={"a": "1", "b": "2"})
    assert kubectl.ok("apply", "-f", "-", input=body) == "configmap/settings created\n"
    names, rows = parse_table(kubectl.ok("get", "configmaps"))
    assert names == ["NAME", "DATA", "AGE"]
    settings = [r for r in rows if r["NAME"] == "settings"]
    assert_row(settings[0], {"DATA": "2", "AGE": AGE})
    assert kubectl.ok("get", "cm", "settings", "-o", "jsonpath={.data.b}") == "2"


def test_secrets(kubectl: Kubectl) -> None:
    body = manifest("v1", "Secret", "creds", stringData={"user": "admin"})
    assert kubectl.ok("apply", "-f", "-", input=body) == "secret/creds created\n"
    names, rows = parse_table(kubectl.ok("get", "secrets"))
    assert names == ["NAME", "TYPE", "DATA", "AGE"]
    assert_row(rows[0], {"NAME": "creds", "TYPE": "Opaque", "DATA": "1", "AGE": AGE})
    obj = kubectl.json("get", "secret", "creds")
    assert (obj["type"], obj["data"], "stringData" in obj) == (
        "Opaque", {"user": "YWRtaW4="}, False
    )
