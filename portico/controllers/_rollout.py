"""Pure Deployment arithmetic, after `pkg/controller/deployment/util/deployment_util.go`.

- `template_hash`: kube's `ComputeHash` is fnv32a over the deep-printed template plus
  the collision count, printed in decimal and mapped through `rand.SafeEncodeString`
  (each decimal digit's byte value modulo 27 into `bcdfghjklmnpqrstvwxz2456789`).
  Portico hashes the template's canonical JSON (sorted keys, no spaces) instead of
  Go's deep print, so names differ from a real cluster's but are stable,
  8-10 characters from the same safe alphabet.
- `fenceposts`: maxSurge rounds percentages up, maxUnavailable down; both zero
  means maxUnavailable 1 (`ResolveFenceposts`).
- `new_rs_replicas` / `old_scale_down`: one step of a rolling update
  (`NewRSNewReplicas`, `reconcileOldReplicaSets` with `cleanupUnhealthyReplicas`
  and `scaleDownOldReplicaSetsForRollingUpdate`).
- `calculate_status` and the condition helpers give the status that makes
  `kubectl rollout status` report progress and success.
"""

from __future__ import annotations

import copy
import datetime
import math
from enum import StrEnum
from typing import Any

import orjson

from portico.controllers._pods import meta, parse_time, rfc3339

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
HASH_LABEL = "pod-template-hash"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Deployment annotations never copied to its ReplicaSets (`skipCopyAnnotation`).
_NOT_COPIED = (LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
               "deprecated.deployment.rollback.to")


class Strategy(StrEnum):
    ROLLING_UPDATE = "RollingUpdate"
    RECREATE = "Recreate"


class Reason(StrEnum):
    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
    MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
    NEW_RS_CREATED = "NewReplicaSetCreated"
    FOUND_NEW_RS = "FoundNewReplicaSet"
    RS_UPDATED = "ReplicaSetUpdated"
    NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
    TIMED_OUT = "ProgressDeadlineExceeded"
    PAUSED = "DeploymentPaused"
    RESUMED = "DeploymentResumed"


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    data = orjson.dumps(strip_hash(template), option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in str(fnv32a(data)).encode())


def strip_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template or {})
    labels = (out.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
        if not labels:
            del out["metadata"]["labels"]
    if "metadata" in out and not out["metadata"]:
        del out["metadata"]
    return out


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return strip_hash(a) == strip_hash(b)


def spec_replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def status_count(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def revision(rs: Obj) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def created(obj: Obj) -> tuple[str, str]:
    return (str(meta(obj).get("creationTimestamp") or ""), str(meta(obj).get("name")))


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """`intstr.GetScaledValueFromIntOrPercent`."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    exact = int(text[:-1]) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for a RollingUpdate Deployment."""
    spec = d.get("spec") or {}
    if (spec.get("strategy") or {}).get("type", Strategy.ROLLING_UPDATE) != \
            Strategy.ROLLING_UPDATE:
        return 0, 0
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    desired = spec_replicas(d)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(d: Obj) -> int:
    desired = spec_replicas(d)
    if desired == 0:
        return 0
    return min(fenceposts(d)[1], desired)


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (`FindNewReplicaSet`)."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sorted(rss, key=created):
        if equal_ignore_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def new_rs_replicas(d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
    desired = spec_replicas(d)
    if (d.get("spec") or {}).get("strategy", {}).get("type") == Strategy.RECREATE:
        return desired
    surge, _ = fenceposts(d)
    current = sum(spec_replicas(rs) for rs in all_rss)
    max_total = desired + surge
    if current >= max_total:
        return spec_replicas(new_rs)
    scale_up = min(max_total - current, desired - spec_replicas(new_rs))
    return spec_replicas(new_rs) + max(scale_up, 0)


def _observed(rs: Obj) -> bool:
    observed = (rs.get("status") or {}).get("observedGeneration")
    generation = meta(rs).get("generation")
    return observed is None or generation is None or int(observed) >= int(generation)


def old_scale_down(d: Obj, all_rss: list[Obj], old_rss: list[Obj],
                   new_rs: Obj) -> dict[str, int]:
    """New spec.replicas for the old ReplicaSets this step may scale down.

    Availability comes from ReplicaSet status, which lags behind a scale-down this
    controller just made: until every ReplicaSet's status has observed its latest
    spec, no further scale-down happens (otherwise a stale `availableReplicas`
    lets one rollout step remove more pods than maxUnavailable allows)."""
    old_count = sum(spec_replicas(rs) for rs in old_rss)
    if old_count == 0:
        return {}
    if any(not _observed(rs) for rs in all_rss):
        return {}
    all_count = sum(spec_replicas(rs) for rs in all_rss)
    min_available = spec_replicas(d) - max_unavailable(d)
    new_unavailable = spec_replicas(new_rs) - status_count(new_rs, "availableReplicas")
    budget = all_count - min_available - new_unavailable
    if budget <= 0:
        return {}
    targets: dict[str, int] = {}
    ordered = sorted(old_rss, key=created)
    for rs in ordered:  # cleanupUnhealthyReplicas
        if budget <= 0:
            break
        replicas = spec_replicas(rs)
        unhealthy = replicas - status_count(rs, "availableReplicas")
        if replicas == 0 or unhealthy <= 0:
            continue
        cut = min(budget, replicas, unhealthy)
        targets[meta(rs)["name"]] = replicas - cut
        budget -= cut
    available = sum(status_count(rs, "availableReplicas") for rs in all_rss)
    remaining = available - min_available
    for rs in ordered:  # scaleDownOldReplicaSetsForRollingUpdate
        if remaining <= 0:
            break
        replicas = targets.get(meta(rs)["name"], spec_replicas(rs))
        if replicas == 0:
            continue
        cut = min(replicas, remaining)
        targets[meta(rs)["name"]] = replicas - cut
        remaining -= cut
    return targets


def copied_annotations(d: Obj) -> dict[str, str]:
    return {k: v for k, v in (meta(d).get("annotations") or {}).items() if k not in _NOT_COPIED}


def condition(conditions: list[Obj], cond_type: str) -> Obj | None:
    return next((dict(c) for c in conditions if c.get("type") == cond_type), None)


def set_condition(conditions: list[Obj], cond_type: str, status: str, reason: str,
                  message: str, now: datetime.datetime, refresh: bool = False) -> list[Obj]:
    """`SetDeploymentCondition`; `refresh` forces a new lastUpdateTime (ReplicaSetUpdated)."""
    current = condition(conditions, cond_type)
    if current and current.get("status") == status and current.get("reason") == reason \
            and current.get("message") == message and not refresh:
        return conditions
    stamp = rfc3339(now)
    new = {"type": cond_type, "status": status, "lastUpdateTime": stamp,
           "lastTransitionTime": stamp, "reason": reason, "message": message}
    if current and current.get("status") == status:
        new["lastTransitionTime"] = current.get("lastTransitionTime", stamp)
    return [c for c in conditions if c.get("type") != cond_type] + [new]


def calculate_status(d: Obj, all_rss: list[Obj], new_rs: Obj | None,
                     now: datetime.datetime) -> Obj:
    available = sum(status_count(rs, "availableReplicas") for rs in all_rss)
    total = sum(spec_replicas(rs) for rs in all_rss)
    previous = d.get("status") or {}
    status: Obj = {
        "observedGeneration": meta(d).get("generation", 1),
        "replicas": sum(status_count(rs, "replicas") for rs in all_rss),
        "updatedReplicas": status_count(new_rs, "replicas") if new_rs else 0,
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    if previous.get("collisionCount") is not None:
        status["collisionCount"] = previous["collisionCount"]
    conditions = list(previous.get("conditions") or [])
    if available >= spec_replicas(d) - max_unavailable(d):
        conditions = set_condition(conditions, "Available", "True",
                                   Reason.MINIMUM_REPLICAS_AVAILABLE,
                                   "Deployment has minimum availability.", now)
    else:
        conditions = set_condition(conditions, "Available", "False",
                                   Reason.MINIMUM_REPLICAS_UNAVAILABLE,
                                   "Deployment does not have minimum availability.", now)
    status["conditions"] = conditions
    return {k: v for k, v in status.items() if v or k in ("observedGeneration", "conditions")}


def is_complete(d: Obj, status: Obj) -> bool:
    """`DeploymentComplete`."""
    desired = spec_replicas(d)
    return (int(status.get("updatedReplicas", 0)) == desired
            and int(status.get("replicas", 0)) == desired
            and int(status.get("availableReplicas", 0)) == desired
            and int(status.get("observedGeneration", 0)) >= int(meta(d).get("generation", 1)))


def is_progressing(d: Obj, status: Obj) -> bool:
    """`DeploymentProgressing`: the new status moved forward from the stored one."""
    old = d.get("status") or {}

    def get(s: Obj, key: str) -> int:
        return int(s.get(key) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(status, "replicas") - get(status, "updatedReplicas")
    return (get(status, "updatedReplicas") > get(old, "updatedReplicas")
            or new_old < old_old
            or get(status, "readyReplicas") > get(old, "readyReplicas")
            or get(status, "availableReplicas") > get(old, "availableReplicas"))


def timed_out(d: Obj, status: Obj, now: datetime.datetime) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    cond = condition(status.get("conditions") or [], "Progressing")
    if deadline is None or cond is None or cond.get("reason") in (
            Reason.NEW_RS_AVAILABLE, Reason.TIMED_OUT):
        return False
    since = parse_time(cond.get("lastUpdateTime"))
    return since is not None and since + datetime.timedelta(seconds=int(deadline)) < now
