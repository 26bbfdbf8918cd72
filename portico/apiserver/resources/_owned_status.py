"""Kinds whose status only the server writes (through the status subresource).

On create the status is replaced by the kind's initial one; on update the stored
status is carried over whatever the client sent (the registry strategies'
`PrepareForCreate`/`PrepareForUpdate` of the workload kinds, HPAs and PDBs).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from portico.apiserver.resources import _base


def keep_status(new: _base.Object, old: _base.Object) -> None:
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    else:
        new.pop("status", None)


class OwnedStatusStrategy(_base.Strategy):
    """A strategy whose objects start with `INITIAL_STATUS` and keep the stored status."""

    INITIAL_STATUS: ClassVar[dict[str, Any]] = {}

    def prepare_for_create(self, obj: _base.Object) -> None:
        obj["status"] = copy.deepcopy(self.INITIAL_STATUS)

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        keep_status(new, old)
