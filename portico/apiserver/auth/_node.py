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
The graph (`PodGraph`) is kept as kube-apiserver keeps its own, from the pods'
changes rather than by reading the pods at each decision: every commit's pod keys
are noted, and a changed pod is decoded once, when a decision next reads its
namespace; a decision then looks at the node's pods of that namespace only, so
its cost does not grow with the cluster. Decisions stay uncached (they change
with the pods), and a pod bound a moment ago counts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._rules import Rule, any_allows
from portico.apiserver.auth._user import NODE_PREFIX, NODES, UserInfo
from portico.apiserver.auth.policy import NODE_RULES
from portico.store import Event, EventType, KeyValue, SqliteStore

Object = dict[str, Any]
Decode = Callable[[KeyValue], Object]
PODS_PREFIX = "/registry/core/pods/"
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


@dataclass(frozen=True, slots=True)
class PodEdges:
    """What one pod gives its node: its service account and the objects it reads."""
    node: str
    service_account: str
    references: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, pod: Object) -> PodEdges:
        spec = pod.get("spec") or {}
        return cls(spec.get("nodeName") or "", spec.get("serviceAccountName") or "",
                   frozenset(references(pod)))


class PodGraph:
    """The pods' edges by namespace, kept from the store's commits (see the module)."""

    def __init__(self, store: SqliteStore, decode: Decode) -> None:
        self._decode = decode
        self._edges: dict[str, dict[str, PodEdges]] = {}  # namespace -> pod key -> edges
        self._changed: dict[str, dict[str, KeyValue | None]] = {}  # None: deleted
        store.hub.add_listener(self._on_commit)
        for kv in store.range(PODS_PREFIX):
            self._note(kv.key, kv)

    def _note(self, key: str, kv: KeyValue | None) -> None:
        namespace = key[len(PODS_PREFIX):].partition("/")[0]
        self._changed.setdefault(namespace, {})[key] = kv

    def _on_commit(self, events: list[Event]) -> None:
        for event in events:
            if event.kv.key.startswith(PODS_PREFIX):
                self._note(event.kv.key, event.kv if event.type is EventType.PUT else None)

    def pods_on(self, node: str, namespace: str) -> list[PodEdges]:
        """The edges of the pods bound to `node` in `namespace`."""
        edges = self._edges.setdefault(namespace, {})
        for key, kv in self._changed.pop(namespace, {}).items():
            if kv is None:
                edges.pop(key, None)
            else:
                edges[key] = PodEdges.of(self._decode(kv))
        if not edges:
            del self._edges[namespace]
        return [e for e in edges.values() if e.node == node]


class NodeAuthorizer:
    def __init__(self, graph: PodGraph) -> None:
        self.graph = graph

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
            return (True, "") if any((kind, attrs.name) in e.references for e in
                                     self.graph.pods_on(node, attrs.namespace)) else (
                None, no_relation)
        if attrs.resource == "serviceaccounts" and attrs.subresource == "token":
            if attrs.verb == "create" and any(
                    e.service_account == attrs.name
                    for e in self.graph.pods_on(node, attrs.namespace)):
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
