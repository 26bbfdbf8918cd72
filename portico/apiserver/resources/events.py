"""Events (core/v1): validation, the wide event table and involvedObject selectors.

The table is kubectl's `printEvent` with every column (the server always prints
wide): LAST SEEN falls back to FIRST SEEN, then to `eventTime`; a `series` overrides
LAST SEEN and COUNT; OBJECT is `kind/name` in lower-case kind.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, invalid
from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import name, since

_NAMESPACE_MISMATCH = "does not match event.namespace"


def _namespace_errors(obj: _base.Object) -> list[FieldError]:
    namespace = _base.nested(obj, "metadata", "namespace", default="") or ""
    involved = _base.nested(obj, "involvedObject", "namespace", default="") or ""
    if obj.get("eventTime"):
        return []
    if not involved:
        if namespace not in ("", "default"):
            return [invalid("involvedObject.namespace", involved, _NAMESPACE_MISMATCH)]
        return []
    if namespace != involved:
        return [invalid("involvedObject.namespace", involved, _NAMESPACE_MISMATCH)]
    return []


class EventStrategy(_base.Strategy):
    def validate(self, obj: _base.Object) -> list[FieldError]:
        return _namespace_errors(obj)

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return _namespace_errors(new)


def event_source(obj: _base.Object) -> str:
    component = _base.nested(obj, "source", "component") or obj.get("reportingComponent") or ""
    host = _base.nested(obj, "source", "host") or obj.get("reportingInstance") or ""
    if not component:
        return "<unknown>"
    return f"{component}, {host}" if host else component


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    first_seen = since(first, now)
    last_seen = since(obj["lastTimestamp"], now) if obj.get("lastTimestamp") else first_seen
    count = int(obj.get("count") or 0)
    series = obj.get("series")
    if isinstance(series, dict):
        last_seen = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    kind = str(_base.nested(obj, "involvedObject", "kind", default="") or "").lower()
    involved = _base.nested(obj, "involvedObject", "name", default="") or ""
    target = f"{kind}/{involved}" if involved else kind
    return [
        last_seen, str(obj.get("type") or ""), str(obj.get("reason") or ""), target,
        str(_base.nested(obj, "involvedObject", "fieldPath", default="") or ""), event_source(obj),
        str(obj.get("message") or "").strip(), first_seen, count, name(obj),
    ]


COLUMNS = (
    _base.Column("Last Seen", description="The time at which the most recent occurrence of this "
                 "event was recorded."),
    _base.Column("Type", description=(
        "Type of this event (Normal, Warning), new types could be added "
        "in the future"
    )),
    _base.Column("Reason", description="This should be a short, machine understandable string that "
                 "gives the reason for the transition into the object's current status."),
    _base.Column("Object", description="The object that this event is about."),
    _base.Column("Subobject", priority=1, description=(
        "If referring to a piece of an object instead "
        "of an entire object, this string should contain a valid JSON/Go field access "
        "statement, such as desiredState.manifest.containers[2]."
    )),
    _base.Column("Source", priority=1, description=(
        "The component reporting this event. Should be a "
        "short machine understandable string."
    )),
    _base.Column("Message", description="A human-readable description of the status of this "
                 "operation."),
    _base.Column("First Seen", priority=1, description="The time at which the event was first "
                 "recorded. (Time of server receipt is in TypeMeta.)"),
    _base.Column("Count", priority=1, description="The number of times this event has occurred."),
    _base.Column("Name", priority=1, format="name", description=_base.NAME_COLUMN.description),
)


def _source(obj: _base.Object) -> str:
    return str(_base.nested(obj, "source", "component", default="") or "")


EVENTS = _base.ResourceType(
    group="", version="v1", kind="Event", plural="events", singular="event", namespaced=True,
    strategy=EventStrategy(), table=_base.Table(COLUMNS, cells), short_names=("ev",),
    field_selectors={
        **{
            f"involvedObject.{key}": _base.field_selector_fn("involvedObject", key)
            for key in (
                "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                "fieldPath",
            )
        },
        "reason": _base.field_selector_fn("reason"),
        "reportingComponent": _base.field_selector_fn("reportingComponent"),
        "source": _source,
        "type": _base.field_selector_fn("type"),
    },
    has_status=False, generation=False,
)
