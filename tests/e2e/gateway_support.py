"""Gateway API end-to-end helpers: the conformance setup on a running cluster, statuses, requests.

`setup(cluster)` does what the upstream suite's Setup does, with the real
kubectl: waits for the Standard CRD bundle that `portico up` installs (the
harness gives it the conformance copy), applies the base manifests with our class
and the generated TLS Secrets, then waits for the GatewayClass to be Accepted,
the echo Deployments to be Available and the base Gateways to be Programmed. The base's TCP, TLS,
CoreDNS and third gRPC backends are left out: no ported test uses them and
they would only cost CPU. `applied(cluster, name)` applies one test's manifests and
deletes them afterwards (waiting until they are gone), as upstream's
per-test cleanup. `expect(cluster, address, cases)` runs `gateway_probe.py`
inside the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME
from portico.testing.sandbox import Cluster, wait_for
from tests.e2e.cluster_support import VENV_PYTHON
from tests.gateway_conformance import BASE_SECRETS, documents, tls_secret

INFRA = "gateway-conformance-infra"
PROBE = Path(__file__).with_name("gateway_probe.py")
UNUSED_BACKENDS = ("grpc-infra-backend-v3", "tcp-backend", "tls-backend", "coredns")
BACKEND_NAMESPACES = (INFRA, "gateway-conformance-app-backend", "gateway-conformance-web-backend")


def kubectl_json(cluster: Cluster, *args: str) -> Any:
    result = cluster.kubectl(*args, "-o", "json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def apply(cluster: Cluster, docs: list[dict[str, Any]], *extra: str) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
    cluster.kubectl("apply", *extra, "-f", "-", input=body, check=True, timeout=120)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return {}


def current(obj: dict[str, Any], cond: dict[str, Any]) -> bool:
    return cond.get("observedGeneration") == obj["metadata"].get("generation")


def _base_docs() -> list[dict[str, Any]]:
    return [d for d in documents("base") if not (
        d["kind"] in ("Deployment", "ConfigMap") and d["metadata"]["name"].startswith(
            UNUSED_BACKENDS))]


def setup(cluster: Cluster) -> None:
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    *(f"crd/{p}.gateway.networking.k8s.io" for p in
                      ("gatewayclasses", "gateways", "httproutes", "referencegrants")),
                    check=True, timeout=90)
    wait_for(lambda: condition(kubectl_json(cluster, "get", "gatewayclass", CLASS_NAME),
                               "Accepted").get("status") == "True", 120, interval=0.5,
             message=f"GatewayClass {CLASS_NAME} Accepted")
    apply(cluster, _base_docs())
    apply(cluster, [tls_secret(*s) for s in BASE_SECRETS])
    for ns in BACKEND_NAMESPACES:
        cluster.kubectl("wait", "-n", ns, "--for=condition=Available", "deployment", "--all",
                        "--timeout=240s", check=True, timeout=250)
    cluster.kubectl("wait", "-n", INFRA, "--for=condition=programmed", "gateway", "--all",
                    "--timeout=240s", check=True, timeout=250)


def address(cluster: Cluster, gateway: str, namespace: str = INFRA) -> str:
    def found() -> str:
        gw = kubectl_json(cluster, "get", "gateway", gateway, "-n", namespace) or {}
        return str((((gw.get("status") or {}).get("addresses")) or [{}])[0].get("value") or "")
    return wait_for(found, 180, interval=0.5, message=f"address of gateway {gateway}")


def parent_conditions(route: dict[str, Any], gateway: str) -> dict[str, dict[str, Any]]:
    for parent in (route.get("status") or {}).get("parents") or []:
        if parent.get("controllerName") == CONTROLLER_NAME and \
                parent["parentRef"]["name"] == gateway:
            return {c["type"]: c for c in parent.get("conditions") or []}
    return {}


def route_parent(cluster: Cluster, route: str, gateway: str, accepted: str = "True",
                 namespace: str = INFRA, kind: str = "httproute") -> dict[str, dict[str, Any]]:
    """The route's parent conditions for `gateway` once Accepted is `accepted` and current."""
    def ready() -> dict[str, dict[str, Any]] | None:
        obj = kubectl_json(cluster, "get", kind, route, "-n", namespace)
        conds = parent_conditions(obj or {}, gateway)
        ok = conds.get("Accepted", {})
        return conds if ok.get("status") == accepted and current(obj, ok) else None
    return wait_for(ready, 60, interval=0.3, message=f"{kind} {route} parent {gateway}")


def gateway_status(cluster: Cluster, name: str, namespace: str = INFRA) -> dict[str, Any]:
    """The Gateway's status once its Accepted condition is current."""
    def ready() -> dict[str, Any] | None:
        obj = kubectl_json(cluster, "get", "gateway", name, "-n", namespace)
        return obj if obj and current(obj, condition(obj, "Accepted")) else None
    return wait_for(ready, 60, interval=0.3, message=f"status of gateway {name}")["status"]


@contextmanager
def applied(cluster: Cluster, name: str, *extra: str) -> Iterator[list[dict[str, Any]]]:
    """One test's manifests applied (`extra`: more `kubectl apply` flags), deleted after."""
    docs = documents(name)
    apply(cluster, docs, *extra)
    try:
        yield docs
    finally:
        body = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
        cluster.kubectl("delete", "--ignore-not-found", "--wait", "-f", "-", input=body,
                        timeout=120)


def expect(cluster: Cluster, addr: str, cases: list[dict[str, Any]]) -> None:
    result = cluster.sandbox.run([VENV_PYTHON, str(PROBE), addr, json.dumps(cases)],
                                 timeout=40 * len(cases) + 10)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    failed = [line for line in lines if not line["ok"]]
    assert len(lines) == len(cases) and not failed, result.stderr + json.dumps(failed, indent=1)


def listener_view(gw_status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> {attached, kinds, conditions: type -> (status, reason)} of a Gateway status."""
    return {li["name"]: {"attached": li["attachedRoutes"],
                         "kinds": [k["kind"] for k in li.get("supportedKinds") or []],
                         "conditions": {c["type"]: (c["status"], c["reason"])
                                        for c in li.get("conditions") or []}}
            for li in gw_status.get("listeners") or []}


def wait_listeners(cluster: Cluster, gateway: str, expected: dict[str, dict[str, Any]],
                   namespace: str = INFRA) -> dict[str, Any]:
    """Wait until the Gateway's current status has exactly these listeners, each with the
    given attachedRoutes, supportedKinds (by default: HTTPRoute among them, as upstream's
    subset check) and (a subset of) conditions."""
    def matches() -> dict[str, Any] | None:
        status = gateway_status(cluster, gateway, namespace)
        view = listener_view(status)
        if set(view) != set(expected):
            return None
        for name, want in expected.items():
            got = view[name]
            kinds_ok = got["kinds"] == want["kinds"] if "kinds" in want else \
                "HTTPRoute" in got["kinds"]
            if got["attached"] != want.get("attached", got["attached"]) or not kinds_ok or \
                    any(got["conditions"].get(t) != c for t, c in want.get("conditions",
                                                                          {}).items()):
                return None
        return status
    return wait_for(matches, 60, interval=0.3, message=f"listeners of gateway {gateway}")


OK = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}


def distribution(cluster: Cluster, addr: str, request: dict[str, Any], count: int,
                 ) -> dict[str, int]:
    """Backend name -> answers out of `count` requests (upstream's weight check)."""
    result = cluster.sandbox.run([VENV_PYTHON, str(PROBE), addr, json.dumps([request]),
                                  str(count)], timeout=120)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def grpc_call(cluster: Cluster, addr: str, path: str, host: str = "grpc.example.com",
              ) -> tuple[int, dict[str, str]]:
    """(HTTP status, response headers and trailers) of one unary gRPC call over h2c (curl
    with prior knowledge, an empty message), from the sandbox; (0, {}) when none came."""
    result = cluster.sandbox.run(
        ["curl", "-sS", "--max-time", "3", "--http2-prior-knowledge", "-X", "POST",
         "-H", f"Host: {host}", "-H", "content-type: application/grpc", "-H", "te: trailers",
         "--data-binary", "@-", "-D", "-", "-o", "/dev/null", f"http://{addr}{path}"],
        input="\0" * 5, timeout=15)
    # A reply sent before the request body was read (a 404) may end with the stream
    # reset, which curl reports as an error after printing the headers it got.
    lines = result.stdout.splitlines()
    if not lines or not lines[0].startswith("HTTP/"):
        return 0, {}
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v.strip() for k, v in headers.items()}


def case(path: str, backend: str = "infra-backend-v1", ns: str = INFRA, **more: Any,
         ) -> dict[str, Any]:
    """A request (Host example.com unless `host=`) the echo pod of `backend` in `ns` answers."""
    return {"host": more.pop("host", "example.com"), "path": path, "backend": backend,
            "namespace": ns, **more}
