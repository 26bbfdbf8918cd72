"""Pods (core/v1): defaults, create-time status, validation, table and field selectors.

Defaulting is `SetDefaults_Pod` (`enableServiceLinks: true`) on top of the shared pod
spec defaults. On create the strategy resets `status` to `{phase: Pending, qosClass}`
and applies what kube-apiserver's admission chain adds to every pod (service account
`default`, priority 0, the not-ready/unreachable tolerations). Updates keep the old
status, and may change only images, `activeDeadlineSeconds` and tolerations.

The table reproduces kubectl's `printPod`: READY counts ready running containers,
STATUS walks init containers then containers (last one wins) for waiting/terminated
reasons, `Terminating` while a deletion is pending, RESTARTS shows `N (5m ago)`.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden
from portico.apiserver.resources import _base
from portico.apiserver.resources import _sa_admission as sa_admission
from portico.apiserver.resources._owned_status import keep_status
from portico.apiserver.resources._pod_template import default_pod_spec, validate_pod_spec
from portico.apiserver.resources._printers import age, name, parse_time, since
from portico.model.vocabulary import ConditionStatus, PodConditionType, RestartPolicy

TOLERATION_SECONDS = 300
_TERMINAL = ("Succeeded", "Failed")
_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def qos_class(spec: _base.Object) -> str:
    """`GetPodQOS`: BestEffort without any requests/limits, Guaranteed when all match."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for ctr in containers:
        resources = ctr.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        if requests or limits:
            any_set = True
        for resource in ("cpu", "memory"):
            if resource not in limits or requests.get(resource, limits[resource]) != limits[
                resource
            ]:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_tolerations(spec: _base.Object) -> None:
    """The DefaultTolerationSeconds admission plugin."""
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append({
                "key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": TOLERATION_SECONDS,
            })


class PodStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)

    def prepare_for_create(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        _default_tolerations(spec)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}

    def allocate(self, ctx: _base.WriteContext, new: _base.Object,
                 old: _base.Object | None) -> None:
        if old is None:
            sa_admission.admit(ctx, new)

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        keep_status(new, old)

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(validate_pod_spec(obj.get("spec") or {}, "spec"))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(validate_pod_spec(new.get("spec") or {}, "spec"))
        if _mutable_masked(new.get("spec") or {}) != _mutable_masked(old.get("spec") or {}):
            errs.append(forbidden("spec", _UPDATE_FORBIDDEN))
        return errs


def _mutable_masked(spec: _base.Object) -> _base.Object:
    """The spec with the fields a pod update may change blanked out."""
    masked = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for ctr in masked.get(key) or []:
            ctr.pop("image", None)
    masked.pop("activeDeadlineSeconds", None)
    masked.pop("tolerations", None)
    return masked


def bind(pod: _base.Object, node: str, now: datetime.datetime) -> None:
    """What `pods/binding` writes: the node, and PodScheduled=True (as kube's binding
    storage does, so the scheduler needs no status write of its own)."""
    pod["spec"]["nodeName"] = node
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    scheduled = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    for i, cond in enumerate(conditions):
        if cond.get("type") == PodConditionType.POD_SCHEDULED:
            if cond.get("status") == ConditionStatus.TRUE:
                scheduled["lastTransitionTime"] = cond.get("lastTransitionTime")
            conditions[i] = scheduled
            return
    conditions.append(scheduled)


def _later(a: str | None, b: str | None) -> str | None:
    ta, tb = parse_time(a), parse_time(b)
    if tb is None:
        return a
    if ta is None or tb > ta:
        return b
    return a


def _restartable(spec: _base.Object, ctr_name: str) -> bool:
    for ctr in spec.get("initContainers") or []:
        if ctr.get("name") == ctr_name:
            return bool(ctr.get("restartPolicy") == RestartPolicy.ALWAYS)
    return False


def _terminated_reason(term: _base.Object, prefix: str) -> str:
    if term.get("reason"):
        return f"{prefix}{term['reason']}"
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


_Restarts = tuple[int, str | None]


def _init_status(obj: _base.Object, reason: str) -> tuple[str, bool, _Restarts, _Restarts, int]:
    """Walk init containers: (reason, initializing, all restarts, sidecar restarts, ready)."""
    spec = obj.get("spec") or {}
    inits = _base.nested(obj, "status", "initContainerStatuses", default=None) or []
    restarts, sidecar_restarts, ready = 0, 0, 0
    last: str | None = None
    sidecar_last: str | None = None
    initializing = False
    for i, ctr in enumerate(inits):
        count = int(ctr.get("restartCount") or 0)
        finished = _base.nested(ctr, "lastState", "terminated", "finishedAt")
        restarts += count
        last = _later(last, finished)
        sidecar = _restartable(spec, ctr.get("name", ""))
        if sidecar:
            sidecar_restarts += count
            sidecar_last = _later(sidecar_last, finished)
        state = ctr.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and ctr.get("started"):
            ready += 1 if ctr.get("ready") else 0
            continue
        initializing = True
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or [])}"
        break
    return reason, initializing, (restarts, last), (sidecar_restarts, sidecar_last), ready


def _condition_true(obj: _base.Object, cond_type: str) -> bool:
    for cond in _base.nested(obj, "status", "conditions", default=None) or []:
        if cond.get("type") == cond_type:
            return bool(cond.get("status") == ConditionStatus.TRUE)
    return False


def pod_status_cells(obj: _base.Object, now: datetime.datetime) -> tuple[str, str, str]:
    """(READY, STATUS, RESTARTS) exactly as `printPod` computes them."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if (cond.get("type") == PodConditionType.POD_SCHEDULED
                and cond.get("reason") == "SchedulingGated"):
            reason = "SchedulingGated"
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or []
        if c.get("restartPolicy") == RestartPolicy.ALWAYS
    )
    reason, initializing, (restarts, last), sidecars, ready = _init_status(obj, reason)
    if not initializing or _condition_true(obj, "Initialized"):
        restarts, last = sidecars
        has_running = False
        for ctr in reversed(status.get("containerStatuses") or []):
            restarts += int(ctr.get("restartCount") or 0)
            last = _later(last, _base.nested(ctr, "lastState", "terminated", "finishedAt"))
            state = ctr.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term, "")
            elif ctr.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(obj, "Ready") else "NotReady"
    deleting = _base.nested(obj, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in _TERMINAL:
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last:
        restarts_text = f"{restarts} ({since(last, now)} ago)"
    return f"{ready}/{total}", reason, restarts_text


def _readiness_gates(obj: _base.Object) -> str:
    gates = _base.nested(obj, "spec", "readinessGates", default=None) or []
    if not gates:
        return "<none>"
    true = sum(1 for g in gates if _condition_true(obj, g.get("conditionType", "")))
    return f"{true}/{len(gates)}"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    ready, reason, restarts = pod_status_cells(obj, now)
    ips = _base.nested(obj, "status", "podIPs", default=None) or []
    pod_ip = (ips[0].get("ip") if ips else "") or "<none>"
    node = _base.nested(obj, "spec", "nodeName", default="") or "<none>"
    nominated = _base.nested(obj, "status", "nominatedNodeName", default="") or "<none>"
    return [
        name(obj), ready, reason, restarts, age(obj, now), pod_ip, node, nominated,
        _readiness_gates(obj),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Ready", description=(
        "The aggregate readiness state of this pod for accepting traffic."
    )),
    _base.Column("Status", description="The aggregate status of the containers in this pod."),
    _base.Column(
        "Restarts",
        description="The number of times the containers in this pod have been restarted and "
        "when the last container in this pod has restarted.",
    ),
    _base.AGE_COLUMN,
    _base.Column("IP", priority=1, description="podIP address allocated to the pod."),
    _base.Column("Node", priority=1, description=(
        "NodeName indicates in which node this pod is scheduled."
    )),
    _base.Column(
        "Nominated Node", priority=1,
        description="nominatedNodeName is set only when this pod preempts other pods on the node.",
    ),
    _base.Column(
        "Readiness Gates", priority=1,
        description="If specified, all readiness gates will be evaluated for pod readiness.",
    ),
)


def _host_network(obj: _base.Object) -> str:
    return "true" if _base.nested(obj, "spec", "hostNetwork") else "false"


def _pod_ip(obj: _base.Object) -> str:
    ips = _base.nested(obj, "status", "podIPs", default=None) or []
    return str(ips[0].get("ip", "")) if ips else ""


PODS = _base.ResourceType(
    group="", version="v1", kind="Pod", plural="pods", singular="pod", namespaced=True,
    strategy=PodStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("po",), categories=("all",),
    subresources=(
        _base.Subresource("status"),
        _base.Subresource("log", kind="Pod", verbs=("get",)),
        _base.Subresource("exec", kind="PodExecOptions", verbs=("create", "get")),
        _base.Subresource("attach", kind="PodAttachOptions", verbs=("create", "get")),
        _base.Subresource("portforward", kind="PodPortForwardOptions", verbs=("create", "get")),
        _base.Subresource("binding", kind="Binding", verbs=("create",)),
        _base.Subresource("eviction", kind="Eviction", group="policy", version="v1",
                          verbs=("create",)),
    ),
    field_selectors={
        "spec.nodeName": _base.field_selector_fn("spec", "nodeName"),
        "spec.restartPolicy": _base.field_selector_fn("spec", "restartPolicy"),
        "spec.schedulerName": _base.field_selector_fn("spec", "schedulerName"),
        "spec.serviceAccountName": _base.field_selector_fn("spec", "serviceAccountName"),
        "spec.hostNetwork": _host_network,
        "status.phase": _base.field_selector_fn("status", "phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _base.field_selector_fn("status", "nominatedNodeName"),
    },
    generation=False,
)
