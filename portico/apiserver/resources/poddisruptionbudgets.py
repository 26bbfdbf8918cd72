"""PodDisruptionBudgets (policy/v1): validation, status, table; `disruptions_left`.

`minAvailable` and `maxUnavailable` are an int (>= 0) or a percentage, never both
(`spec: Invalid value: ...: minAvailable and maxUnavailable cannot be both set`);
the selector is a valid LabelSelector.  The disruption controller writes `status`
(currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed, the
DisruptionAllowed condition); the eviction subresource (`_eviction`) reads it.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, ClassVar

from portico.apiserver.errors import FieldError, invalid
from portico.apiserver.resources import _base
from portico.apiserver.resources._owned_status import OwnedStatusStrategy
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._selector import validate_label_selector

_PERCENT = re.compile(r"(\d+)%")
BOTH_SET = "minAvailable and maxUnavailable cannot be both set"


def _validate_int_or_percent(value: Any, path: str) -> list[FieldError]:
    if value is None:
        return []
    if isinstance(value, int):
        return [] if value >= 0 else [invalid(path, value,
                                              "must be greater than or equal to 0")]
    match = _PERCENT.fullmatch(str(value))
    if match is None:
        return [invalid(path, value, "a valid percent string must be a numeric string "
                        "followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
                        "validation is '[0-9]+%')")]
    if int(match.group(1)) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


class PodDisruptionBudgetStrategy(OwnedStatusStrategy):
    INITIAL_STATUS: ClassVar[dict[str, Any]] = {
        "disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
            errs.append(invalid("spec", spec, BOTH_SET))
        errs += _validate_int_or_percent(spec.get("minAvailable"), "spec.minAvailable")
        errs += _validate_int_or_percent(spec.get("maxUnavailable"), "spec.maxUnavailable")
        errs += validate_label_selector(spec.get("selector"), "spec.selector")
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    shown = [("N/A" if spec.get(k) is None else str(spec[k]))
             for k in ("minAvailable", "maxUnavailable")]
    allowed = int(_base.nested(obj, "status", "disruptionsAllowed", default=0) or 0)
    return [name(obj), *shown, allowed, age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Min Available", description="The minimum number of pods that must be available"),
    _base.Column("Max Unavailable",
                 description="The maximum number of pods that may be unavailable"),
    _base.Column("Allowed Disruptions", type="integer",
                 description="Calculated number of pods that may be disrupted at this time"),
    _base.AGE_COLUMN,
)

PODDISRUPTIONBUDGETS = _base.ResourceType(
    group="policy", version="v1", kind="PodDisruptionBudget", plural="poddisruptionbudgets",
    singular="poddisruptionbudget", namespaced=True, strategy=PodDisruptionBudgetStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("pdb",),
    subresources=(_base.Subresource("status"),),
)
