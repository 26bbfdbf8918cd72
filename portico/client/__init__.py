"""The one place that talks to the API: list+watch caches (informers) and work queues."""

from portico.client._connect import api_client, kubeconfig_ca
from portico.client._events import EventRecorder, object_reference
from portico.client._informer import (
    Handler,
    Informer,
    InformerFactory,
    Obj,
    is_namespaced,
    key_of,
    split_key,
)
from portico.client._queue import WorkQueue
from portico.client._ready import wait_for_api
from portico.client._runner import CoalescingRunner

__all__ = [
    "CoalescingRunner", "EventRecorder", "Handler", "api_client", "Informer",
    "kubeconfig_ca", "InformerFactory", "Obj", "WorkQueue", "is_namespaced", "key_of",
    "object_reference",
    "split_key", "wait_for_api",
]
