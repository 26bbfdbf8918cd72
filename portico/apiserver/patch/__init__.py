"""The four PATCH body types and managedFields, as pure functions over decoded JSON.

- `merge_patch`: RFC 7386 (`application/merge-patch+json`);
- `json_patch`: RFC 6902 (`application/json-patch+json`);
- `strategic_merge_patch`: `application/strategic-merge-patch+json`, list semantics
  from the kind's schema (`x-kubernetes-patch-strategy` / `-merge-key`);
- `apply_patch`: server-side apply (`application/apply-patch+yaml`) with
  managedFields and conflict detection;
- `update_managed_fields`: ownership bookkeeping for every other write.

All raise `StatusError` with kube-apiserver's status code, reason and message.
"""

from portico.apiserver.patch._apply import apply_patch, conflict_error
from portico.apiserver.patch._jsonpatch import json_patch
from portico.apiserver.patch._managed import update_managed_fields
from portico.apiserver.patch._merge import merge_patch
from portico.apiserver.patch._strategic import strategic_merge_patch

__all__ = [
    "apply_patch",
    "conflict_error",
    "json_patch",
    "merge_patch",
    "strategic_merge_patch",
    "update_managed_fields",
]
