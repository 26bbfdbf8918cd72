"""ControllerRevisions (apps/v1): the snapshots behind StatefulSet and DaemonSet history.

A revision holds `data` (the patch that restores its owner's template) and a
`revision` number; `kubectl rollout history/undo` list them by the owner's selector
and controllerRef. Validation is `ValidateControllerRevision(Update)`: revision
non-negative, data required and, like the revision number, never changed.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import validate_immutable, validate_nonnegative
from portico.apiserver.resources._printers import age, name


class ControllerRevisionStrategy(_base.Strategy):
    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs = validate_nonnegative(obj.get("revision"), "revision")
        if obj.get("data") is None:
            errs.append(required("data", ""))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs = self.validate(new)
        if new.get("data") != old.get("data"):
            errs.extend(validate_immutable(new.get("data"), old.get("data"), "data"))
        return errs


def _controller(obj: _base.Object) -> str:
    """`<kind>.<group>/<name>` of the controlling owner, `<none>` without one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            return f"{kind}.{group}/{ref.get('name')}" if group else f"{kind}/{ref.get('name')}"
    return "<none>"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), _controller(obj), int(obj.get("revision") or 0), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Controller", description="Controller of the object"),
    _base.Column("Revision", type="integer", description="Revision indicates the revision of the "
                 "state represented by Data."),
    _base.AGE_COLUMN,
)

CONTROLLERREVISIONS = _base.ResourceType(
    group="apps", version="v1", kind="ControllerRevision", plural="controllerrevisions",
    singular="controllerrevision", namespaced=True, strategy=ControllerRevisionStrategy(),
    table=_base.Table(COLUMNS, cells), has_status=False, generation=False,
)
