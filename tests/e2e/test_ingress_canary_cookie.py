"""Ingress canary by cookie on a real cluster: kubectl, the ingress addon, curl from the sandbox.

One `Cluster(nodes=1)`. A main Ingress routes `canary.example.com` to Deployment
`web`, a canary Ingress (`canary: "true"`, `canary-by-header: X-Canary`,
`canary-by-cookie: canary`) to `web2`; agnhost's `/hostname` names the pod that
answered. As in ingress-nginx: cookie `always` -> canary, `never` -> main, any
other value or none -> the weight rule (0, then 100), and the header decides
before the cookie; canary-by-cookie gets no Warning event any more. Requests are
only ever sent from the cluster's sandbox netns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.e2e.cluster_support import (
    HTTP_PORT,
    INGRESS_NS,
    deployment,
    dump,
    ingress_cluster,
    service,
)

NS = INGRESS_NS
HOST = "canary.example.com"
NGX = "nginx.ingress.kubernetes.io/"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with ingress_cluster(1) as running:
        yield running


def ingress(name: str, svc: str, annotations: dict[str, str]) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"rules": [{"host": HOST, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": svc, "port": {"number": 80}}}}]}}]}}


def test_canary_by_cookie_then_weight(cluster: Cluster) -> None:
    canary = {NGX + "canary": "true", NGX + "canary-by-header": "X-Canary",
              NGX + "canary-by-cookie": "canary", NGX + "canary-weight": "0",
              NGX + "server-snippet": "x"}  # still unsupported: its Warning is the only one
    cluster.kubectl("apply", "-f", "-", check=True, input=dump(
        deployment("web", 1), service("web", [HTTP_PORT]),
        deployment("web2", 1), service("web2", [HTTP_PORT]),
        ingress("web", "web", {}), ingress("web-canary", "web2", canary)))
    for name in ("web", "web2"):
        cluster.kubectl("rollout", "status", f"deployment/{name}", "--timeout=90s", check=True,
                        timeout=100)
    ip = wait_for(lambda: cluster.kubectl(
        "get", "service", "nginx", "-n", NS, "-o",
        "jsonpath={.status.loadBalancer.ingress[0].ip}").stdout.strip(),
        timeout=90, message="EXTERNAL-IP of the ingress controller")

    def pod(cookie: str | None = None, header: str | None = None) -> str:
        """Which Deployment answered (web / web2), or curl's error."""
        args = ["-H", f"Host: {HOST}"]
        args += ["-b", f"canary={cookie}"] if cookie else []
        args += ["-H", f"X-Canary: {header}"] if header else []
        result = cluster.sandbox.run(["curl", "-sS", "--max-time", "3", *args,
                                      f"http://{ip}/hostname"], timeout=15)
        return result.stdout.rsplit("-", 2)[0] if result.returncode == 0 else result.stderr

    def every_replica(expected: str, **request: str) -> bool:  # two controller replicas
        return all(pod(**request) == expected for _ in range(6))

    wait_for(lambda: every_replica("web2", cookie="always"), timeout=60,
             message="cookie canary=always routed to the canary")
    assert every_replica("web", cookie="never")
    assert every_replica("web") and every_replica("web", cookie="other")  # weight 0
    assert pod(cookie="always", header="never") == "web"    # the header decides first
    assert pod(cookie="never", header="always") == "web2"
    assert pod(cookie="always", header="other") == "web2"   # other header: on to the cookie

    cluster.kubectl("annotate", "--overwrite", "ingress", "web-canary",
                    f"{NGX}canary-weight=100", check=True)
    wait_for(lambda: every_replica("web2"), timeout=60, message="canary-weight 100 applied")
    assert every_replica("web2", cookie="other")
    assert every_replica("web", cookie="never")             # the cookie beats the weight

    def warnings() -> list[str]:
        events = json.loads(cluster.kubectl(
            "get", "events", "-o", "json", "--field-selector",
            "involvedObject.name=web-canary,type=Warning", check=True).stdout)
        return [e["message"] for e in events["items"]]
    assert wait_for(warnings, timeout=30, message="Warning events of web-canary") == [
        f"annotation {NGX}server-snippet is not supported by this ingress controller and is "
        "ignored"]
