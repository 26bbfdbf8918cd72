"""Builders for raw API objects the ingress controller reads (Ingress, Service, slices, Secret)."""

from __future__ import annotations

import base64
from typing import Any

from portico.ingress.model import Obj, Settings, Snapshot

CLASS = "webapprouting.kubernetes.azure.com"
CONTROLLER = "webapprouting.kubernetes.azure.com/nginx"
SETTINGS = Settings(state_dir=__import__("pathlib").PurePosixPath("/state"),
                    run_dir=__import__("pathlib").PurePosixPath("/state/run"),
                    slot_scale=2, default_certificate="DEFAULT-PEM\n")


def ingress_class(name: str = CLASS, default: bool = True, controller: str = CONTROLLER) -> Obj:
    ann = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "annotations": ann}, "spec": {"controller": controller}}


def path(p: str | None, svc: str, port: int | str = 80, kind: str = "Prefix") -> Obj:
    key = "number" if isinstance(port, int) else "name"
    out: Obj = {"pathType": kind, "backend": {"service": {"name": svc, "port": {key: port}}}}
    if p is not None:
        out["path"] = p
    return out


def rule(host: str | None, *paths: Obj) -> Obj:
    out: Obj = {"http": {"paths": list(paths)}}
    if host:
        out["host"] = host
    return out


def ingress(name: str, *rules: Obj, ns: str = "default", created: str = "2024-01-01T00:00:00Z",
            annotations: dict[str, str] | None = None, cls: str | None = None,
            default: tuple[str, int] | None = None, tls: list[Obj] | None = None) -> Obj:
    spec: dict[str, Any] = {"rules": list(rules)}
    if cls:
        spec["ingressClassName"] = cls
    if default:
        spec["defaultBackend"] = {"service": {"name": default[0],
                                              "port": {"number": default[1]}}}
    if tls:
        spec["tls"] = tls
    return {"metadata": {"name": name, "namespace": ns, "creationTimestamp": created,
                         "uid": f"uid-{ns}-{name}", "annotations": annotations or {}},
            "spec": spec}


def service(name: str, *ports: tuple[str, int, int], ns: str = "default") -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"type": "ClusterIP",
                     "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"}
                               for n, p, t in ports]}}


def slice_(svc: str, port_name: str, port: int, *ips: str | tuple[str, bool],
           ns: str = "default", name: str | None = None) -> Obj:
    eps = []
    for ip in ips:
        address, ready = (ip, True) if isinstance(ip, str) else ip
        eps.append({"addresses": [address], "conditions": {"ready": ready}})
    return {"metadata": {"name": name or f"{svc}-abc", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": eps,
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]}


def secret(name: str, data: dict[str, str], ns: str = "default",
           type_: str = "Opaque") -> Obj:
    return {"metadata": {"name": name, "namespace": ns}, "type": type_,
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def snapshot(ingresses: list[Obj], services: list[Obj] = (), slices: list[Obj] = (),
             secrets: list[Obj] = (), classes: list[Obj] | None = None) -> Snapshot:
    def key(o: Obj) -> tuple[str, str]:
        return o["metadata"]["namespace"], o["metadata"]["name"]
    return Snapshot(ingresses=tuple(ingresses),
                    ingress_classes=tuple([ingress_class()] if classes is None else classes),
                    services={key(s): s for s in services},
                    endpoint_slices=tuple(slices), secrets={key(s): s for s in secrets})


_PEM = (__import__("pathlib").Path(__file__).parent / "shop.pem").read_text()
CRT = _PEM[:_PEM.index("-----BEGIN PRIVATE KEY")]
KEY = _PEM[len(CRT):]
NGX = "nginx.ingress.kubernetes.io/"
HTPASSWD = ("alice:$2y$05$abcdefghijklmnopqrstuuHIrMEWpUCQe2YqFR3sXwQ75u4od..9q\n"
            "bob:$apr1$abcdefgh$M2T3erDstkD7SsE2QQnfH0\n"
            "carol:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n")
# passwords: alice "pw", bob "s3cret", carol "test"


def rich_snapshot() -> Snapshot:
    """Two hosts, a wildcard, TLS, a canary, a regex rewrite, auth, limits, another class."""
    return snapshot(
        [ingress("shop", rule("shop.example.com", path("/", "web"), path("/api", "api", "http"),
                              path("/cart", "web", kind="Exact")),
                 rule("*.shop.example.com", path("/", "web")),
                 created="2024-01-01T00:00:00Z", default=("web", 80),
                 tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                 annotations={NGX + "proxy-read-timeout": "120", NGX + "affinity": "cookie",
                              NGX + "whitelist-source-range": "10.0.0.0/8, 192.168.1.1",
                              NGX + "server-snippet": "x"}),
         ingress("rw", rule(None, path("/something(/|$)(.*)", "api", "http",
                                       kind="ImplementationSpecific")),
                 created="2024-01-02T00:00:00Z",
                 annotations={NGX + "rewrite-target": "/$2", "portico.dev/limit-rps": "5",
                              NGX + "proxy-body-size": "1m", NGX + "auth-type": "basic",
                              NGX + "auth-secret": "basic-auth",
                              NGX + "backend-protocol": "HTTPS"}),
         ingress("canary", rule("shop.example.com", path("/", "web2")),
                 created="2024-01-03T00:00:00Z",
                 annotations={NGX + "canary": "true", NGX + "canary-weight": "20",
                              NGX + "canary-by-header": "X-Canary"}),
         ingress("other", rule("other.example.com", path("/", "web")), cls="nginx")],
        [service("web", ("", 80, 8080)), service("api", ("http", 8000, 9000)),
         service("web2", ("", 80, 8080))],
        [slice_("web", "", 8080, "10.244.0.5", ("10.244.1.7", False), "10.244.1.6"),
         slice_("api", "http", 9000, "10.244.0.9")],
        [secret("shop-tls", {"tls.crt": CRT, "tls.key": KEY}, type_="kubernetes.io/tls"),
         secret("basic-auth", {"auth": HTPASSWD})])
