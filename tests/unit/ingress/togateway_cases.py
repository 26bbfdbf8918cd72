"""Ingresses for the golden tests of `portico.ingress.togateway`."""

from __future__ import annotations

from typing import Any

NGINX = "nginx.ingress.kubernetes.io/"


def ingress(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None,
            namespace: str = "shop") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace,
                         "annotations": annotations or {}}, "spec": spec}


def path(value: str, service: str, port: int | str = 80,
         path_type: str = "Prefix") -> dict[str, Any]:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"path": value, "pathType": path_type,
            "backend": {"service": {"name": service, "port": ref}}}


def rule(host: str, *paths: dict[str, Any]) -> dict[str, Any]:
    return {"host": host, "http": {"paths": list(paths)}}


CASES: dict[str, list[dict[str, Any]]] = {
    "tls-host-redirects-http": [ingress("web", {
        "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
        "rules": [rule("shop.example.com", path("/", "web"),
                       path("/api", "api", "http", "Exact"))]},
        {NGINX + "proxy-read-timeout": "30"})],
    "tls-without-redirect-and-catch-all": [ingress("web", {
        "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
        "rules": [rule("shop.example.com", path("/", "web"))],
        "defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}}},
        {NGINX + "ssl-redirect": "false"})],
    "canary-weight-and-header": [
        ingress("web", {"rules": [rule("shop.example.com", path("/", "web"))]}),
        ingress("web-canary", {"rules": [rule("shop.example.com", path("/", "web-v2"))]},
                {NGINX + "canary": "true", NGINX + "canary-weight": "20",
                 NGINX + "canary-by-header": "X-Canary", NGINX + "proxy-read-timeout": "5"}),
        ingress("orphan-canary", {"rules": [rule("shop.example.com", path("/new", "v3"))]},
                {NGINX + "canary": "true", NGINX + "canary-by-header": "X-New",
                 NGINX + "canary-by-header-value": "yes"}),
    ],
    "rewrites-and-what-has-no-form": [
        ingress("strip", {"rules": [rule(
            "*.apps.example.com",
            path("/app(/|$)(.*)", "app", 8080, "ImplementationSpecific"),
            path("/v1/(.*)", "app", 8080, "ImplementationSpecific"))]},
            {NGINX + "rewrite-target": "/$2"}),
        ingress("full", {"rules": [rule("", path("/old", "app", "metrics"))]},
                {NGINX + "rewrite-target": "/new", NGINX + "use-regex": "false",
                 NGINX + "affinity": "cookie", NGINX + "limit-rps": "10",
                 NGINX + "enable-cors": "true"}),
        ingress("bucket", {"rules": [rule("", {
            "path": "/static", "pathType": "ImplementationSpecific",
            "backend": {"resource": {"kind": "StorageBucket", "name": "b"}}})]}),
    ],
    "wildcard-tls-and-unused-tls": [ingress("apps", {
        "tls": [{"hosts": ["*.apps.example.com"], "secretName": "apps-wildcard"},
                {"hosts": ["old.example.com"], "secretName": "old"}],
        "rules": [rule("a.apps.example.com", path("/", "a")),
                  rule("b.c.apps.example.com", path("/", "bc"))]})],
}
