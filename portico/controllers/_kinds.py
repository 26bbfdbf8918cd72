"""The kinds the namespace controller and the garbage collector act on."""

from __future__ import annotations

from portico.model import kinds as k
from portico.model.kinds import Kind

# Every namespaced kind the API server serves, in the order the namespace
# controller empties a namespace (workloads first so they stop recreating pods).
NAMESPACED_KINDS: tuple[Kind, ...] = (
    k.CRON_JOB, k.JOB, k.DEPLOYMENT, k.STATEFUL_SET, k.DAEMON_SET,
    k.REPLICA_SET, k.REPLICATION_CONTROLLER, k.CONTROLLER_REVISION, k.POD,
    k.SERVICE, k.ENDPOINTS,
    k.ENDPOINT_SLICE, k.INGRESS, k.CONFIG_MAP, k.SECRET,
    k.SERVICE_ACCOUNT, k.EVENT, k.LEASE,
    k.PERSISTENT_VOLUME_CLAIM, k.POD_DISRUPTION_BUDGET,
    k.HORIZONTAL_POD_AUTOSCALER, k.POD_METRICS,
    k.ROLE_BINDING, k.ROLE,
)

# Kinds that own others or are owned (ownerReferences), for the garbage collector.
OWNED_KINDS: tuple[Kind, ...] = (
    k.CRON_JOB, k.JOB, k.DEPLOYMENT, k.STATEFUL_SET, k.DAEMON_SET,
    k.REPLICA_SET, k.REPLICATION_CONTROLLER, k.CONTROLLER_REVISION, k.POD,
    k.SERVICE, k.ENDPOINTS,
    k.ENDPOINT_SLICE, k.CONFIG_MAP, k.SECRET, k.INGRESS,
    k.LEASE, k.NODE, k.PERSISTENT_VOLUME_CLAIM, k.POD_METRICS,
    # what the Gateway API controller provisions per Gateway, owned by the Gateway
    k.SERVICE_ACCOUNT, k.POD_DISRUPTION_BUDGET, k.HORIZONTAL_POD_AUTOSCALER,
)
