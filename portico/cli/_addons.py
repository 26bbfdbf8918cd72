"""Install the addons (cluster DNS, ingress) the way AKS's addon manager reconciles them.

Objects come from manifests shipped in `portico.addons` and are server-side
applied (field manager `portico-addon-manager`, conflicts forced), so installing
is idempotent: an absent object is created, one that matches its manifest is left
untouched (same resourceVersion), one whose manifest fields drifted (an older
Portico's manifest, a user's edit of a field the manifest sets) is brought back
to the manifest. Fields the manifest does not set (a user's extra label, what
the controllers and the API server fill in, such as the Service's allocated
clusterIPs) are not the addon manager's and stay as they are.

Never a plain create: creating an object that exists fails, and for the
`kube-dns` Service it fails as "provided IP is already allocated" (the
allocator runs before the existence check), not as AlreadyExists.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from portico.addons import ADDONS, load

log = logging.getLogger("portico.addons")

FIELD_MANAGER = "portico-addon-manager"


async def install(kubeconfig: Path, networked: bool, names: tuple[str, ...] = ADDONS) -> None:
    """Apply every document of each addon in `names`; failures are logged, not raised."""
    if not networked:
        return
    applied: list[str] = []
    for name in names:
        docs = load(name)
        ok = [o for o in await apply_documents(kubeconfig, name, docs) if o is not None]
        applied.append(f"{name} ({len(ok)}/{len(docs)} objects)")
    log.info("addons applied: %s", ", ".join(applied))


async def apply_documents(kubeconfig: Path, addon: str,
                          docs: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Server-side apply `docs` in order; each object as stored, None where refused
    (refusals are logged)."""
    client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)),
                         field_manager=FIELD_MANAGER)
    try:
        return [await _apply(client, addon, doc) for doc in docs]
    finally:
        await client.close()


async def _apply(client: AsyncClient, addon: str, doc: dict[str, Any]) -> dict[str, Any] | None:
    """Server-side apply one manifest document; a refusal is a warning naming the object."""
    try:
        applied = await client.apply(from_dict(doc), force=True)
    except ApiError as exc:
        log.warning("addon %s: %s %s: %s", addon, doc.get("kind"),
                    doc.get("metadata", {}).get("name"), exc.status.message)
        return None
    # lightkube types `from_dict`'s result as a union of generic resources whose
    # `to_dict` is unannotated (mypy's `untyped_calls_exclude` misses unions)
    stored: dict[str, Any] = applied.to_dict()  # type: ignore[no-untyped-call]
    return stored
