"""The status of a CRD: accepted names and conditions (apiextensions' status, establish and
finalizer controllers), as pure functions.

Names conflict only with other CRDs of the same group, through their
`status.acceptedNames`: a plural, singular or short name already used as a
resource name, or a kind or list kind already used, keeps the CRD's old accepted
names and sets NamesAccepted False with the reason of the first conflict.
Established follows once the names are accepted and then stays True.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portico.apiserver.apiextensions._validation import APPROVAL_ANNOTATION, protected
from portico.apiserver.resources._base import Object
from portico.model.vocabulary import ConditionStatus

NO_CONFLICTS = ("True", "NoConflicts", "no conflicts found")
ESTABLISHED = ("True", "InitialNamesAccepted", "the initial names have been accepted")
NOT_ACCEPTED = ("False", "NotAccepted", "not all names are accepted")


def _in_use(others: Iterable[Object]) -> tuple[set[str], set[str]]:
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in others:
        names = (other.get("status") or {}).get("acceptedNames") or {}
        resources.update(n for n in (names.get("plural"), names.get("singular")) if n)
        resources.update(names.get("shortNames") or [])
        kinds.update(k for k in (names.get("kind"), names.get("listKind")) if k)
    return resources, kinds


def names_condition(requested: dict[str, Any], others: Iterable[Object]) -> tuple[str, str, str]:
    """(status, reason, message) of NamesAccepted for `requested` names."""
    resources, kinds = _in_use(others)
    checks = [("PluralConflict", requested.get("plural"), resources),
              ("SingularConflict", requested.get("singular"), resources)]
    checks += [("ShortNamesConflict", s, resources) for s in requested.get("shortNames") or []]
    checks += [("KindConflict", requested.get("kind"), kinds),
               ("ListKindConflict", requested.get("listKind"), kinds)]
    for reason, value, used in checks:
        if value and value in used:
            return "False", reason, f'"{value}" is already in use'
    return NO_CONFLICTS


def condition(status: Object, kind: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def set_condition(status: Object, kind: str, value: tuple[str, str, str], now: str) -> None:
    """Set a condition; lastTransitionTime moves only when the status does."""
    state, reason, message = value
    conditions = list(status.get("conditions") or [])
    old = condition(status, kind)
    new = {"type": kind, "status": state, "reason": reason, "message": message,
           "lastTransitionTime": now}
    if old is not None and old.get("status") == state:
        new["lastTransitionTime"] = old.get("lastTransitionTime", now)
    index = next((i for i, c in enumerate(conditions) if c.get("type") == kind), None)
    if index is None:
        conditions.append(new)
    else:
        conditions[index] = new
    status["conditions"] = conditions


def is_true(status: Object, kind: str) -> bool:
    cond = condition(status, kind)
    return cond is not None and cond.get("status") == ConditionStatus.TRUE


def next_status(crd: Object, group_peers: list[Object], now: str) -> Object:
    """The status the CRD controller wants for `crd`, given the other CRDs of its group."""
    status: Object = dict(crd.get("status") or {})
    requested = dict(crd["spec"].get("names") or {})
    verdict = names_condition(requested, group_peers)
    if verdict[0] == ConditionStatus.TRUE:
        status["acceptedNames"] = requested
    set_condition(status, "NamesAccepted", verdict, now)
    if is_true(status, "NamesAccepted") or is_true(status, "Established"):
        set_condition(status, "Established", ESTABLISHED, now)
    else:
        set_condition(status, "Established", NOT_ACCEPTED, now)
    approval = (crd["metadata"].get("annotations") or {}).get(APPROVAL_ANNOTATION)
    if approval and protected(crd["spec"].get("group", "")):
        set_condition(status, "KubernetesAPIApprovalPolicyConformant",
                      ("True", "ApprovedAnnotation", f"approved in {approval}"), now)
    status.setdefault("acceptedNames", {"kind": "", "plural": ""})
    return status
