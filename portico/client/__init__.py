"""The one place that talks to the API: the `Api` facade (dicts in, dicts out, one write
path), list+watch caches (informers), work queues and the coalescing runner.

Components import from here and from `portico.model`, never lightkube.
"""

from portico.client._api import (
    ALL_NAMESPACES,
    UNREACHABLE,
    Api,
    ApiError,
    CascadeType,
    Listing,
    Obj,
    PatchType,
    Status,
    WatchEvent,
)
from portico.client._clock import REAL_CLOCK, Clock, MonotonicClock, Timer
from portico.client._connect import KubeconfigError, api_client, kubeconfig_ca, load_kubeconfig
from portico.client._events import EventRecorder, object_reference
from portico.client._informer import Handler, Informer, InformerFactory, key_of, split_key
from portico.client._queue import WorkQueue
from portico.client._ready import wait_for_api
from portico.client._runner import CoalescingRunner
from portico.client._views import Views

__all__ = [
    "ALL_NAMESPACES", "UNREACHABLE", "Api", "ApiError", "CascadeType", "Clock", "CoalescingRunner",
    "EventRecorder", "Handler", "Informer", "InformerFactory", "KubeconfigError", "Listing",
    "MonotonicClock",
    "Obj", "PatchType", "REAL_CLOCK", "Status", "Timer", "Views", "WatchEvent", "WorkQueue",
    "api_client", "key_of", "kubeconfig_ca", "load_kubeconfig", "object_reference",
    "split_key", "wait_for_api",
]
