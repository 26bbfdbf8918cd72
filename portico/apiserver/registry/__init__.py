"""The generic registry: every verb for every kind over the store, with the kind's hooks."""

from portico.apiserver.registry._read import ListOptions, ListResult, WatchEvent
from portico.apiserver.registry._registry import (
    PATCH_TYPES,
    DeleteOptions,
    DeleteResult,
    PatchType,
    Registry,
)
from portico.apiserver.registry._write import WriteOptions

__all__ = [
    "PATCH_TYPES", "DeleteOptions", "DeleteResult", "ListOptions", "ListResult", "PatchType",
    "Registry", "WatchEvent", "WriteOptions",
]
