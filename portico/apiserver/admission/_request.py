"""The request an admission step sees, and which policies and bindings match it.

`AdmissionRequest` carries what kube's `admission.Attributes` does (operation,
resource, kind, names, objects, user); `request_variable` renders it as the
`request` variable of CEL (an `AdmissionRequest` of admission/v1).

`matches(match_resources, request, namespace_labels)` is kube's `generic`
matcher for a `MatchResources` (`spec.matchConstraints` of a policy,
`spec.matchResources` of a binding): resourceRules (operations, apiGroups,
apiVersions, resources with `*`, `*/*`, `x/*`, `*/status` forms, scope,
resourceNames), excludeResourceRules, namespaceSelector and objectSelector.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portico.model.selectors import label_selector_matches
from portico.model.vocabulary import ScopeType

Object = dict[str, Any]


@dataclass(frozen=True)
class AdmissionRequest:
    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    group: str
    version: str
    resource: str  # plural
    kind: str
    namespace: str
    name: str
    object: Object | None
    old_object: Object | None
    subresource: str = ""
    user: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)
    dry_run: bool = False

    @property
    def resource_path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_variable(request: AdmissionRequest) -> Object:
    kind = {"group": request.group, "version": request.version, "kind": request.kind}
    resource = {"group": request.group, "version": request.version,
                "resource": request.resource}
    return {
        "kind": kind, "resource": resource, "subResource": request.subresource,
        "requestKind": kind, "requestResource": resource,
        "requestSubResource": request.subresource, "name": request.name,
        "namespace": request.namespace, "operation": request.operation,
        "userInfo": {"username": request.user, "groups": list(request.groups)},
        "dryRun": request.dry_run,
    }


def _listed(values: Any, wanted: str) -> bool:
    values = values or []
    return "*" in values or wanted in values


def _resource_listed(resources: Any, request: AdmissionRequest) -> bool:
    for pattern in resources or []:
        if pattern == "*/*" or pattern == request.resource_path:
            return True
        main, _, sub = pattern.partition("/")
        if pattern == "*" and not request.subresource:
            return True
        if sub and (main in ("*", request.resource)) and sub in ("*", request.subresource) and (
                request.subresource):
            return True
    return False


def rule_matches(rule: Mapping[str, Any], request: AdmissionRequest) -> bool:
    """One `NamedRuleWithOperations`."""
    if not _listed(rule.get("operations"), request.operation):
        return False
    if not _listed(rule.get("apiGroups"), request.group):
        return False
    if not _listed(rule.get("apiVersions"), request.version):
        return False
    if not _resource_listed(rule.get("resources"), request):
        return False
    scope = rule.get("scope") or ScopeType.ALL
    if (scope == ScopeType.CLUSTER and request.namespace
            or scope == ScopeType.NAMESPACED and not request.namespace):
        return False
    names = rule.get("resourceNames") or []
    return not names or request.name in names


def _labels(obj: Object | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _object_selected(selector: Any, request: AdmissionRequest) -> bool:
    if not selector:
        return True
    candidates = [o for o in (request.object, request.old_object) if o is not None]
    return any(label_selector_matches(selector, _labels(o)) for o in candidates)


def matches(match: Mapping[str, Any] | None, request: AdmissionRequest,
            namespace_labels: Callable[[str], dict[str, str]]) -> bool:
    """Whether a `MatchResources` selects this request (None matches everything)."""
    if match is None:
        return True
    if not any(rule_matches(r, request) for r in match.get("resourceRules") or []):
        return False
    if any(rule_matches(r, request) for r in match.get("excludeResourceRules") or []):
        return False
    if not _object_selected(match.get("objectSelector"), request):
        return False
    selector = match.get("namespaceSelector")
    if not selector:
        return True
    if request.kind == "Namespace" and not request.group:
        return label_selector_matches(selector, _labels(request.object or request.old_object))
    if not request.namespace:
        return True
    return label_selector_matches(selector, namespace_labels(request.namespace))
