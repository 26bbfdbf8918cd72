"""Reads with the real kubectl: tables, -A, -o wide/yaml/json/jsonpath, selectors, watch."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from e2e_support import AGE, IPV4, RFC3339, LineReader, assert_row, parse_table, service

from portico.testing.sandbox import end_process
from tests.conftest import Kubectl

SERVICE_COLUMNS = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]


@pytest.fixture
def three(kubectl: Kubectl) -> Kubectl:
    """Services api (NodePort), db and web (ClusterIP) in the test's namespace."""
    manifests = [
        service("api", [{"port": 443, "targetPort": 8443}], labels={"app": "api"},
                type_="NodePort"),
        service("db", [{"port": 5432}], labels={"app": "db"}),
        service("web", [{"name": "http", "port": 80, "targetPort": 8080}],
                labels={"app": "web", "tier": "frontend"}),
    ]
    kubectl.ok("apply", "-f", "-", input="---\n".join(manifests))
    return kubectl


def test_get_svc_table(three: Kubectl) -> None:
    names, rows = parse_table(three.ok("get", "svc"))
    assert names == SERVICE_COLUMNS
    assert [r["NAME"] for r in rows] == ["api", "db", "web"]
    assert_row(rows[0], {"TYPE": "NodePort", "CLUSTER-IP": IPV4, "EXTERNAL-IP": "<none>",
                         "PORT(S)": r"443:3\d{4}/TCP", "AGE": AGE})
    assert_row(rows[2], {"TYPE": "ClusterIP", "CLUSTER-IP": IPV4, "EXTERNAL-IP": "<none>",
                         "PORT(S)": "80/TCP", "AGE": AGE})


def test_get_svc_all_namespaces(three: Kubectl) -> None:
    names, rows = parse_table(three.ok("get", "svc", "-A"))
    assert names == ["NAMESPACE", *SERVICE_COLUMNS]
    ours = [r["NAME"] for r in rows if r["NAMESPACE"] == three.namespace]
    assert ours == ["api", "db", "web"]
    assert [r["NAMESPACE"] for r in rows] == sorted(r["NAMESPACE"] for r in rows)


def test_get_svc_wide(three: Kubectl) -> None:
    names, rows = parse_table(three.ok("get", "svc", "-o", "wide"))
    assert names == [*SERVICE_COLUMNS, "SELECTOR"]
    assert [r["SELECTOR"] for r in rows] == ["app=api", "app=db", "app=web"]


def test_get_svc_yaml_list(three: Kubectl) -> None:
    listed = yaml.safe_load(three.ok("get", "svc", "-o", "yaml"))
    assert (listed["apiVersion"], listed["kind"], listed["metadata"]) == (
        "v1", "List", {"resourceVersion": ""}
    )
    assert [(i["apiVersion"], i["kind"], i["metadata"]["name"]) for i in listed["items"]] == [
        ("v1", "Service", "api"), ("v1", "Service", "db"), ("v1", "Service", "web")
    ]


def test_get_svc_json_defaults(three: Kubectl) -> None:
    obj = three.json("get", "svc", "web")
    meta, spec = obj["metadata"], obj["spec"]
    assert (obj["apiVersion"], obj["kind"], meta["name"], meta["namespace"]) == (
        "v1", "Service", "web", three.namespace
    )
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        meta["uid"])
    assert meta["resourceVersion"].isdigit()
    assert re.fullmatch(RFC3339, meta["creationTimestamp"])
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert {k: spec[k] for k in ("type", "sessionAffinity", "ipFamilies", "ipFamilyPolicy",
                                 "internalTrafficPolicy")} == {
        "type": "ClusterIP", "sessionAffinity": "None", "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
    }
    assert spec["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert obj["status"] == {"loadBalancer": {}}


def test_get_svc_jsonpath_cluster_ip(three: Kubectl) -> None:
    ip = three.ok("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    assert re.fullmatch(IPV4, ip)
    assert ip == three.json("get", "svc", "web")["spec"]["clusterIP"]


def test_get_svc_show_labels(three: Kubectl) -> None:
    names, rows = parse_table(three.ok("get", "svc", "--show-labels"))
    assert names == [*SERVICE_COLUMNS, "LABELS"]
    assert [r["LABELS"] for r in rows] == ["app=api", "app=db", "app=web,tier=frontend"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["-l", "app=web"], ["web"], id="label-equals"),
        pytest.param(["-l", "app in (web,api)"], ["api", "web"], id="label-in"),
        pytest.param(["-l", "app!=web"], ["api", "db"], id="label-not-equals"),
        pytest.param(["-l", "tier"], ["web"], id="label-exists"),
        pytest.param(["--field-selector", "metadata.name=web"], ["web"], id="field-name"),
        pytest.param(["--field-selector", "metadata.name!=web"], ["api", "db"],
                     id="field-name-not"),
    ],
)
def test_get_svc_selectors(three: Kubectl, args: list[str], expected: list[str]) -> None:
    assert three.ok("get", "svc", *args, "-o", "name").split() == [
        f"service/{n}" for n in expected
    ]


def test_get_svc_no_match(three: Kubectl) -> None:
    result = three("get", "svc", "-l", "app=none")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", f"No resources found in {three.namespace} namespace.\n"
    )


def test_get_svc_not_found(three: Kubectl) -> None:
    assert three.fail("get", "svc", "nope") == (
        'Error from server (NotFound): services "nope" not found\n'
    )


def test_get_svc_watch_prints_change(three: Kubectl) -> None:
    proc = three.popen("get", "svc", "-w")
    try:
        reader = LineReader(proc)
        reader.wait_line(r"^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$")
        reader.wait_line(r"^web\s+ClusterIP\s")
        three.ok("apply", "-f", "-", input=service("late", [{"port": 7000}]))
        line = reader.wait_line(r"^late\s")
        assert re.fullmatch(rf"late\s+ClusterIP\s+{IPV4}\s+<none>\s+7000/TCP\s+{AGE}", line)
        three.ok("delete", "svc", "db")
        reader.wait_line(r"^db\s+ClusterIP\s", nth=2)  # DELETED prints the last state
    finally:
        end_process(proc, grace=5)


def test_get_single_svc_watch_json(three: Kubectl) -> None:
    proc = three.popen("get", "svc", "web", "-w", "-o", "json", "--output-watch-events")
    try:
        reader = LineReader(proc)  # kubectl prints watch events as one JSON object a line
        added = json.loads(reader.wait_line(r'^\{"type":"ADDED",'))
        assert added["object"]["metadata"]["labels"] == {"app": "web", "tier": "frontend"}
        three.ok("label", "svc", "web", "color=blue")
        modified = json.loads(reader.wait_line(r'^\{"type":"MODIFIED",'))
        assert modified["object"]["metadata"]["labels"] == {
            "app": "web", "color": "blue", "tier": "frontend"
        }
        assert modified["object"]["metadata"]["uid"] == added["object"]["metadata"]["uid"]
    finally:
        end_process(proc, grace=5)


def test_get_events_secrets_empty(kubectl: Kubectl) -> None:
    for kind in ("events", "secrets"):
        result = kubectl("get", kind)
        assert (result.returncode, result.stdout, result.stderr) == (
            0, "", f"No resources found in {kubectl.namespace} namespace.\n"
        ), kind


def test_get_json_list_is_parseable(three: Kubectl) -> None:
    listed = json.loads(three.ok("get", "svc", "-o", "json"))
    assert [i["metadata"]["name"] for i in listed["items"]] == ["api", "db", "web"]
