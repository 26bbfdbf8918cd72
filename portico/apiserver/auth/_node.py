"""The Node authorizer: what a node agent may read follows from the pods bound to it.

As kube-apiserver's `NodeAuthorizer` (plugin/pkg/auth/authorizer/node), for users
`system:node:<name>` in `system:nodes`:
- Secrets, ConfigMaps, PersistentVolumeClaims: `get` (or a list/watch of one name)
  only of objects a pod on that node references (volumes, projected sources,
  env, envFrom, imagePullSecrets); a collection never;
- `serviceaccounts/token` create: only for a ServiceAccount a pod on that node runs as;
- Leases in `kube-node-lease`: only the node's own;
- everything else: the `system:node` rules (`NODE_RULES`); no opinion otherwise,
  so RBAC may still allow it.
The graph is read from the current pods of the object's namespace at each
decision (these decisions are never cached: they change with the pods).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._rules import Rule, any_allows
from portico.apiserver.auth._user import NODE_PREFIX, NODES, UserInfo
from portico.apiserver.auth.policy import NODE_RULES

Object = dict[str, Any]
PodsIn = Callable[[str], list[Object]]
GRAPH_RESOURCES = {("", "secrets"): "secret", ("", "configmaps"): "configMap",
                   ("", "persistentvolumeclaims"): "persistentVolumeClaim"}
LEASE_NAMESPACE = "kube-node-lease"
_LEASE_VERBS = ("get", "create", "update", "patch", "delete")
_RULES = tuple(Rule.parse(r) for r in NODE_RULES)


def node_name(user: UserInfo) -> str | None:
    if NODES in user.groups and user.name.startswith(NODE_PREFIX):
        return user.name[len(NODE_PREFIX):]
    return None


def _env_refs(containers: Iterable[Object]) -> Iterable[tuple[str, str]]:
    for c in containers:
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            for kind, key in (("configMap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                if (source.get(key) or {}).get("name"):
                    yield kind, source[key]["name"]
        for env_from in c.get("envFrom") or []:
            for kind, key in (("configMap", "configMapRef"), ("secret", "secretRef")):
                if (env_from.get(key) or {}).get("name"):
                    yield kind, env_from[key]["name"]


def _volume_refs(volumes: Iterable[Object]) -> Iterable[tuple[str, str]]:
    for volume in volumes:
        if (volume.get("configMap") or {}).get("name"):
            yield "configMap", volume["configMap"]["name"]
        if (volume.get("secret") or {}).get("secretName"):
            yield "secret", volume["secret"]["secretName"]
        if (volume.get("persistentVolumeClaim") or {}).get("claimName"):
            yield "persistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
        for source in (volume.get("projected") or {}).get("sources") or []:
            for kind in ("configMap", "secret"):
                if (source.get(kind) or {}).get("name"):
                    yield kind, source[kind]["name"]


def references(pod: Object) -> set[tuple[str, str]]:
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
                  *(spec.get("ephemeralContainers") or [])]
    refs = set(_env_refs(containers)) | set(_volume_refs(spec.get("volumes") or []))
    refs.update(("secret", s["name"]) for s in spec.get("imagePullSecrets") or []
                if s.get("name"))
    return refs


class NodeAuthorizer:
    def __init__(self, pods_in: PodsIn) -> None:
        self.pods_in = pods_in

    def _pods_on(self, node: str, namespace: str) -> list[Object]:
        return [p for p in self.pods_in(namespace)
                if (p.get("spec") or {}).get("nodeName") == node]

    def decide(self, user: UserInfo, attrs: Attributes) -> tuple[bool | None, str]:
        """(True: allow, False: deny, None: no opinion; reason)."""
        node = node_name(user)
        if node is None:
            return None, ""
        no_relation = f"no relationship found between node '{node}' and this object"
        kind = GRAPH_RESOURCES.get((attrs.api_group, attrs.resource))
        if attrs.resource_request and kind and not attrs.subresource:
            if attrs.verb not in ("get", "list", "watch") or not attrs.name:
                return None, "can only get individual resources of this type"
            return (True, "") if any((kind, attrs.name) in references(p) for p in
                                     self._pods_on(node, attrs.namespace)) else (None,
                                                                                 no_relation)
        if attrs.resource == "serviceaccounts" and attrs.subresource == "token":
            if attrs.verb == "create" and any(
                    (p.get("spec") or {}).get("serviceAccountName") == attrs.name
                    for p in self._pods_on(node, attrs.namespace)):
                return True, ""
            return None, no_relation
        if attrs.api_group == "coordination.k8s.io" and attrs.resource == "leases":
            if attrs.verb not in _LEASE_VERBS:
                return None, "can only get, create, update, patch, or delete a node lease"
            if attrs.namespace != LEASE_NAMESPACE or (attrs.name and attrs.name != node):
                return None, ("can only access node lease with the same name as the "
                              "requesting node")
            return True, ""
        return (True, "") if any_allows(_RULES, attrs) else (None, "")

    @staticmethod
    def graph_dependent(attrs: Attributes) -> bool:
        """Decisions that change with the pods (never cached)."""
        return ((attrs.api_group, attrs.resource) in GRAPH_RESOURCES
                or attrs.subresource == "token")
