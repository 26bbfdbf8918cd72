"""The ServiceAccount admission plugin for pods (plugin/pkg/admission/serviceaccount).

At pod creation, inside the write's transaction:
- `spec.serviceAccountName` defaults to `default` (done by the pod strategy);
- the ServiceAccount must exist (403 `error looking up service account ns/name:
  serviceaccount "name" not found`). Portico lets a pod name the namespace's
  `default` account before the ServiceAccount controller has made it: that
  controller follows namespace creation within milliseconds, and the token the pod
  needs is only requested when the pod starts;
- unless `automountServiceAccountToken: false` on the pod (or, when the pod says
  nothing, on the ServiceAccount), the pod gets the `kube-api-access-<5 chars>`
  projected volume (a token for the API server, valid 3607 s and refreshed by the
  node; `ca.crt` from the `kube-root-ca.crt` ConfigMap; the namespace) mounted
  read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container
  that does not mount something there already.
"""

from __future__ import annotations

import random

import orjson

from portico.apiserver.errors import StatusError
from portico.apiserver.resources import _base

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
TOKEN_EXPIRATION = 3607
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def api_access_volume(name: str) -> _base.Object:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIG_MAP,
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}


def _forbidden(pod_name: str, namespace: str, account: str) -> StatusError:
    why = (f"error looking up service account {namespace}/{account}: serviceaccount "
           f'"{account}" not found')
    return StatusError(403, "Forbidden", f'pods "{pod_name}" is forbidden: {why}',
                       {"name": pod_name, "kind": "pods"})


def admit(ctx: _base.WriteContext, pod: _base.Object) -> None:
    meta, spec = pod["metadata"], pod.setdefault("spec", {})
    namespace = meta.get("namespace", "")
    account = spec.get("serviceAccountName") or "default"
    raw = ctx.get(f"/registry/core/serviceaccounts/{namespace}/{account}")
    if raw is None and account != "default":
        raise _forbidden(meta.get("name", ""), namespace, account)
    sa = orjson.loads(raw) if raw is not None else {}
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken")
    if automount is False:
        return
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    if any(m.get("mountPath") == MOUNT_PATH for c in containers
           for m in c.get("volumeMounts") or []):
        return
    name = VOLUME_PREFIX + "".join(random.choices(_ALPHABET, k=5))
    spec.setdefault("volumes", []).append(api_access_volume(name))
    for container in containers:
        container.setdefault("volumeMounts", []).append(
            {"name": name, "readOnly": True, "mountPath": MOUNT_PATH})
