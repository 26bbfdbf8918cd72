"""StatefulSets (apps/v1): defaults, validation, the one-field-set-of-updates rule, table.

Defaults are `SetDefaults_StatefulSet`: replicas 1, podManagementPolicy
OrderedReady, updateStrategy RollingUpdate with partition 0, revisionHistoryLimit 10,
persistentVolumeClaimRetentionPolicy Retain/Retain, plus the pod template defaults
and each volumeClaimTemplate's `volumeMode: Filesystem`.

Validation is `ValidateStatefulSetSpec` (selector and template shared with the other
apps kinds, restartPolicy Always) and, on update, `ValidateStatefulSetUpdate`: only
replicas, ordinals, template, updateStrategy, revisionHistoryLimit,
persistentVolumeClaimRetentionPolicy and minReadySeconds may change; anything else
is one `spec: Forbidden` error worded as kube-apiserver's. READY is
`readyReplicas/spec.replicas`.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any, ClassVar

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import is_dns1123_label, validate_nonnegative
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._pod_template import (
    default_pod_template,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._workload import (
    SCALE,
    default_rolling_update,
    validate_selector_and_template,
    wide_cells,
    wide_columns,
)

POD_MANAGEMENT_POLICIES = ("OrderedReady", "Parallel")
UPDATE_STRATEGIES = ("RollingUpdate", "OnDelete")
RETENTION_POLICIES = ("Retain", "Delete")
UPDATABLE_FIELDS = (
    "replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
)
UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)


class StatefulSetStrategy(OwnedStatusStrategy):
    INITIAL_STATUS: ClassVar[dict[str, Any]] = {"replicas": 0, "availableReplicas": 0}

    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        default_rolling_update(spec, "updateStrategy", partition=0)
        spec.setdefault("revisionHistoryLimit", 10)
        retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        retention.setdefault("whenDeleted", "Retain")
        retention.setdefault("whenScaled", "Retain")
        for claim in spec.get("volumeClaimTemplates") or []:
            if isinstance(claim, dict):
                claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        default_pod_template(spec.get("template"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_statefulset_spec(obj.get("spec") or {})

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs = validate_statefulset_spec(new.get("spec") or {})
        if _frozen(new) != _frozen(old):
            errs.append(forbidden("spec", UPDATE_FORBIDDEN))
        return errs


def _frozen(obj: _base.Object) -> _base.Object:
    """The spec without the fields an update may change."""
    spec = copy.deepcopy(obj.get("spec") or {})
    for key in UPDATABLE_FIELDS:
        spec.pop(key, None)
    return spec


def _validate_update_strategy(strategy: _base.Object) -> list[FieldError]:
    kind = strategy.get("type") or ""
    if kind not in UPDATE_STRATEGIES:
        if not kind:
            return [required("spec.updateStrategy", "")]
        return [not_supported("spec.updateStrategy", kind, UPDATE_STRATEGIES)]
    rolling = strategy.get("rollingUpdate")
    if kind == "OnDelete" and rolling is not None:
        return [invalid("spec.updateStrategy.rollingUpdate", rolling,
                        "only allowed for updateStrategy 'RollingUpdate'")]
    if isinstance(rolling, dict):
        return validate_nonnegative(rolling.get("partition"),
                                    "spec.updateStrategy.rollingUpdate.partition")
    return []


def _validate_retention(policy: _base.Object) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("whenDeleted", "whenScaled"):
        value = policy.get(key)
        if value not in RETENTION_POLICIES:
            errs.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                                      value, RETENTION_POLICIES))
    return errs


def validate_statefulset_spec(spec: _base.Object) -> list[FieldError]:
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy") or ""
    if policy not in POD_MANAGEMENT_POLICIES:
        errs.append(not_supported("spec.podManagementPolicy", policy, POD_MANAGEMENT_POLICIES))
    errs.extend(_validate_update_strategy(spec.get("updateStrategy") or {}))
    errs.extend(_validate_retention(spec.get("persistentVolumeClaimRetentionPolicy") or {}))
    errs.extend(validate_nonnegative(spec.get("replicas"), "spec.replicas"))
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    service = spec.get("serviceName") or ""
    if service:
        errs.extend(invalid("spec.serviceName", service, m) for m in is_dns1123_label(service))
    ordinals = spec.get("ordinals") or {}
    errs.extend(validate_nonnegative(ordinals.get("start"), "spec.ordinals.start"))
    errs.extend(validate_selector_and_template(_as_pods_see_it(spec), "statefulset"))
    return errs


def _as_pods_see_it(spec: _base.Object) -> _base.Object:
    """`spec` with one persistentVolumeClaim volume per `volumeClaimTemplates` entry in
    its template, as the controller gives its pods, so mounts of claims validate."""
    claims = spec.get("volumeClaimTemplates") or []
    template = spec.get("template")
    if not claims or not isinstance(template, dict):
        return spec
    pod_spec = dict(template.get("spec") or {})
    pod_spec["volumes"] = [*(pod_spec.get("volumes") or []), *(
        {"name": _base.nested(c, "metadata", "name", default=""), "persistentVolumeClaim": {
            "claimName": _base.nested(c, "metadata", "name", default="")}} for c in claims)]
    return {**spec, "template": {**template, "spec": pod_spec}}


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    ready = int(_base.nested(obj, "status", "readyReplicas", default=0) or 0)
    return [
        name(obj),
        f"{ready}/{int(spec.get('replicas') or 0)}",
        age(obj, now),
        *wide_cells(spec, selector=False),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Ready", description="Number of the pod with ready state"),
    _base.AGE_COLUMN,
    *wide_columns(None),
)

STATEFULSETS = _base.ResourceType(
    group="apps", version="v1", kind="StatefulSet", plural="statefulsets",
    singular="statefulset", namespaced=True, strategy=StatefulSetStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("sts",), categories=("all",),
    subresources=(_base.Subresource("status"), SCALE), generation=True,
)
