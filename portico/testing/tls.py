"""TLS Secrets for tests: a certificate and key (e.g. `ingress.tls.self_signed`) as a Secret."""

from __future__ import annotations

import base64

from portico.ingress.model import Obj
from portico.ingress.tls import TLS_TYPE


def tls_secret(name: str, namespace: str, crt_pem: str, key_pem: str) -> Obj:
    """A `kubernetes.io/tls` Secret object holding `crt_pem` and `key_pem`."""
    return {"apiVersion": "v1", "kind": "Secret", "type": TLS_TYPE,
            "metadata": {"name": name, "namespace": namespace},
            "data": {"tls.crt": base64.b64encode(crt_pem.encode()).decode(),
                     "tls.key": base64.b64encode(key_pem.encode()).decode()}}
