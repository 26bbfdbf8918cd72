"""The Gateway API conformance manifests (../shared/conformance/gateway-api), read, never copied.

`documents(name)` loads `base/manifests.yaml` or `tests/<name>.yaml` and does
what upstream's applier does before sending each object: every Gateway's
`spec.gatewayClassName` and every GatewayClass's `spec.controllerName` are
overwritten with Portico's (`approuting-istio`,
`istio.aks.azure.com/gateway-controller`). `tls_secret` makes the TLS Secrets
the suite generates at run time (self-signed, the given SANs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from portico.gateway.model import CLASS_NAME, CONTROLLER_NAME
from portico.ingress import tls
from portico.testing import tls as testing_tls

ROOT = Path(__file__).resolve().parents[1] / "../shared/conformance/gateway-api"
BUNDLE = ROOT / "standard-install.yaml"
needs_conformance = pytest.mark.skipif(not BUNDLE.exists(), reason="needs ../shared/conformance")


def path(name: str) -> Path:
    return ROOT / "base" / "manifests.yaml" if name == "base" else ROOT / "tests" / f"{name}.yaml"


def documents(name: str) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path(name).read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Gateway":
            doc["spec"]["gatewayClassName"] = CLASS_NAME
        elif doc["kind"] == "GatewayClass":
            doc["spec"]["controllerName"] = CONTROLLER_NAME
    return docs


def tls_secret(namespace: str, name: str, hosts: tuple[str, ...]) -> dict[str, Any]:
    return testing_tls.tls_secret(name, namespace, *tls.self_signed(hosts[0], hosts))


BASE_SECRETS = (("gateway-conformance-infra", "tls-validity-checks-certificate",
                 ("*", "*.org", "*.wildcard.org")),
                ("gateway-conformance-infra", "tls-checks-certificate", ("abc.example.com",)),
                ("gateway-conformance-web-backend", "certificate", ("*",)))
