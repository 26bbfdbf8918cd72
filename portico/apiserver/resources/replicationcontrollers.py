"""ReplicationControllers (v1): selector defaulting, equality-based selector, table.

`SetDefaults_ReplicationController`: an empty `spec.selector` becomes the template's
labels, empty object labels become them too, and replicas defaults to 1. The selector
is a plain label map (equality only) that may change, unlike the apps kinds'.
Validation is `ValidateReplicationControllerSpec`: a non-empty selector that matches
the template's labels, restartPolicy Always, non-negative replicas and
minReadySeconds. The columns are the ReplicaSet's, with a `k=v,...` selector.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import go_string_map, validate_nonnegative
from portico.apiserver.resources._pod_template import (
    default_pod_template,
    validate_pod_template,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._workload import SCALE, wide_cells
from portico.apiserver.resources.replicasets import (
    COLUMNS,
    ReplicaSetStrategy,
    replica_counts,
)
from portico.model.vocabulary import RestartPolicy

SELECTOR_MISMATCH = "selector does not match template labels"


class ReplicationControllerStrategy(ReplicaSetStrategy):
    """The ReplicaSet's status handling; its own defaults and (mutable) selector rules."""

    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        labels = _base.nested(spec, "template", "metadata", "labels", default=None)
        if labels:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            meta = obj.setdefault("metadata", {})
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        spec.setdefault("replicas", 1)
        default_pod_template(spec.get("template"))

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_rc_spec(obj.get("spec") or {})

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return self.validate(new)


def validate_rc_spec(spec: _base.Object) -> list[FieldError]:
    errs = validate_nonnegative(spec.get("replicas"), "spec.replicas")
    errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
    selector = spec.get("selector") or {}
    if not selector:
        errs.append(required("spec.selector", ""))
    template = spec.get("template")
    if not isinstance(template, dict):
        return [*errs, required("spec.template", "")]
    labels = _base.nested(template, "metadata", "labels", default=None) or {}
    if selector and not selector.items() <= labels.items():
        errs.append(invalid("spec.template.metadata.labels", go_string_map(labels),
                            SELECTOR_MISMATCH))
    errs.extend(validate_pod_template(template, "spec.template"))
    restart = _base.nested(template, "spec", "restartPolicy", default="")
    if restart and restart != RestartPolicy.ALWAYS:
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector") or {}
    return [
        name(obj), *replica_counts(obj), age(obj, now), *wide_cells(spec, selector=False),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
    ]


REPLICATIONCONTROLLERS = _base.ResourceType(
    group="", version="v1", kind="ReplicationController", plural="replicationcontrollers",
    singular="replicationcontroller", namespaced=True,
    strategy=ReplicationControllerStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("rc",), categories=("all",), subresources=(_base.Subresource("status"), SCALE),
    generation=True,
)
