"""Ingress on a real cluster: the addon, kubectl, and requests from the sandbox to EXTERNAL-IP.

One `Cluster(nodes=2)`. The addon (app-routing-system/nginx + the default
IngressClass) is installed by `portico up` when `portico/cli/_addons.py` lists it,
otherwise applied here with kubectl. An agnhost netexec Deployment serves
`/hostname`; Ingresses route to it by host and path over HTTP and HTTPS (SNI,
`curl --resolve`), the ADDRESS column shows the load balancer's IP, backends see
the client address in X-Forwarded-For, and an Ingress of another class is left
alone. Requests are only ever sent from the cluster's sandbox netns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.ingress import tls
from portico.testing.sandbox import Cluster, wait_for
from tests.e2e.cluster_support import (
    HTTP_PORT,
    INGRESS_NS,
    SANDBOX_IP,
    deployment,
    dump,
    ingress_cluster,
    service,
)

NS = INGRESS_NS
# A backend that answers with the X-Forwarded-* headers it received (image python).
ECHO = """
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = " ".join(str(self.headers.get(h)) for h in
                        ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
http.server.ThreadingHTTPServer(("", 8080), H).serve_forever()
"""
ECHO_POD = {"containers": [{"name": "echo", "image": "python:3.12",
                            "command": ["python3", "-c", ECHO],
                            "readinessProbe": {"tcpSocket": {"port": 8080},
                                               "periodSeconds": 1}}]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with ingress_cluster(2) as running:
        yield running


def external_ip(cluster: Cluster) -> str:
    def ip() -> str:
        out = cluster.kubectl("get", "service", "nginx", "-n", NS, "-o",
                              "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout
        return out.strip()
    return wait_for(ip, timeout=90, message="EXTERNAL-IP of app-routing-system/nginx")


def curl(cluster: Cluster, *args: str) -> str:
    result = cluster.sandbox.run(["curl", "-sS", "--max-time", "3", *args], timeout=15)
    return result.stdout.strip() if result.returncode == 0 else f"ERR {result.stderr.strip()}"


def ingress(name: str, host: str, paths: list[tuple[str, str]], **spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"rules": [{"host": host, "http": {"paths": [
                {"path": p, "pathType": "Prefix",
                 "backend": {"service": {"name": svc, "port": {"number": 80}}}}
                for p, svc in paths]}}], **spec}}


def test_addon_objects(cluster: Cluster) -> None:
    classes = json.loads(cluster.kubectl("get", "ingressclass", "-o", "json", check=True).stdout)
    ours = [c for c in classes["items"]
            if c["metadata"]["name"] == "webapprouting.kubernetes.azure.com"]
    assert ours and ours[0]["spec"]["controller"] == "webapprouting.kubernetes.azure.com/nginx"
    svc = json.loads(cluster.kubectl("get", "service", "nginx", "-n", NS, "-o", "json",
                                     check=True).stdout)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    assert external_ip(cluster).startswith("198.51.100.")


def test_routes_by_host_and_path_over_http_and_https(cluster: Cluster, tmp_path: Path) -> None:
    ip = external_ip(cluster)
    cluster.kubectl("apply", "-f", "-", check=True, input=dump(
        deployment("web", 2), service("web", [HTTP_PORT]),
        deployment("echo", 1, ECHO_POD), service("echo", [HTTP_PORT]),
        ingress("web", "shop.example.com", [("/", "web"), ("/headers", "echo")]),
        ingress("other-class", "other.example.com", [("/", "web")],
                ingressClassName="someone-else")))
    for name in ("web", "echo"):
        cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=90s", check=True,
                        timeout=100)

    def address() -> str:
        out = cluster.kubectl("get", "ingress", "web").stdout
        return out if ip in out else ""
    table = wait_for(address, timeout=60, message="ADDRESS of ingress web")
    assert table.split("\n")[0].split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert table.split("\n")[1].split()[1:5] == [
        "webapprouting.kubernetes.azure.com", "shop.example.com", ip, "80"]

    def routed() -> str:
        out = curl(cluster, "-H", "Host: shop.example.com", f"http://{ip}/hostname")
        return out if out.startswith("web-") else ""
    assert wait_for(routed, timeout=60, message="HTTP through the ingress")
    assert curl(cluster, "-o", "/dev/null", "-w", "%{http_code}", "-H",
                "Host: nobody.example.com", f"http://{ip}/") == "404"
    assert curl(cluster, "-o", "/dev/null", "-w", "%{http_code}", "-H",
                "Host: other.example.com", f"http://{ip}/") == "404"
    headers = curl(cluster, "-H", "Host: shop.example.com:80", f"http://{ip}/headers/x")
    assert headers == f"{SANDBOX_IP} http shop.example.com:80"
    other = json.loads(cluster.kubectl("get", "ingress", "other-class", "-o", "json").stdout)
    assert not (other.get("status") or {}).get("loadBalancer", {}).get("ingress")

    crt, key = tls.self_signed("shop.example.com", ("shop.example.com",))
    (tmp_path / "tls.crt").write_text(crt)
    (tmp_path / "tls.key").write_text(key)
    cluster.kubectl("create", "secret", "tls", "shop-tls", f"--cert={tmp_path / 'tls.crt'}",
                    f"--key={tmp_path / 'tls.key'}", check=True)
    cluster.kubectl("patch", "ingress", "web", "--type=merge", "-p", json.dumps(
        {"spec": {"tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]}}),
        check=True)

    def https() -> str:
        out = curl(cluster, "-k", "--resolve", f"shop.example.com:443:{ip}", "-w",
                   " %{http_version}", "https://shop.example.com/hostname")
        return out if out.startswith("web-") else ""
    assert wait_for(https, timeout=60, message="HTTPS through the ingress").endswith(" 2")

    def redirected() -> bool:  # every replica: several requests in a row
        return all(curl(cluster, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                        "-H", "Host: shop.example.com", f"http://{ip}/hostname?a=1")
                   == "308 https://shop.example.com/hostname?a=1" for _ in range(6))
    wait_for(redirected, timeout=30, message="HTTP -> HTTPS redirect on every replica")
    issuer = cluster.sandbox.run(["curl", "-skv", "--max-time", "3", "--resolve",
                                  f"shop.example.com:443:{ip}", "https://shop.example.com/"],
                                 timeout=15).stderr
    assert "CN=shop.example.com" in issuer
