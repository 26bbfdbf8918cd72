"""What the workload kinds share (ReplicaSets, Deployments, StatefulSets, DaemonSets,
Jobs, CronJobs, ReplicationControllers): the selector/template validation, server-owned
status, the immutable selector and kubectl's wide columns (CONTAINERS, IMAGES, SELECTOR).

`validate_selector_and_template` is apps validation's selector checks followed by
`ValidatePodTemplateSpecForReplicaSet` (the selector must match the template labels,
`restartPolicy` must be one the kind allows).
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import GoValue, go_string_map, validate_immutable
from portico.apiserver.resources._pod_template import (
    container_images,
    container_names,
    validate_pod_template,
)
from portico.apiserver.resources._selector import validate_label_selector
from portico.model.selectors import format_label_selector, label_selector_matches
from portico.model.vocabulary import RestartPolicy

SCALE = _base.Subresource("scale", kind="Scale", group="autoscaling", version="v1")
SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def go_selector(selector: _base.Object) -> GoValue:
    """`%#v` of a `*metav1.LabelSelector` (used for whole-selector errors)."""
    labels = selector.get("matchLabels")
    exprs = selector.get("matchExpressions")
    labels_text = go_string_map(labels).text if labels else "map[string]string(nil)"
    exprs_text = (
        "[]v1.LabelSelectorRequirement{...}" if exprs else "[]v1.LabelSelectorRequirement(nil)"
    )
    return GoValue(f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}")


def validate_selector_and_template(spec: _base.Object, noun: str = "deployment",
                                   restart_policies: tuple[str, ...] = (RestartPolicy.ALWAYS,),
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
    labels = _base.nested(template, "metadata", "labels", default=None)
    selective = selector is not None and bool(
        selector.get("matchLabels") or selector.get("matchExpressions")
    )
    if selective and not label_selector_matches(selector, labels):
        errs.append(
            invalid("spec.template.metadata.labels", go_string_map(labels), SELECTOR_MISMATCH)
        )
    errs.extend(validate_pod_template(template, "spec.template"))
    restart = _base.nested(template, "spec", "restartPolicy", default="")
    if restart and restart not in restart_policies:
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, restart_policies))
    deadline = _base.nested(template, "spec", "activeDeadlineSeconds")
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


def default_rolling_update(spec: _base.Object, field: str, **rolling_defaults: Any) -> None:
    """The update strategy at `spec[field]` defaults to RollingUpdate, whose
    `rollingUpdate` gets `rolling_defaults` (Deployments, StatefulSets, DaemonSets)."""
    strategy = spec.setdefault(field, {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        for key, value in rolling_defaults.items():
            rolling.setdefault(key, value)


def selector_update_errors(new: _base.Object, old: _base.Object) -> list[FieldError]:
    new_sel = _base.nested(new, "spec", "selector")
    old_sel = _base.nested(old, "spec", "selector")
    if new_sel == old_sel:
        return []
    shown = go_selector(new_sel) if isinstance(new_sel, dict) else GoValue("null")
    return validate_immutable(shown, go_selector(old_sel or {}), "spec.selector")


def workload_selector(selector: Any) -> str:
    """`labels.Selector.String()`: empty string (not `<none>`) for no requirements."""
    text = format_label_selector(selector)
    return "" if text == "<none>" else text


CONTAINERS_COLUMN = _base.Column(
    "Containers", priority=1, description="Names of each container in the template."
)
IMAGES_COLUMN = _base.Column(
    "Images", priority=1, description="Images referenced by each container in the template."
)


def wide_cells(spec: _base.Object, selector: bool = True) -> list[Any]:
    """The wide output's cells of a workload whose `spec` has a pod `template` (and a
    `selector`): container names, images and, unless `selector` is False, the selector."""
    template_spec = _base.nested(spec, "template", "spec", default=None) or {}
    cells = [container_names(template_spec), container_images(template_spec)]
    return [*cells, workload_selector(spec.get("selector"))] if selector else cells


def wide_columns(selector_description: str | None) -> tuple[_base.Column, ...]:
    """CONTAINERS, IMAGES and (with a description) SELECTOR, as kubectl prints them wide."""
    selector = (_base.Column("Selector", priority=1, description=selector_description),) \
        if selector_description else ()
    return (CONTAINERS_COLUMN, IMAGES_COLUMN, *selector)
