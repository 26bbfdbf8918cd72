"""Go type names as they appear in kube-apiserver's JSON decode errors.

`encoding/json` reports a type mismatch as `... of type <reflect.Type.String()>`:
`int32`, `string`, `v1.ServicePort`, `[]v1.ServicePort`, `map[string]string`,
`[]uint8` for `[]byte`. The JSON schemas do not carry Go names, so this module
rebuilds them: a struct's name is the last two parts of its definition name
(`io.k8s.api.core.v1.ServicePort` -> `v1.ServicePort`), primitives come from
`type`/`format`, and the named string types (`v1.ServiceType`, `v1.Protocol`, ...)
of the kinds Portico serves come from a small table.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.schema import Definitions

Schema = dict[str, Any]

_CORE = "io.k8s.api.core.v1."
_APPS = "io.k8s.api.apps.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."

# (definition name, property) -> Go name of the scalar (or list element) type.
NAMED_STRINGS: dict[tuple[str, str], str] = {
    (_CORE + "ServiceSpec", "type"): "v1.ServiceType",
    (_CORE + "ServiceSpec", "sessionAffinity"): "v1.ServiceAffinity",
    (_CORE + "ServiceSpec", "externalTrafficPolicy"): "v1.ServiceExternalTrafficPolicy",
    (_CORE + "ServiceSpec", "internalTrafficPolicy"): "v1.ServiceInternalTrafficPolicy",
    (_CORE + "ServiceSpec", "ipFamilies"): "v1.IPFamily",
    (_CORE + "ServiceSpec", "ipFamilyPolicy"): "v1.IPFamilyPolicy",
    (_CORE + "ServicePort", "protocol"): "v1.Protocol",
    (_CORE + "ContainerPort", "protocol"): "v1.Protocol",
    (_CORE + "EndpointPort", "protocol"): "v1.Protocol",
    (_CORE + "PortStatus", "protocol"): "v1.Protocol",
    ("io.k8s.api.discovery.v1.EndpointPort", "protocol"): "v1.Protocol",
    ("io.k8s.api.discovery.v1.EndpointSlice", "addressType"): "v1.AddressType",
    ("io.k8s.api.networking.v1.HTTPIngressPath", "pathType"): "v1.PathType",
    (_CORE + "LoadBalancerIngress", "ipMode"): "v1.LoadBalancerIPMode",
    (_CORE + "Container", "imagePullPolicy"): "v1.PullPolicy",
    (_CORE + "Container", "terminationMessagePolicy"): "v1.TerminationMessagePolicy",
    (_CORE + "PodSpec", "restartPolicy"): "v1.RestartPolicy",
    (_CORE + "PodSpec", "dnsPolicy"): "v1.DNSPolicy",
    (_CORE + "PodSpec", "preemptionPolicy"): "v1.PreemptionPolicy",
    (_CORE + "PodStatus", "phase"): "v1.PodPhase",
    (_CORE + "PodStatus", "qosClass"): "v1.PodQOSClass",
    (_CORE + "PodCondition", "type"): "v1.PodConditionType",
    (_CORE + "PodCondition", "status"): "v1.ConditionStatus",
    (_CORE + "NamespaceSpec", "finalizers"): "v1.FinalizerName",
    (_CORE + "NamespaceStatus", "phase"): "v1.NamespacePhase",
    (_CORE + "NodeCondition", "type"): "v1.NodeConditionType",
    (_CORE + "NodeCondition", "status"): "v1.ConditionStatus",
    (_CORE + "NodeAddress", "type"): "v1.NodeAddressType",
    (_APPS + "DeploymentStrategy", "type"): "v1.DeploymentStrategyType",
    (_APPS + "DeploymentCondition", "type"): "v1.DeploymentConditionType",
    (_APPS + "DeploymentCondition", "status"): "v1.ConditionStatus",
    (_META + "ObjectMeta", "uid"): "types.UID",
    (_META + "OwnerReference", "uid"): "types.UID",
    (_META + "Condition", "status"): "v1.ConditionStatus",
}

_INTEGERS = {"int32": "int32", "int64": "int64"}


def struct_name(definition: str) -> str:
    """`io.k8s.api.core.v1.ServicePort` -> `ServicePort` (what `reflect.Type.Name()` gives)."""
    return definition.rsplit(".", 1)[-1]


def qualified_name(definition: str) -> str:
    """`io.k8s.api.core.v1.ServicePort` -> `v1.ServicePort` (`reflect.Type.String()`)."""
    parts = definition.split(".")
    return ".".join(parts[-2:])


def go_type(defs: Definitions, field: Schema | None, named: str = "") -> str:
    """The Go type a decode error names for a field with schema `field` (before resolve).

    `named` overrides the scalar/element type with a named string type.
    """
    ref = defs.ref_name(field)
    schema = defs.resolve(field)
    if schema is None:
        return "interface {}"
    if ref and "properties" in schema:
        return qualified_name(ref)
    kinds = Definitions.types(schema)
    if "array" in kinds:
        return "[]" + go_type(defs, schema.get("items"), named)
    if "object" in kinds:
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return "map[string]" + go_type(defs, extra, named)
        return qualified_name(ref) if ref else "map[string]interface {}"
    if named:
        return named
    if "integer" in kinds:
        return _INTEGERS.get(schema.get("format", ""), "int64")
    if "number" in kinds:
        return "float64"
    if "boolean" in kinds:
        return "bool"
    if "string" in kinds:
        return "[]uint8" if schema.get("format") == "byte" else "string"
    return qualified_name(ref) if ref else "interface {}"
