"""CustomResourceDefinition validation, as apiextensions-apiserver's `validation.go`.

Pure functions over the CRD's JSON. Schemas are checked by the schema engine
(`structural_errors`: structural rules and keywords) and the CEL compiler
(`compile_rules`: compile and cost errors); this module checks the rest: the
name, group and names, versions and their storage flag, printer columns,
selectable fields, subresources, conversion, the protected-group annotation,
and on update the immutable fields and `status.storedVersions`.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.apiextensions._jsonpath import compile_path
from portico.apiserver.apiextensions._rules import compiled
from portico.apiserver.errors import (
    FieldError,
    forbidden,
    invalid,
    not_supported,
    required,
    too_many,
)
from portico.apiserver.resources._base import Object
from portico.apiserver.resources._meta import is_dns1035_label, is_dns1123_subdomain
from portico.model.vocabulary import (
    ConditionStatus,
    ConversionStrategy,
    CRDConditionType,
    ResourceScope,
)

APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
MAX_SELECTABLE_FIELDS = 8


def protected(group: str) -> bool:
    return any(group == g or group.endswith("." + g) for g in ("k8s.io", "kubernetes.io"))


def _versions_dump(versions: list[Any]) -> str:
    """A short Go-style dump of the versions list for the storage-count message."""
    inner = ", ".join(
        f'apiextensions.CustomResourceDefinitionVersion{{Name:"{v.get("name", "")}", '
        f'Served:{str(bool(v.get("served"))).lower()}, '
        f'Storage:{str(bool(v.get("storage"))).lower()}}}'
        for v in versions if isinstance(v, dict))
    return f"[]apiextensions.CustomResourceDefinitionVersion{{{inner}}}"


class _Raw:
    """A value printed as is (a Go dump, not a quoted string) in a field error."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def _label(value: Any, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_dns1035_label(str(value))]


def validate_names(names: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        value = names.get(key, "")
        if not value and key == "plural":
            errs.append(required(f"{path}.{key}", ""))
        elif value:
            errs += _label(value, f"{path}.{key}")
    kind, list_kind = names.get("kind", ""), names.get("listKind", "")
    if not kind:
        errs.append(required(f"{path}.kind", ""))
    else:
        errs += [invalid(f"{path}.kind", kind, m) for m in is_dns1035_label(kind.lower())]
    if not list_kind:
        errs.append(required(f"{path}.listKind", ""))
    elif list_kind == kind:
        errs.append(invalid(f"{path}.listKind", list_kind, "kind and listKind may not be the same"))
    for i, short in enumerate(names.get("shortNames") or []):
        errs += _label(short, f"{path}.shortNames[{i}]")
    for i, category in enumerate(names.get("categories") or []):
        errs += _label(category, f"{path}.categories[{i}]")
    return errs


def _columns(version: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, col in enumerate(version.get("additionalPrinterColumns") or []):
        at = f"{path}.additionalPrinterColumns[{i}]"
        if not col.get("name"):
            errs.append(required(f"{at}.name", ""))
        if col.get("type") not in COLUMN_TYPES:
            errs.append(not_supported(f"{at}.type", col.get("type", ""), COLUMN_TYPES))
        errs += _json_path(col.get("jsonPath", ""), f"{at}.jsonPath")
    fields = version.get("selectableFields") or []
    if len(fields) > MAX_SELECTABLE_FIELDS:
        errs.append(too_many(f"{path}.selectableFields", len(fields), MAX_SELECTABLE_FIELDS))
    for i, entry in enumerate(fields):
        errs += _json_path(entry.get("jsonPath", ""), f"{path}.selectableFields[{i}].jsonPath")
    return errs


def _json_path(text: str, path: str) -> list[FieldError]:
    if not text:
        return [required(path, "")]
    try:
        compile_path(text)
    except SyntaxError:
        return [invalid(path, text, "must be a simple json path")]
    return []


def _scale(version: dict[str, Any], path: str) -> list[FieldError]:
    scale = (version.get("subresources") or {}).get("scale")
    if scale is None:
        return []
    at = f"{path}.subresources.scale"
    return [*_replicas_path(scale, at, "specReplicasPath", "spec"),
            *_replicas_path(scale, at, "statusReplicasPath", "status")]


def _replicas_path(scale: dict[str, Any], path: str, field: str,
                   under: str) -> list[FieldError]:
    """The scale subresource's `field` (`specReplicasPath` or `statusReplicasPath`): a
    required json path under `.spec` or `.status` (`under`)."""
    value = scale.get(field, "")
    if not value:
        return [required(f"{path}.{field}", "")]
    if not value.startswith(f".{under}."):
        return [invalid(f"{path}.{field}", value, f"should be a json path under .{under}")]
    return []


def _version(version: dict[str, Any], i: int, seen: set[str]) -> list[FieldError]:
    from portico.apiserver.apiextensions.schema import (  # noqa: PLC0415 (first use: kept off start-up)
        structural_errors,
    )

    path = f"spec.versions[{i}]"
    name = version.get("name", "")
    errs = _label(name, f"{path}.name") if name else [required(f"{path}.name", "")]
    if name in seen:
        errs.append(invalid(f"{path}.name", name, "must appear only once"))
    seen.add(name)
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    schema_path = f"{path}.schema.openAPIV3Schema"
    if not schema:
        errs.append(required(schema_path, "schemas are required"))
    else:
        status = "status" in (version.get("subresources") or {})
        errs += structural_errors(schema, schema_path, status_subresource=status)
        errs += compiled(schema, schema_path)[1]
    return errs + _columns(version, path) + _scale(version, path)


def validate_crd(crd: Object) -> list[FieldError]:
    """`ValidateCustomResourceDefinition` (create)."""
    spec = crd.get("spec") or {}
    meta = crd.get("metadata") or {}
    group, names = spec.get("group", ""), spec.get("names") or {}
    errs: list[FieldError] = []
    expected = f"{names.get('plural', '')}.{group}"
    if meta.get("name") != expected:
        errs.append(invalid("metadata.name", meta.get("name", ""),
                            'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(required("spec.group", ""))
    elif "." not in group:
        errs.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    else:
        errs += [invalid("spec.group", group, m) for m in is_dns1123_subdomain(group)]
    scope = spec.get("scope", "")
    if not scope:
        errs.append(required("spec.scope", ""))
    elif scope not in (ResourceScope.CLUSTER, ResourceScope.NAMESPACED):
        errs.append(not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    errs += validate_names(names, "spec.names")
    errs += _validate_versions(spec.get("versions") or [])
    errs += _conversion(spec.get("conversion") or {})
    if spec.get("preserveUnknownFields"):
        errs.append(invalid("spec.preserveUnknownFields", True,
                            "cannot set to true, set x-kubernetes-preserve-unknown-fields to "
                            "true in spec.versions[*].schema instead"))
    if protected(group) and not (meta.get("annotations") or {}).get(APPROVAL_ANNOTATION):
        errs.append(required(
            f"metadata.annotations[{APPROVAL_ANNOTATION}]",
            f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", see '
            "https://github.com/kubernetes/enhancements/pull/1111"))
    return errs


def _conversion(conversion: dict[str, Any]) -> list[FieldError]:
    """The conversion strategy; a webhook's review versions must include v1 or v1beta1."""
    strategy = conversion.get("strategy", ConversionStrategy.NONE.value)
    webhook = conversion.get("webhook")
    if strategy not in (ConversionStrategy.NONE, ConversionStrategy.WEBHOOK):
        return [not_supported("spec.conversion.strategy", strategy, ("None", "Webhook"))]
    if strategy == ConversionStrategy.NONE:
        return [] if webhook is None else [forbidden(
            "spec.conversion.webhook", "should not be set when strategy is not set to Webhook")]
    if webhook is None:
        return [required("spec.conversion.webhook", "required when strategy is set to Webhook")]
    reviews = webhook.get("conversionReviewVersions") or []
    if not set(reviews) & {"v1", "v1beta1"}:
        return [required("spec.conversion.webhook.conversionReviewVersions",
                         "must include at least one of v1, v1beta1")]
    return []


def _validate_versions(versions: list[Any]) -> list[FieldError]:
    if not versions:
        return [required("spec.versions", "must have exactly one version marked as storage "
                                          "version")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        errs += _version(version, i, seen)
    if sum(1 for v in versions if v.get("storage")) != 1:
        errs.append(invalid("spec.versions", _Raw(_versions_dump(versions)),
                            "must have exactly one version marked as storage version"))
    if not any(v.get("served") for v in versions):
        errs.append(invalid("spec.versions", _Raw(_versions_dump(versions)),
                            "must have at least one version marked as served"))
    return errs


def _established(crd: Object) -> bool:
    for cond in (crd.get("status") or {}).get("conditions") or []:
        if (cond.get("type") == CRDConditionType.ESTABLISHED
                and cond.get("status") == ConditionStatus.TRUE):
            return True
    return False


def validate_crd_update(new: Object, old: Object) -> list[FieldError]:
    """`ValidateCustomResourceDefinitionUpdate`: create rules plus immutability."""
    errs = validate_crd(new)
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    immutable = [("spec.group", ("group",)), ("spec.names.plural", ("names", "plural"))]
    if _established(old):
        immutable += [("spec.scope", ("scope",)), ("spec.names.kind", ("names", "kind"))]
    for path, steps in immutable:
        value, before = _get(spec, steps), _get(old_spec, steps)
        if value != before:
            errs.append(invalid(path, value, "field is immutable"))
    return errs + validate_stored_versions(new)


def validate_stored_versions(crd: Object) -> list[FieldError]:
    names = {v.get("name") for v in (crd.get("spec") or {}).get("versions") or []}
    errs: list[FieldError] = []
    for i, stored in enumerate((crd.get("status") or {}).get("storedVersions") or []):
        if stored not in names:
            errs.append(invalid(
                f"status.storedVersions[{i}]", stored,
                f"missing from spec.versions; {stored} was previously a storage version, and "
                "must remain in spec.versions until a storage migration ensures no data "
                f"remains persisted in {stored} and it is removed from status.storedVersions"))
    return errs


def _get(obj: Any, steps: tuple[str, ...]) -> Any:
    for step in steps:
        obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


__all__ = ["validate_crd", "validate_crd_update", "validate_names",
           "validate_stored_versions"]
