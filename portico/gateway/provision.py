"""The objects AKS's app routing provisions for each Gateway, as manifests (pure).

Theory of operation: for a Gateway `G` of class `approuting-istio`, in G's
namespace, a Deployment (HAProxy pods, image `portico/gateway-proxy`, requesting
Istio's 100m CPU and 128Mi), a LoadBalancer Service exposing 15021 (status) and
the listener ports, a HorizontalPodAutoscaler (2 to 5 pods at 80 % CPU, as
AKS's; the Deployment starts at 2 and then keeps the count the autoscaler
sets) and a PodDisruptionBudget (minAvailable 1), all named `G-approuting-istio`
(annotation `gateway.istio.io/name-override` replaces it), owned by G and
labelled with the gateway and class names; `spec.infrastructure.labels` and
`annotations` are copied onto all of them (so the Azure LB annotations, such as
`azure-load-balancer-internal`, reach the Service). Names and label values over
63 characters are cut to 52 plus `-` and 10 hex digits of their SHA-256, so
long Gateway names still reconcile.
"""

from __future__ import annotations

import hashlib

from portico.gateway.model import (
    CLASS_NAME,
    CONTROLLER_NAME,
    GATEWAY_CLASS_LABEL,
    GATEWAY_NAME_LABEL,
    GROUP,
    Obj,
    meta,
)

NAME_OVERRIDE = "gateway.istio.io/name-override"
MANAGED_LABEL = "gateway.istio.io/managed"
STATUS_PORT = 15021
IMAGE = "portico/gateway-proxy"
MIN_REPLICAS, MAX_REPLICAS, CPU_TARGET = 2, 5, 80   # AKS's autoscaler; the minimum enforced
REQUESTS = {"cpu": "100m", "memory": "128Mi"}        # Istio's gateway defaults (HPA's base)


def shorten(text: str, limit: int = 63) -> str:
    if len(text) <= limit:
        return text
    return text[:limit - 11].rstrip("-.") + "-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def object_name(gateway: Obj) -> str:
    m = meta(gateway)
    override = (m.get("annotations") or {}).get(NAME_OVERRIDE)
    return override or shorten(f"{m['name']}-{gateway['spec']['gatewayClassName']}")


def labels(gateway: Obj) -> dict[str, str]:
    infra = (gateway.get("spec") or {}).get("infrastructure") or {}
    return {**(infra.get("labels") or {}), GATEWAY_NAME_LABEL: shorten(meta(gateway)["name"]),
            GATEWAY_CLASS_LABEL: str(gateway["spec"]["gatewayClassName"])}


def _metadata(gateway: Obj) -> Obj:
    m = meta(gateway)
    infra = (gateway.get("spec") or {}).get("infrastructure") or {}
    out = {"name": object_name(gateway), "namespace": m["namespace"], "labels": labels(gateway),
           "ownerReferences": [{"apiVersion": f"{GROUP}/v1", "kind": "Gateway",
                                "name": m["name"], "uid": m["uid"], "controller": True}]}
    if infra.get("annotations"):
        out["annotations"] = dict(infra["annotations"])
    return out


def listener_ports(gateway: Obj) -> list[int]:
    return sorted({int(li["port"]) for li in gateway["spec"].get("listeners") or []})


def deployment(gateway: Obj, replicas: int = MIN_REPLICAS) -> Obj:
    """The HAProxy pods; `replicas` is the live count once the autoscaler owns it."""
    selector = {GATEWAY_NAME_LABEL: shorten(meta(gateway)["name"])}
    pod_labels = {**labels(gateway), MANAGED_LABEL: "istio.io-gateway-controller"}
    container = {
        "name": "istio-proxy", "image": IMAGE,
        "args": ["proxy", f"--gateway={meta(gateway)['name']}", f"--status-port={STATUS_PORT}"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE",
                 "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [{"containerPort": STATUS_PORT, "name": "status-port", "protocol": "TCP"}] +
                 [{"containerPort": p, "protocol": "TCP"} for p in listener_ports(gateway)],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": STATUS_PORT},
                           "periodSeconds": 1, "failureThreshold": 3},
        "resources": {"requests": dict(REQUESTS)}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(gateway),
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": pod_labels},
                                  "spec": {"serviceAccountName": object_name(gateway),
                                           "containers": [container]}}}}


def service_account(gateway: Obj) -> Obj:
    """The proxies' own identity (as Istio gives each gateway one), bound to the
    `PROXY_ROLE` ClusterRole by `proxy_binding`."""
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(gateway)}


PROXY_ROLE = "portico:gateway-proxy"  # reads what the proxies route (gateway.yaml)
PROXY_BINDING = "portico:gateway-proxies"


def proxy_binding(gateways: list[Obj]) -> Obj:
    """One ClusterRoleBinding of `PROXY_ROLE` to the ServiceAccount of every Gateway."""
    subjects = sorted(({"kind": "ServiceAccount", "name": object_name(g),
                        "namespace": meta(g)["namespace"]} for g in gateways),
                      key=lambda s: (s["namespace"], s["name"]))
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": PROXY_BINDING},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": PROXY_ROLE},
            "subjects": subjects}


def service(gateway: Obj) -> Obj:
    ports = [{"name": "status-port", "port": STATUS_PORT, "protocol": "TCP",
              "appProtocol": "tcp"}]
    for li in gateway["spec"].get("listeners") or []:
        if int(li["port"]) not in {p["port"] for p in ports}:
            ports.append({"name": shorten(f"{str(li['protocol']).lower()}-{li['port']}", 15),
                          "port": int(li["port"]), "protocol": "TCP"})
    spec: Obj = {"type": "LoadBalancer", "selector": {GATEWAY_NAME_LABEL:
                                                       shorten(meta(gateway)["name"])},
                 "ports": ports}
    addresses = [a["value"] for a in gateway["spec"].get("addresses") or []
                 if a.get("type", "IPAddress") == "IPAddress"]
    if addresses:
        spec["loadBalancerIP"] = addresses[0]
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(gateway), "spec": spec}


def disruption_budget(gateway: Obj) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _metadata(gateway),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {
                GATEWAY_NAME_LABEL: shorten(meta(gateway)["name"])}}}}


def autoscaler_spec(deployment: str) -> Obj:
    """AKS's gateway autoscaling for Deployment `deployment`."""
    return {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": deployment},
            "minReplicas": MIN_REPLICAS, "maxReplicas": MAX_REPLICAS,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization",
                                          "averageUtilization": CPU_TARGET}}}]}


def autoscaler(gateway: Obj) -> Obj:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(gateway), "spec": autoscaler_spec(object_name(gateway))}


def gateway_class() -> Obj:
    return {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass",
            "metadata": {"name": CLASS_NAME},
            "spec": {"controllerName": CONTROLLER_NAME,
                     "description": "AKS application routing, Gateway API mode (HAProxy)"}}
