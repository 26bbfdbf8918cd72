"""A Job's podFailurePolicy applied to one Failed pod (`matchPodFailurePolicy`); no I/O.

Rules are tried in order; the first that matches decides the action (FailJob,
FailIndex, Ignore, Count). `onExitCodes` looks at the terminated containers
(init containers first, then app containers; exit code 0 never matches), limited to
`containerName` when given, with `In`/`NotIn` over `values`. `onPodConditions`
matches a pod condition of that type whose status is the pattern's (default True).
The message is kube's, for the Failed condition of a `FailJob` match.
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.controllers._pods import Obj, meta
from portico.model.vocabulary import ExitCodesOperator


@dataclass(frozen=True)
class Failure:
    action: str
    message: str


def _terminated(pod: Obj) -> list[tuple[str, int]]:
    status = pod.get("status") or {}
    out: list[tuple[str, int]] = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for ctr in status.get(key) or []:
            term = (ctr.get("state") or {}).get("terminated")
            if term is not None and int(term.get("exitCode") or 0) != 0:
                out.append((str(ctr.get("name")), int(term["exitCode"])))
    return out


def _exit_code_match(rule: Obj, pod: Obj) -> tuple[str, int] | None:
    codes = rule.get("onExitCodes") or {}
    values = {int(v) for v in codes.get("values") or []}
    wanted = codes.get("containerName")
    for name, code in _terminated(pod):
        if wanted and wanted != name:
            continue
        if (code in values) == (codes.get("operator") == ExitCodesOperator.IN):
            return name, code
    return None


def _condition_match(rule: Obj, pod: Obj) -> str | None:
    conditions = (pod.get("status") or {}).get("conditions") or []
    for pattern in rule.get("onPodConditions") or []:
        for cond in conditions:
            if cond.get("type") == pattern.get("type") and \
                    cond.get("status") == (pattern.get("status") or "True"):
                return str(cond["type"])
    return None


def match_rule(policy: Obj | None, pod: Obj) -> Failure | None:
    where = f"{meta(pod).get('namespace')}/{meta(pod).get('name')}"
    for index, rule in enumerate((policy or {}).get("rules") or []):
        action = str(rule.get("action"))
        if rule.get("onExitCodes"):
            hit = _exit_code_match(rule, pod)
            if hit is not None:
                return Failure(action, f"Container {hit[0]} for pod {where} failed with exit "
                                       f"code {hit[1]} matching {action} rule at index {index}")
        elif rule.get("onPodConditions"):
            cond = _condition_match(rule, pod)
            if cond is not None:
                return Failure(action, f"Pod {where} has condition {cond} matching {action} "
                                       f"rule at index {index}")
    return None
