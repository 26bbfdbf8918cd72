"""Install the addons (cluster DNS, ingress) the way AKS's addon manager does: create if absent.

Objects come from manifests shipped in `portico.addons`; existing objects are left
as they are (EnsureExists), so a user's edits survive restarts.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from portico.addons import ADDONS, load

log = logging.getLogger("portico.addons")


async def install(kubeconfig: Path, networked: bool, names: tuple[str, ...] = ADDONS) -> None:
    if not networked:
        return
    client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)),
                         field_manager="portico-addon-manager")
    try:
        for name in names:
            for doc in load(name):
                obj = from_dict(doc)
                try:
                    await client.create(obj)
                except ApiError as exc:
                    if exc.status.code != 409:
                        log.warning("addon %s: %s %s: %s", name, doc.get("kind"),
                                    doc.get("metadata", {}).get("name"), exc.status.message)
    finally:
        await client.close()
