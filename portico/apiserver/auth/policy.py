"""The default ClusterRoles and ClusterRoleBindings kube-apiserver creates (bootstrappolicy).

`cluster-admin` for `system:masters`; `system:discovery`, `system:basic-user` and
`system:public-info-viewer` for every user; `admin`, `edit` and `view`, which
aggregate the `system:aggregate-to-*` roles (and anything labelled like them);
the components' roles. Portico's components map to upstream ones:
- the node agents (kubelet + kube-proxy, user `system:node:<node>` in
  `system:nodes`) get the Node authorizer (`_node.py`, with `NODE_RULES`),
  `system:node-proxier` bound to `system:nodes` (upstream binds it to kube-proxy)
  and `system:portico:node-network` (reads for NetworkPolicy, as a policy daemon);
- the controller manager (user `system:kube-controller-manager`) holds the union
  of the upstream `system:controller:*` roles of the controllers it runs and
  `system:kube-scheduler` (Portico runs no per-controller ServiceAccounts);
- the load balancer (user `system:cloud-controller-manager`) holds
  cloud-provider-azure's `system:cloud-controller-manager` role.
Every default object carries `kubernetes.io/bootstrapping: rbac-defaults` and
`rbac.authorization.kubernetes.io/autoupdate: "true"`; the API server puts missing
ones back at every start (auto-reconciliation) and leaves changed ones alone.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.auth._user import AUTHENTICATED, MASTERS, NODES, UNAUTHENTICATED

Object = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
AGGREGATE_LABEL = f"{RBAC}/aggregate-to-"
_READ = ("get", "list", "watch")
_WRITE = ("create", "delete", "deletecollection", "patch", "update")
_APPS = "apps"
_NET = "networking.k8s.io"
_DISCOVERY = "discovery.k8s.io"
_COORD = "coordination.k8s.io"
_EVENTS = "events.k8s.io"
_CLOUD = "cloud.portico.dev"


def rule(verbs: tuple[str, ...], groups: tuple[str, ...], resources: tuple[str, ...],
         names: tuple[str, ...] = ()) -> Object:
    out: Object = {"verbs": list(verbs), "apiGroups": list(groups),
                   "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


def urls(verbs: tuple[str, ...], paths: tuple[str, ...]) -> Object:
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


_EVENT_WRITES = (rule(("create", "patch", "update"), ("", _EVENTS), ("events",)),)
_VIEW_CORE = ("configmaps", "endpoints", "persistentvolumeclaims",
              "persistentvolumeclaims/status", "pods", "replicationcontrollers",
              "replicationcontrollers/scale", "serviceaccounts", "services", "services/status",
              "bindings", "events", "limitranges", "namespaces/status", "pods/log",
              "pods/status", "replicationcontrollers/status", "resourcequotas",
              "resourcequotas/status")
_WORKLOADS = ("daemonsets", "deployments", "deployments/scale", "replicasets",
              "replicasets/scale", "statefulsets", "statefulsets/scale")
_EDIT_CORE = ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
              "configmaps", "endpoints", "persistentvolumeclaims", "replicationcontrollers",
              "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
              "services/proxy")

AGGREGATE_TO_VIEW = [
    rule(_READ, ("",), _VIEW_CORE),
    rule(_READ, ("",), ("namespaces",)),
    rule(_READ, (_APPS,), (*_WORKLOADS, "controllerrevisions", "daemonsets/status",
                           "deployments/status", "replicasets/status", "statefulsets/status")),
    rule(_READ, ("autoscaling",), ("horizontalpodautoscalers",
                                   "horizontalpodautoscalers/status")),
    rule(_READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
    rule(_READ, (_NET,), ("ingresses", "ingresses/status", "networkpolicies")),
    rule(_READ, (_DISCOVERY,), ("endpointslices",)),
    rule(_READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
]
AGGREGATE_TO_EDIT = [
    rule(("impersonate",), ("",), ("serviceaccounts",)),
    rule(_WRITE, ("",), _EDIT_CORE),
    rule(("create",), ("",), ("serviceaccounts/token",)),
    rule(_WRITE, (_APPS,), _WORKLOADS),
    rule(_WRITE, ("autoscaling",), ("horizontalpodautoscalers",)),
    rule(_WRITE, ("batch",), ("cronjobs", "jobs")),
    rule(_WRITE, (_NET,), ("ingresses", "networkpolicies")),
    rule(_WRITE, (_DISCOVERY,), ("endpointslices",)),
    rule(_WRITE, ("policy",), ("poddisruptionbudgets",)),
]
AGGREGATE_TO_ADMIN = [
    rule(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",)),
    rule((*_WRITE, *_READ), (RBAC,), ("rolebindings", "roles")),
]

NODE_PROXIER = [
    rule(("list", "watch"), ("",), ("endpoints", "services")),
    rule(_READ, ("",), ("nodes",)),
    *_EVENT_WRITES,
    rule(("list", "watch"), (_DISCOVERY,), ("endpointslices",)),
]
# what a node may do beyond its graph of pods (`bootstrappolicy.NodeRules`)
NODE_RULES = [
    rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
    rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",
                                                  "localsubjectaccessreviews")),
    rule(("create", "get", "list", "watch"), ("",), ("nodes",)),
    rule(("update", "patch"), ("",), ("nodes/status",)),
    rule(("update", "patch", "delete"), ("",), ("nodes",)),
    *_EVENT_WRITES,
    rule(_READ, ("",), ("services",)),
    rule(("get", "list", "watch", "create", "delete"), ("",), ("pods",)),
    rule(("update", "patch"), ("",), ("pods/status",)),
    rule(("create",), ("",), ("pods/eviction",)),
    rule(("get",), ("",), ("persistentvolumeclaims", "persistentvolumes")),
    rule(("update", "patch"), ("",), ("persistentvolumeclaims/status",)),
    rule(("get", "list", "watch"), ("node.k8s.io",), ("runtimeclasses",)),
    # Portico's agents also read a pod's ServiceAccount for its image pull secrets and
    # write the metrics.k8s.io objects (what metrics-server serves from kubelet's)
    rule(("get",), ("",), ("serviceaccounts",)),
    rule(("get", "create", "update", "patch"), ("metrics.k8s.io",), ("nodes", "pods")),
]
CONTROLLER_MANAGER = [
    *_EVENT_WRITES,
    rule(("get", "list", "watch", "patch", "update", "delete", "deletecollection"),
         ("*",), ("*",)),
    rule(("create",), ("",), ("pods", "endpoints", "serviceaccounts", "configmaps",
                              "pods/binding", "bindings", "pods/eviction",
                              "persistentvolumeclaims", "persistentvolumes")),
    rule(("create",), (_APPS,), ("replicasets", "controllerrevisions")),
    rule(("create",), ("batch",), ("jobs",)),
    rule(("create",), (_DISCOVERY,), ("endpointslices",)),
    rule(("create",), (_COORD,), ("leases",)),
    rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
    rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",)),
    rule(("escalate",), (RBAC,), ("clusterroles",)),
]
CLOUD_CONTROLLER_MANAGER = [
    *_EVENT_WRITES,
    rule(("*",), ("",), ("nodes",)),
    rule(("patch",), ("",), ("nodes/status",)),
    rule(("list", "patch", "update", "watch", "get"), ("",), ("services",)),
    rule(("patch", "update"), ("",), ("services/status",)),
    rule(("create", "get", "list", "watch", "update"), ("",), ("serviceaccounts",)),
    rule(("create", "get", "list", "watch", "update"), ("",), ("endpoints",)),
    rule(("get", "list", "watch"), ("",), ("secrets",)),
    rule(("get", "create", "update"), (_COORD,), ("leases",)),
    rule(("*",), (_CLOUD,), ("loadbalancers", "loadbalancers/status")),
]
# what a node agent reads to enforce NetworkPolicy, as a network-policy daemon's
# role does (Azure NPM's, Calico's): pods, namespaces and the policies
NODE_NETWORK = [
    rule(("get", "list", "watch"), ("",), ("pods", "namespaces")),
    rule(("get", "list", "watch"), (_NET,), ("networkpolicies",)),
]
KUBE_DNS = [
    rule(("list", "watch"), ("",), ("endpoints", "services", "pods", "namespaces")),
    rule(("list", "watch"), (_DISCOVERY,), ("endpointslices",)),
]


def _meta(name: str, labels: dict[str, str] | None = None) -> Object:
    return {"name": name, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults",
                                     **(labels or {})},
            "annotations": {f"{RBAC}/autoupdate": "true"}}


def cluster_role(name: str, rules: list[Object], labels: dict[str, str] | None = None,
                 aggregate_from: tuple[str, ...] = ()) -> Object:
    role: Object = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                    "metadata": _meta(name, labels), "rules": rules}
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"{AGGREGATE_LABEL}{a}": "true"}} for a in aggregate_from]}
        role["rules"] = []
    return role


def _binding(name: str, role: str, subjects: list[Object]) -> Object:
    return {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding",
            "metadata": _meta(name),
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def _group(name: str) -> Object:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def _user(name: str) -> Object:
    return {"apiGroup": RBAC, "kind": "User", "name": name}


def _agg(to: str) -> dict[str, str]:
    return {f"{AGGREGATE_LABEL}{to}": "true"}


def cluster_roles() -> list[Object]:
    discovery = ("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                 "/openapi/*", "/readyz", "/version", "/version/")
    return [
        cluster_role("cluster-admin", [rule(("*",), ("*",), ("*",)), urls(("*",), ("*",))]),
        cluster_role("admin", [], aggregate_from=("admin",)),
        cluster_role("edit", [], _agg("admin"), aggregate_from=("edit",)),
        cluster_role("view", [], _agg("edit"), aggregate_from=("view",)),
        cluster_role("system:aggregate-to-admin", AGGREGATE_TO_ADMIN, _agg("admin")),
        cluster_role("system:aggregate-to-edit", AGGREGATE_TO_EDIT, _agg("edit")),
        cluster_role("system:aggregate-to-view", AGGREGATE_TO_VIEW, _agg("view")),
        cluster_role("system:discovery", [urls(("get",), discovery)]),
        cluster_role("system:basic-user", [
            rule(("create",), ("authorization.k8s.io",),
                 ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
            rule(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",))]),
        cluster_role("system:public-info-viewer", [urls(("get",), (
            "/healthz", "/livez", "/readyz", "/version", "/version/"))]),
        cluster_role("system:service-account-issuer-discovery", [urls(("get",), (
            "/.well-known/openid-configuration", "/.well-known/openid-configuration/",
            "/openid/v1/jwks", "/openid/v1/jwks/"))]),
        cluster_role("system:auth-delegator", [
            rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
            rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",))]),
        cluster_role("system:node", NODE_RULES),
        cluster_role("system:node-proxier", NODE_PROXIER),
        cluster_role("system:portico:node-network", NODE_NETWORK),
        cluster_role("system:kube-controller-manager", CONTROLLER_MANAGER),
        cluster_role("system:cloud-controller-manager", CLOUD_CONTROLLER_MANAGER),
        cluster_role("system:kube-dns", KUBE_DNS),
    ]


def cluster_role_bindings() -> list[Object]:
    return [
        _binding("cluster-admin", "cluster-admin", [_group(MASTERS)]),
        _binding("system:discovery", "system:discovery", [_group(AUTHENTICATED)]),
        _binding("system:basic-user", "system:basic-user", [_group(AUTHENTICATED)]),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 [_group(AUTHENTICATED), _group(UNAUTHENTICATED)]),
        _binding("system:service-account-issuer-discovery",
                 "system:service-account-issuer-discovery",
                 [_group("system:serviceaccounts")]),
        _binding("system:node-proxier", "system:node-proxier",
                 [_user("system:kube-proxy"), _group(NODES)]),
        _binding("system:portico:node-network", "system:portico:node-network",
                 [_group(NODES)]),
        _binding("system:kube-controller-manager", "system:kube-controller-manager",
                 [_user("system:kube-controller-manager")]),
        _binding("system:cloud-controller-manager", "system:cloud-controller-manager",
                 [_user("system:cloud-controller-manager")]),
        _binding("system:kube-dns", "system:kube-dns",
                 [{"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"}]),
    ]
