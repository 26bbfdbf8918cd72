"""NodeMetrics and PodMetrics (metrics.k8s.io/v1beta1), the resource metrics API.

In a cluster metrics-server serves these from kubelets' numbers; in Portico each
node agent writes them (server-side apply, every `metrics_seconds`) from its
containers' real usage, and the API server stores and serves them like any kind, so
`kubectl top nodes|pods` and the HorizontalPodAutoscaler read them as they would
from metrics-server.  A PodMetrics is owned by its Pod, a NodeMetrics by its Node,
so the garbage collector removes them with it.  Discovery lists `get` and `list`,
as metrics-server's does.
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import age, name

METRICS_GROUP, METRICS_VERSION = "metrics.k8s.io", "v1beta1"
READ_VERBS = ("get", "list")


def node_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    usage = obj.get("usage") or {}
    return [name(obj), str(usage.get("cpu", "")), str(usage.get("memory", "")),
            str(obj.get("window", "")), age(obj, now)]


def pod_cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    containers = obj.get("containers") or []
    cpu = ",".join(str(_base.nested(c, "usage", "cpu", default="")) for c in containers)
    memory = ",".join(str(_base.nested(c, "usage", "memory", default="")) for c in containers)
    return [name(obj), cpu, memory, str(obj.get("window", "")), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN, _base.Column("CPU"), _base.Column("Memory"), _base.Column("Window"),
    _base.AGE_COLUMN,
)

NODEMETRICS = _base.ResourceType(
    group=METRICS_GROUP, version=METRICS_VERSION, kind="NodeMetrics", plural="nodes",
    singular="", namespaced=False, strategy=_base.Strategy(),
    table=_base.Table(COLUMNS, node_cells),
    verbs=READ_VERBS, has_status=False, generation=False,
)

PODMETRICS = _base.ResourceType(
    group=METRICS_GROUP, version=METRICS_VERSION, kind="PodMetrics", plural="pods",
    singular="", namespaced=True, strategy=_base.Strategy(), table=_base.Table(COLUMNS, pod_cells),
    verbs=READ_VERBS, has_status=False, generation=False,
)
