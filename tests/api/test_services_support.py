"""Shared helpers (no tests) for the Service acceptance tests over the real HTTP API.

`svc()` builds a v1 Service body, `expect_invalid()` the exact 422 `Status` body
kube-apiserver returns for a list of field errors, `allocations()` reads the
server's allocation records (`/registry/ranges/serviceips/` and
`/registry/ranges/servicenodeports/`) straight from its store, and `held()`
derives the same mapping from the Services the API returns, so tests can assert
that the two agree exactly.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.server import ApiServer

SVCS = "/api/v1/namespaces/default/services"
IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"
KUBERNETES_OWNER = "default/kubernetes"


def svc(name: str = "x", namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def expect_invalid(name: str, *causes: tuple[str, str, str]) -> dict[str, Any]:
    """The 422 body for `(field, reason, message)` causes, as `errors.NewInvalid` shapes it."""
    lines = [f"{field}: {message}" for field, _, message in causes]
    joined = lines[0] if len(lines) == 1 else "[" + ", ".join(lines) + "]"
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'Service "{name}" is invalid: {joined}', "reason": "Invalid",
        "details": {"name": name, "kind": "Service", "causes": [
            {"reason": reason, "message": message, "field": field}
            for field, reason, message in causes]},
        "code": 422,
    }


def allocations(server: ApiServer) -> tuple[dict[str, str], dict[str, str]]:
    """(cluster IP -> owner, nodePort -> owner) as recorded in the store."""
    def read(prefix: str) -> dict[str, str]:
        return {kv.key[len(prefix):]: kv.value.decode() for kv in server.store.range(prefix)}
    return read(IP_PREFIX), read(PORT_PREFIX)


def held(services: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(cluster IP -> owner, nodePort -> owner) as the Services themselves hold them."""
    ips: dict[str, str] = {}
    ports: dict[str, str] = {}
    for obj in services:
        meta, spec = obj["metadata"], obj["spec"]
        owner = f"{meta['namespace']}/{meta['name']}"
        for ip in spec.get("clusterIPs") or []:
            if ip != "None":
                assert ips.setdefault(ip, owner) == owner, f"{ip} shared by {ips[ip]}, {owner}"
        numbers = {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}
        if spec.get("healthCheckNodePort"):
            numbers.add(spec["healthCheckNodePort"])
        for number in numbers:
            assert ports.setdefault(str(number), owner) == owner, \
                f"nodePort {number} shared by {ports[str(number)]}, {owner}"
    return ips, ports
