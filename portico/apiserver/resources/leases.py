"""Leases (coordination.k8s.io/v1): spec validation and the HOLDER column."""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name

STRATEGIES = ("OldestEmulationVersion",)


def validate_lease_spec(spec: _base.Object) -> list[FieldError]:
    errs: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        errs.append(invalid(
            "spec.leaseTransitions", transitions, "must be greater than or equal to 0"
        ))
    strategy = spec.get("strategy")
    if strategy and strategy not in STRATEGIES:
        errs.append(not_supported("spec.strategy", strategy, STRATEGIES))
    if spec.get("preferredHolder") and not strategy:
        errs.append(forbidden(
            "spec.preferredHolder", "may only be specified if `strategy` is defined"
        ))
    return errs


class LeaseStrategy(_base.Strategy):
    def validate(self, obj: _base.Object) -> list[FieldError]:
        return validate_lease_spec(obj.get("spec") or {})


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    holder = _base.nested(obj, "spec", "holderIdentity", default="") or ""
    return [name(obj), str(holder), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Holder", description=(
        "holderIdentity contains the identity of the holder of a "
        "current lease. If Coordinated Leader Election is used, the holder identity must be "
        "equal to the elected LeaseCandidate.metadata.name field."
    )),
    _base.AGE_COLUMN,
)

LEASES = _base.ResourceType(
    group="coordination.k8s.io", version="v1", kind="Lease", plural="leases", singular="lease",
    namespaced=True, strategy=LeaseStrategy(), table=_base.Table(COLUMNS, cells),
    has_status=False, generation=False,
)
