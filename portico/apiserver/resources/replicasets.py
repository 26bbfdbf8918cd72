"""ReplicaSets (apps/v1): defaults, selector/template validation, table.

`validate_selector_and_template` is shared with Deployments: it is apps validation's
selector checks followed by `ValidatePodTemplateSpecForReplicaSet` (the selector must
match the template labels, `restartPolicy` must be `Always`). Status is owned by the
server: cleared on create and carried over from the stored object on update; the
selector is immutable in apps/v1.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported, required
from portico.apiserver.resources._base import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    Object,
    ResourceType,
    Strategy,
    Subresource,
    Table,
    nested,
)
from portico.apiserver.resources._meta import (
    GoValue,
    go_string_map,
    validate_immutable,
    validate_nonnegative,
)
from portico.apiserver.resources._pod_template import (
    container_images,
    container_names,
    default_pod_template,
    validate_pod_template,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._selector import validate_label_selector
from portico.model.selectors import format_label_selector, label_selector_matches
from portico.model.vocabulary import RestartPolicy

SCALE = Subresource("scale", kind="Scale", group="autoscaling", version="v1")
SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def go_selector(selector: Object) -> GoValue:
    """`%#v` of a `*metav1.LabelSelector` (used for whole-selector errors)."""
    labels = selector.get("matchLabels")
    exprs = selector.get("matchExpressions")
    labels_text = go_string_map(labels).text if labels else "map[string]string(nil)"
    exprs_text = (
        "[]v1.LabelSelectorRequirement{...}" if exprs else "[]v1.LabelSelectorRequirement(nil)"
    )
    return GoValue(f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}")


def validate_selector_and_template(spec: Object, noun: str = "deployment",
                                   restart_policies: tuple[str, ...] = ("Always",),
                                   ) -> list[FieldError]:
    """Selector presence/validity, then the template against it (`spec.template`).

    Deployments and ReplicaSets say "for deployment" for an empty selector, as upstream
    does; StatefulSets and DaemonSets name themselves (`noun`). Jobs pass their own
    restart policies (OnFailure, Never).
    """
    errs: list[FieldError] = []
    selector = spec.get("selector")
    if selector is None:
        errs.append(required("spec.selector"))
    else:
        errs.extend(validate_label_selector(selector, "spec.selector"))
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errs.append(invalid(
                "spec.selector", go_selector(selector), f"empty selector is invalid for {noun}"
            ))
    template = spec.get("template")
    if not isinstance(template, dict):
        return [*errs, required("spec.template")]
    labels = nested(template, "metadata", "labels", default=None)
    selective = bool(selector) and bool(
        selector.get("matchLabels") or selector.get("matchExpressions")
    )
    if selective and not label_selector_matches(selector, labels):
        errs.append(
            invalid("spec.template.metadata.labels", go_string_map(labels), SELECTOR_MISMATCH)
        )
    errs.extend(validate_pod_template(template, "spec.template"))
    restart = nested(template, "spec", "restartPolicy", default="")
    if restart and restart not in restart_policies:
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, restart_policies))
    deadline = nested(template, "spec", "activeDeadlineSeconds")
    if restart_policies == (RestartPolicy.ALWAYS,) and deadline is not None:
        errs.append(_deadline_error(noun, deadline))
    return errs


def _deadline_error(noun: str, deadline: Any) -> FieldError:
    """ReplicaSets (and Deployments) say Invalid; StatefulSets and DaemonSets Forbidden."""
    path = "spec.template.spec.activeDeadlineSeconds"
    if noun in _FORBIDDEN_DEADLINE:
        return forbidden(path, f"activeDeadlineSeconds in {_FORBIDDEN_DEADLINE[noun]} is not "
                               "Supported")
    return invalid(path, deadline, "activeDeadlineSeconds in ReplicaSet is not Supported")


_FORBIDDEN_DEADLINE = {"statefulset": "StatefulSet", "daemonset": "DaemonSet"}


def keep_status(new: Object, old: Object) -> None:
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    else:
        new.pop("status", None)


def selector_update_errors(new: Object, old: Object) -> list[FieldError]:
    new_sel = nested(new, "spec", "selector")
    old_sel = nested(old, "spec", "selector")
    if new_sel == old_sel:
        return []
    shown = go_selector(new_sel) if isinstance(new_sel, dict) else GoValue("null")
    return validate_immutable(shown, go_selector(old_sel or {}), "spec.selector")


class ReplicaSetStrategy(Strategy):
    def default(self, obj: Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        default_pod_template(spec.get("template"))

    def prepare_for_create(self, obj: Object) -> None:
        obj["status"] = {"replicas": 0}

    def prepare_for_update(self, new: Object, old: Object) -> None:
        keep_status(new, old)

    def validate(self, obj: Object) -> list[FieldError]:
        errs: list[FieldError] = []
        spec = obj.get("spec") or {}
        errs.extend(validate_nonnegative(spec.get("replicas"), "spec.replicas"))
        errs.extend(validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds"))
        errs.extend(validate_selector_and_template(spec))
        return errs

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(self.validate(new))
        errs.extend(selector_update_errors(new, old))
        return errs


def cells(obj: Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    template_spec = nested(spec, "template", "spec", default=None) or {}
    return [
        name(obj),
        int(spec.get("replicas") or 0),
        int(nested(obj, "status", "replicas", default=0) or 0),
        int(nested(obj, "status", "readyReplicas", default=0) or 0),
        age(obj, now),
        container_names(template_spec),
        container_images(template_spec),
        workload_selector(spec.get("selector")),
    ]


def workload_selector(selector: Any) -> str:
    """`labels.Selector.String()`: empty string (not `<none>`) for no requirements."""
    text = format_label_selector(selector)
    return "" if text == "<none>" else text


CONTAINERS_COLUMN = Column(
    "Containers", priority=1, description="Names of each container in the template."
)
IMAGES_COLUMN = Column(
    "Images", priority=1, description="Images referenced by each container in the template."
)
SELECTOR_COLUMN = Column(
    "Selector", priority=1,
    description="Selector is a label query over pods that should match the replica count.",
)

COLUMNS = (
    NAME_COLUMN,
    Column("Desired", type="integer",
           description="Replicas is the number of desired pods."),
    Column("Current", type="integer",
           description="Replicas is the most recently observed number of non-terminating pods."),
    Column("Ready", type="integer",
           description="The number of non-terminating pods targeted by this ReplicaSet with a "
           "Ready Condition."),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    SELECTOR_COLUMN,
)


def _status_replicas(obj: Object) -> str:
    return str(int(nested(obj, "status", "replicas", default=0) or 0))


REPLICASETS = ResourceType(
    group="apps", version="v1", kind="ReplicaSet", plural="replicasets", singular="replicaset",
    namespaced=True, strategy=ReplicaSetStrategy(), table=Table(COLUMNS, cells),
    short_names=("rs",), categories=("all",),
    subresources=(Subresource("status"), SCALE),
    field_selectors={"status.replicas": _status_replicas},
    generation=True,
)
