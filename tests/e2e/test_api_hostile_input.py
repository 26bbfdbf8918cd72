"""Hostile bodies and slow clients against a real `portico up`, from inside its sandbox.

Each case sends what an attacker (any pod) could send, with the real kubectl or
with curl (raw HTTPS, so that the body reaches the server exactly as written),
and checks kube-apiserver's status code and message, and that the server
answered at once. The slow-client case holds 1,000 TLS connections that send
half a request header while kubectl keeps working, then waits for the server to
drop them all (after its 32 s header deadline).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cluster_support import VENV_PYTHON
from e2e_support import LineReader

from portico.testing.sandbox import Cluster, end_process
from tests.conftest import Kubectl

HEADER_TIMEOUT = 32.0
QUICK = 3.0  # seconds: every hostile body is answered within this


@dataclass
class Reply:
    code: int
    body: Any
    warnings: list[str]
    seconds: float


def raw(cluster: Cluster, method: str, path: str, body: bytes,
        content_type: str = "application/json") -> Reply:
    """One HTTPS request with curl from the sandbox, as the cluster admin."""
    pki = cluster.data_dir / "pki"
    body_file = cluster.workdir / "body"
    headers_file = cluster.workdir / "headers"
    body_file.write_bytes(body)
    start = time.monotonic()
    done = cluster.sandbox.run(
        ["curl", "-sS", "--cacert", str(pki / "ca.crt"), "--cert", str(pki / "admin.crt"),
         "--key", str(pki / "admin.key"), "-X", method, "-H", f"Content-Type: {content_type}",
         "--data-binary", f"@{body_file}", "-D", str(headers_file), "-w", "\n%{http_code}",
         cluster.server + path], timeout=60)
    seconds = time.monotonic() - start
    text, _, code = done.stdout.rpartition("\n")
    warnings = [line.split(": ", 1)[1].strip() for line in headers_file.read_text().splitlines()
                if line.lower().startswith("warning:")]
    return Reply(int(code), json.loads(text) if text else None, warnings, seconds)


def status(code: int, message: str, reason: str | None = None) -> dict[str, Any]:
    """The Status body kube-apiserver sends for a failure (reason left out when empty)."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "message": message, "code": code}
    if reason:
        body["reason"] = reason
    return body


def failure(reply: Reply) -> dict[str, Any]:
    """The reply's Status, with an empty reason and `details` left out for comparison."""
    assert reply.seconds < QUICK, f"answered after {reply.seconds:.1f} s"
    body = {k: v for k, v in reply.body.items() if k != "details"}
    if not body.get("reason"):
        body.pop("reason", None)
    return body


def unrecognized(kind: str, reason: str, body: bytes) -> str:
    summary = body[:30].decode() if body[:1] == b"{" else body[:30].hex()
    return (f"the object provided is unrecognized (must be of type {kind}): {reason} "
            f"({summary}{' ...' if len(body) > 30 else ''})")


CANNOT_HANDLE = 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
DATA_TYPE_ERROR = (CANNOT_HANDLE + "json: cannot unmarshal array into Go struct field "
                   "ConfigMap.data of type string")


@pytest.fixture
def ns(kubectl133: Kubectl) -> Iterator[tuple[Kubectl, str]]:
    """kubectl in a fresh namespace and that namespace's ConfigMaps URL."""
    yield kubectl133, f"/api/v1/namespaces/{kubectl133.namespace}/configmaps"


def laughs(kind_lines: str, levels: int = 7) -> bytes:
    """A small "billion laughs" manifest: each level lists 9 aliases of the one before."""
    lines = [kind_lines, "bogus:", "  l0: &l0 [" + ",".join(["lol"] * 9) + "]"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def test_billion_laughs_configmap_is_refused_at_once(cluster: Cluster, ns) -> None:
    kubectl, url = ns
    body = laughs("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}")
    assert len(body) < 400
    reply = raw(cluster, "POST", url, body, "application/yaml")
    assert (reply.code, failure(reply)) == (400, status(400, unrecognized(
        "ConfigMap", "error converting YAML to JSON: yaml: document contains excessive aliasing",
        body), "BadRequest"))
    assert kubectl("get", "configmap", "lol").returncode == 1


def test_aliased_service_is_refused_at_once(cluster: Cluster, ns) -> None:
    kubectl, _ = ns
    body = laughs("apiVersion: v1\nkind: Service\nmetadata: {name: lol}\n"
                  "spec: {type: NodePort, ports: [{port: 80}]}", levels=6)
    reply = raw(cluster, "POST", f"/api/v1/namespaces/{kubectl.namespace}/services", body,
                "application/yaml")
    assert reply.code == 400
    assert failure(reply)["message"].startswith(
        "the object provided is unrecognized (must be of type Service): error converting YAML "
        "to JSON: yaml: document contains excessive aliasing (")
    assert kubectl.ok("get", "services", "-o", "name") == ""


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(("body", "content_type"), [
    pytest.param(b'{"metadata":{"name":"deep"},"data":{"a":' + deep(1000) + b"}}",
                 "application/json", id="json-1000"),
    pytest.param(b"metadata: {name: deep}\ndata:\n  a: " + deep(1000) + b"\n",
                 "application/yaml", id="yaml-1000"),
    pytest.param(b"metadata: {name: deep}\ndata:\n  a: " + deep(5000) + b"\n",
                 "application/yaml", id="yaml-5000"),
])
def test_deep_value_in_a_typed_field_is_a_type_error(cluster: Cluster, ns, body: bytes,
                                                     content_type: str) -> None:
    _, url = ns
    reply = raw(cluster, "POST", url, body, content_type)
    assert (reply.code, failure(reply)) == (400, status(400, DATA_TYPE_ERROR, "BadRequest"))


def test_deep_value_in_an_unknown_field_is_dropped(cluster: Cluster, ns) -> None:
    kubectl, url = ns
    reply = raw(cluster, "POST", url, b'{"metadata":{"name":"deep"},"bogus":' + deep(1000) + b"}")
    assert (reply.code, reply.warnings) == (201, ['299 - "unknown field \\"bogus\\""'])
    assert "bogus" not in kubectl.json("get", "configmap", "deep")


def test_nesting_past_10000_levels_is_refused(cluster: Cluster, ns) -> None:
    _, url = ns
    body = b'{"metadata":{"name":"deep"},"data":' + deep(10_001) + b"}"
    reply = raw(cluster, "POST", url, body)
    assert (reply.code, failure(reply)) == (400, status(400, unrecognized(
        "ConfigMap", "couldn't get version/kind; json parse error: invalid character '[' "
        "exceeded max depth", body), "BadRequest"))


@pytest.mark.parametrize(("validate", "stderr"), [
    # kubectl sends the keys sorted; the server warns in document order
    pytest.param("warn", 'Warning: unknown field "spec.bogus"\n'
                 'Warning: unknown field "spec.ports[0].bogus"\n', id="warn"),
    pytest.param("ignore", "", id="ignore"),
])
def test_unknown_fields_are_dropped_by_kubectl_create(kubectl133: Kubectl, validate: str,
                                                      stderr: str) -> None:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": 80, "bogus": 1}], "bogus": {"a": 1}}}
    done = kubectl133("create", f"--validate={validate}", "-f", "-", input=json.dumps(body))
    assert (done.returncode, done.stdout, done.stderr) == (0, "service/web created\n", stderr)
    spec = kubectl133.json("get", "service", "web")["spec"]
    assert "bogus" not in spec and "bogus" not in spec["ports"][0]


def test_unknown_field_without_field_validation_warns_and_is_dropped(cluster: Cluster,
                                                                     ns) -> None:
    kubectl, url = ns
    reply = raw(cluster, "POST", url, b'{"metadata":{"name":"cm"},"bogus":1}')
    assert (reply.code, reply.warnings) == (201, ['299 - "unknown field \\"bogus\\""'])
    assert "bogus" not in kubectl.json("get", "configmap", "cm")


def test_field_validation_must_be_known(cluster: Cluster, ns) -> None:
    _, url = ns
    reply = raw(cluster, "POST", url + "?fieldValidation=Bogus", b'{"metadata":{"name":"cm"}}')
    assert (reply.code, failure(reply)) == (422, status(
        422, 'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
        '"Bogus": supported values: "", "Ignore", "Strict", "Warn"', "Invalid"))


def test_duplicate_name_is_refused_under_strict(cluster: Cluster, ns) -> None:
    kubectl, url = ns
    body = b'{"metadata":{"name":"one","name":"two"}}'
    reply = raw(cluster, "POST", url + "?fieldValidation=Strict", body)
    assert (reply.code, failure(reply)) == (400, status(
        400, CANNOT_HANDLE + 'strict decoding error: duplicate field "metadata.name"',
        "BadRequest"))
    assert "configmap/two" not in kubectl.ok("get", "configmaps", "-o", "name")


@pytest.fixture
def web(ns) -> Iterator[str]:
    """Service web in the test's namespace; its URL."""
    kubectl, _ = ns
    kubectl.ok("create", "service", "clusterip", "web", "--tcp=80:8080")
    yield f"/api/v1/namespaces/{kubectl.namespace}/services/web"


@pytest.mark.parametrize(("patch", "code", "message"), [
    pytest.param(b'{"spec":{"$patch":"explode"}}', 500,
                 "unknown patch type: explode in map: map[$patch:explode]", id="explode"),
    pytest.param(b'{"spec":{"$setElementOrder/ports":"port"}}', 500,
                 "expected a []interface {}, but received a string", id="order-not-a-list"),
    pytest.param(b'{"spec":{"$setElementOrder":[{"port":80}]}}', 400,
                 "invalid patch format of setElementOrder list", id="order-without-a-list"),
])
def test_bad_strategic_merge_directives(cluster: Cluster, web: str, patch: bytes, code: int,
                                        message: str) -> None:
    """kube-apiserver passes the library's error on: a plain 500, or 400 for a bad format."""
    reply = raw(cluster, "PATCH", web, patch, "application/strategic-merge-patch+json")
    reason = "BadRequest" if code == 400 else None
    assert (reply.code, failure(reply)) == (code, status(code, message, reason))


def test_deep_patch_is_refused(cluster: Cluster, web: str) -> None:
    """Portico's own bound: patches nest at most 200 levels (kube-apiserver: 10,000)."""
    reply = raw(cluster, "PATCH", web, b'{"bogus":' + deep(1000) + b"}",
                "application/merge-patch+json")
    assert (reply.code, failure(reply)) == (400, status(
        400, "error decoding patch: exceeded max depth of 200", "BadRequest"))


def test_json_patch_path_without_a_leading_slash(cluster: Cluster, ns, web: str) -> None:
    """json-patch v4 ignores the first path segment: `metadata/labels/x` looks for `labels`
    at the root (422), `spec/bogus` adds a root `bogus` (dropped as an unknown field)."""
    kubectl, _ = ns
    reply = raw(cluster, "PATCH", web, b'[{"op":"add","path":"metadata/labels/x","value":"y"}]',
                "application/json-patch+json")
    assert reply.code == 422
    assert reply.body["details"]["causes"][0]["message"] == (
        'add operation does not apply: doc is missing path: "metadata/labels/x": missing value')
    reply = raw(cluster, "PATCH", web, b'[{"op":"add","path":"spec/bogus","value":1}]',
                "application/json-patch+json")
    assert (reply.code, reply.warnings) == (200, ['299 - "unknown field \\"bogus\\""'])
    assert "bogus" not in kubectl.json("get", "service", "web")


def test_bodies_are_bounded_before_and_after_decoding(cluster: Cluster, ns) -> None:
    kubectl, url = ns
    too_long = b'{"metadata":{"name":"big"},"data":{"a":"' + b"x" * (3 << 20) + b'"}}'
    reply = raw(cluster, "POST", url, too_long)
    assert (reply.code, failure(reply)) == (413, status(
        413, "Request entity too large: limit is 3145728", "RequestEntityTooLarge"))
    event = {"metadata": {"name": "big"}, "message": "x" * (1600 << 10),
             "involvedObject": {"kind": "Pod", "name": "p", "namespace": kubectl.namespace}}
    reply = raw(cluster, "POST", f"/api/v1/namespaces/{kubectl.namespace}/events",
                json.dumps(event).encode())
    assert (reply.code, failure(reply)) == (500, status(500, "etcdserver: request is too large"))


def test_slow_clients_do_not_stop_kubectl(cluster: Cluster, kubectl133: Kubectl) -> None:
    """1,000 connections from kubectl's own address send half a header and stall."""
    script = Path(__file__).with_name("slow_clients.py")
    kubectl133.ok("create", "configmap", "alive")
    proc = cluster.sandbox.popen([VENV_PYTHON, str(script), "127.0.0.1", str(cluster.api_port),
                                  "1000", str(HEADER_TIMEOUT + 30)])
    try:
        lines = LineReader(proc)
        lines.wait_line("^ready$", timeout=60)
        for _ in range(3):
            start = time.monotonic()
            assert "configmap/alive\n" in kubectl133.ok("get", "configmaps", "-o", "name")
            assert time.monotonic() - start < 5
        report = json.loads(lines.wait_line(r"^\{", timeout=HEADER_TIMEOUT + 45))
    finally:
        end_process(proc)
    assert report["opened"] == 1000 and report["still_open"] == 0
    assert max(report["closed_after"]) < HEADER_TIMEOUT + 25
