"""The pure parts of `bench/gateway.py`: manifests, the hand-written HAProxy, the changes.

Everything here is a value: the workload (built-in nginx for throughput, agnhost
`blue`/`green` answering their pod name for the shift measurements), the Gateway
of class approuting-istio with its routes, the baseline (the same HAProxy binary
as pods behind a LoadBalancer Service of their own, configured by hand with the
nginx pods' IPs), the 50 route edits applied under load, and the percentile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from portico.gateway import provision

Obj = dict[str, Any]
GATEWAY = "bench"
GATEWAY_CLASS = "approuting-istio"
GATEWAY_SERVICE = f"{GATEWAY}-{GATEWAY_CLASS}"  # the LoadBalancer Service AKS names so
BASELINE = "baseline-haproxy"
HOST = "bench.example.com"
SHIFT_HOST = "shift.example.com"
SHIFT_SERVICE = "shift"
COLORS = ("blue", "green")
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
GROUP = "gateway.networking.k8s.io"
DEFAULTS = """defaults
    mode http
    option forwardfor
    option idle-close-on-response
    timeout connect 5s
    timeout client 60s
    timeout server 60s
"""


def _deployment(name: str, labels: dict[str, str], container: Obj, replicas: int = 2) -> Obj:
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
               "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container],
                                           "topologySpreadConstraints": spread}}}}


def _service(name: str, selector: dict[str, str], port: int, target: int,
             type_: str = "ClusterIP") -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": selector,
                     "ports": [{"name": "http", "port": port, "targetPort": target}]}}


def _ready_on(port: int) -> Obj:
    return {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1}


def workload() -> list[Obj]:
    """nginx x 2 behind `web`; agnhost `blue` and `green` behind their Services and
    `shift` (which selects blue, then green)."""
    nginx = {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
             "readinessProbe": _ready_on(80)}
    objects = [_deployment("web", {"app": "web"}, nginx), _service("web", {"app": "web"}, 80, 80),
               _service(SHIFT_SERVICE, {"color": COLORS[0]}, 8080, 8080)]
    for color in COLORS:
        agnhost = {"name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                   "readinessProbe": _ready_on(8080)}
        objects += [_deployment(color, {"color": color}, agnhost, replicas=1),
                    _service(color, {"color": color}, 8080, 8080)]
    return objects


def route(name: str, host: str, backend: str, port: int, rules: Sequence[Obj] = ()) -> Obj:
    """An HTTPRoute on the bench Gateway: `rules`, then a catch-all to `backend`."""
    catch_all = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                 "backendRefs": [{"name": backend, "port": port}]}
    return {"apiVersion": f"{GROUP}/v1", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": GATEWAY}], "hostnames": [host],
                     "rules": [*rules, catch_all]}}


def gateway_objects() -> list[Obj]:
    gateway = {"apiVersion": f"{GROUP}/v1", "kind": "Gateway", "metadata": {"name": GATEWAY},
               "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": [
                   {"name": "http", "port": 80, "protocol": "HTTP",
                    "allowedRoutes": {"namespaces": {"from": "Same"}}}]}}
    return [gateway, route("web", HOST, "web", 80),
            route("shift", SHIFT_HOST, COLORS[0], 8080)]


def baseline_config(servers: Sequence[str]) -> str:
    """The hand-written HAProxy: one frontend on :80, one backend of the nginx pods; no
    `nbthread`, so it runs as many threads as the gateway's HAProxy (one per CPU)."""
    lines = "".join(f"    server s{i} {ip}:80\n" for i, ip in enumerate(sorted(servers)))
    return (f"global\n{DEFAULTS}frontend fe\n    bind :80\n"
            f"    default_backend be\nbackend be\n{lines}")


def baseline_objects(config_path: str) -> list[Obj]:
    """The baseline's pods (the machine's haproxy on the config file), its LB Service, and
    the same autoscaling as a Gateway's (CPU request and HPA), so that both sides run as
    many pods under the same load."""
    haproxy = {"name": "haproxy", "image": "debian",
               "command": ["haproxy", "-db", "-f", config_path],
               "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
               "resources": {"requests": dict(provision.REQUESTS)}}
    labels = {"app": BASELINE}
    autoscaler = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                  "metadata": {"name": BASELINE},
                  "spec": {**provision.autoscaler_spec(BASELINE)}}
    return [_deployment(BASELINE, labels, haproxy),
            _service(BASELINE, labels, 80, 80, type_="LoadBalancer"), autoscaler]


def route_edits(count: int = 50) -> list[Obj]:
    """`count` distinct specs of route `web`, every one still sending `/` to nginx: new
    path rules, header modifiers and weights (all Core or Extended HTTPRoute)."""
    edits = []
    for i in range(count):
        rules: list[Obj] = [{"matches": [{"path": {"type": "PathPrefix", "value": f"/p{j}"}}],
                             "backendRefs": [{"name": "web", "port": 80}]}
                            for j in range(i % 7)]
        rules.append({"matches": [{"path": {"type": "Exact", "value": f"/edit-{i}"}}],
                      "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
                          "set": [{"name": "X-Edit", "value": str(i)}]}}],
                      "backendRefs": [{"name": "web", "port": 80, "weight": 1 + i % 3}]})
        edits.append(route("web", HOST, "web", 80, rules)["spec"])
    return edits


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in (0, 1])."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def programmed_address(gateway: Obj, service: Obj | None) -> str | None:
    """The Gateway's address once Programmed at its generation and equal to its
    Service's frontend IP (the behaviour issue 14 specifies), else None."""
    status = gateway.get("status") or {}
    generation = gateway["metadata"].get("generation")
    programmed = any(c.get("type") == "Programmed" and c.get("status") == "True"
                     and c.get("observedGeneration") == generation
                     for c in status.get("conditions") or [])
    addresses = [a.get("value") for a in status.get("addresses") or []]
    ingress = ((service or {}).get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    frontends = {i.get("ip") for i in ingress}
    if programmed and addresses and addresses[0] in frontends:
        return str(addresses[0])
    return None
