"""Storage: an etcd-shaped interface (revisions, compare-and-swap, watch, compaction).

SQLite is the default backend; `SqliteStore` is the only implementation today.
"""

from portico.store._sqlite import SqliteStore, Txn
from portico.store._types import (
    Compacted,
    Event,
    EventType,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionMismatch,
    StoreError,
)
from portico.store._watch import Watcher

__all__ = [
    "Compacted", "Event", "EventType", "KeyExists", "KeyNotFound", "KeyValue",
    "RevisionMismatch", "SqliteStore", "StoreError", "Txn", "Watcher",
]
