"""AKS's managed Gateway API installation: the pinned standard-channel CRD bundle.

Theory of operation: `portico up` installs one pinned release of the Gateway API
standard bundle (`standard-install.yaml`: the CRDs plus the `safe-upgrades`
ValidatingAdmissionPolicy and its binding), as AKS's `--enable-gateway-api` does,
in the background once the API server answers and the addons are applied, so
the nodes and addons come up as fast as before.  The bundle is found, in this order:

1. the file named by `portico up --gateway-api-crds FILE`;
2. the file named by `$PORTICO_GATEWAY_API_CRDS` (tests and CI name the
   conformance copy, so a test cluster never tries the network);
3. the copy cached in the data dir (`gateway-api/standard-install-<version>.yaml`);
4. a download from the project's official GitHub release, then cached.

`none` as the file (option or variable) installs nothing, for a cluster whose
Gateway API CRDs are installed by hand.  Every source is checked against the
pinned sha256: a file of another release or a truncated download is refused,
never applied.  When no bundle can be had, the reason is logged and written to
the state file; the rest of the cluster works, and the gateway controller waits
for the CRDs.  The bundle is server-side applied as the addons are (`_addons`).
A restart applies nothing when every object is still as applied (same uid,
generation, labels and annotations, recorded in the state file), and the whole
bundle again otherwise (one was deleted or edited).  `gateway-api.json` in the
data dir says what happened (`state`: installing, installed or unavailable,
`reason`, `source`, the CRD names, the fingerprints), which `portico wait` reads
to wait for the CRDs to be Established.  The bundle is never part of the repository.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from portico.client import Api, ApiError
from portico.model.kinds import CUSTOM_RESOURCE_DEFINITION, Kind
from portico.model.vocabulary import ConditionStatus, CRDConditionType

log = logging.getLogger("portico.gatewayapi")

VERSION = "v1.6.1"
URL = ("https://github.com/kubernetes-sigs/gateway-api/releases/download/"
       f"{VERSION}/standard-install.yaml")
SHA256 = "8ae37311f086cc20dab403ff7f1a8343a9d1568b7b825d7596a384357e5a8e8c"
ENV_VARIABLE = "PORTICO_GATEWAY_API_CRDS"
DISABLED = "none"  # as the file: install nothing
STATE_FILE = "gateway-api.json"
DOWNLOAD_TIMEOUT_SECONDS = 20.0

Fetch = Callable[[str], bytes]


class State(StrEnum):
    INSTALLING = "installing"
    INSTALLED = "installed"
    UNAVAILABLE = "unavailable"


class BundleError(Exception):
    """No usable bundle from one source; the message says why."""


@dataclass(frozen=True)
class Bundle:
    text: bytes
    source: str


def bundle_option(text: str) -> Path:
    """`--gateway-api-crds`'s value: an absolute path, or `none`."""
    return Path(text) if text == DISABLED else Path(text).absolute()


def cache_path(data_dir: Path) -> Path:
    return data_dir / "gateway-api" / f"standard-install-{VERSION}.yaml"


def verified(text: bytes, source: str) -> Bundle:
    """The bundle if it is the pinned release's file, else BundleError."""
    digest = hashlib.sha256(text).hexdigest()
    if digest != SHA256:
        raise BundleError(f"{source}: sha256 {digest} is not Gateway API {VERSION}'s "
                          f"standard-install.yaml ({SHA256})")
    return Bundle(text, source)


def _read(path: Path) -> Bundle:
    try:
        return verified(path.read_bytes(), str(path))
    except OSError as exc:
        raise BundleError(f"{path}: {exc.strerror or exc}") from None


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        body: bytes = response.read()
        return body


def locate(option: Path | None, data_dir: Path, fetch: Fetch = download,
           url: str = URL) -> Bundle:
    """The bundle from the first source that names one (see the module docstring)."""
    given = option or (Path(os.environ[ENV_VARIABLE]) if os.environ.get(ENV_VARIABLE) else None)
    if given == Path(DISABLED):
        raise BundleError(f"the bundle's file is {DISABLED!r}")
    if given is not None:
        return _read(given)
    cached = cache_path(data_dir)
    if cached.exists():
        return _read(cached)
    try:
        bundle = verified(fetch(url), url)
    except OSError as exc:
        raise BundleError(f"cannot download {url} ({exc}); offline, pass the file with "
                          f"--gateway-api-crds or ${ENV_VARIABLE}") from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    partial.write_bytes(bundle.text)
    partial.replace(cached)
    return bundle


def documents(bundle: Bundle) -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(bundle.text, Loader=loader) if doc]


def crd_names(docs: list[dict[str, Any]]) -> list[str]:
    return [d["metadata"]["name"] for d in docs if d.get("kind") == "CustomResourceDefinition"]


def write_state(data_dir: Path, state: State, reason: str = "", source: str = "",
                crds: list[str] | None = None, objects: dict[str, str] | None = None) -> None:
    """`gateway-api.json`: the state, why, from where, the CRDs and the applied objects'
    fingerprints (written whole, then renamed)."""
    path = data_dir / STATE_FILE
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"version": VERSION, "sha256": SHA256, "state": state.value,
                                   "reason": reason, "source": source, "crds": crds or [],
                                   "objects": objects or {}}))
    partial.replace(path)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state


def fingerprint(obj: dict[str, Any]) -> str:
    """What changes when anyone changes an object after we applied it: its uid (deleted
    and recreated), generation (spec) and labels and annotations; not its status."""
    meta = obj["metadata"]
    labels = json.dumps([meta.get("labels"), meta.get("annotations")], sort_keys=True)
    return f"{meta['uid']}/{meta.get('generation')}/{hashlib.sha256(labels.encode()).hexdigest()}"


async def _unchanged(kubeconfig: Path, recorded: dict[str, str]) -> bool:
    """Every object we applied last time is still as we left it (a restart)."""
    client = Api.connect(kubeconfig, "portico")
    try:
        for key, expected in recorded.items():
            api_version, kind, plural, name = key.split(" ")
            live = await client.get_or_none(Kind.of(api_version, kind, plural, False), name)
            if live is None or fingerprint(live) != expected:
                return False
    finally:
        await client.close()
    return bool(recorded)


def _fingerprints(applied: list[dict[str, Any]]) -> dict[str, str]:
    plurals = {"CustomResourceDefinition": "customresourcedefinitions",
               "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
               "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings"}
    return {f"{o['apiVersion']} {o['kind']} {plurals[o['kind']]} {o['metadata']['name']}":
            fingerprint(o) for o in applied}


async def install(kubeconfig: Path, data_dir: Path, option: Path | None) -> str:
    """Find, verify and server-side apply the bundle; what happened, for `portico up`'s
    progress.  Never raises: the cluster works on without the CRDs.  On a restart
    where nothing changed what we applied, nothing is applied again (the addon
    manager's no-op, without the cost of server-side applying 1.4 MB of CRDs)."""
    from portico.cli._addons import apply_documents

    previous = read_state(data_dir) or {}
    if (previous.get("state") == State.INSTALLED and previous.get("sha256") == SHA256
            and await _unchanged(kubeconfig, previous.get("objects") or {})):
        return f"Gateway API {VERSION} standard CRDs in place"
    write_state(data_dir, State.INSTALLING)
    try:
        bundle = await asyncio.to_thread(locate, option, data_dir)
        docs = await asyncio.to_thread(documents, bundle)
    except (BundleError, yaml.YAMLError) as exc:
        log.warning("Gateway API CRDs not installed: %s", exc)
        write_state(data_dir, State.UNAVAILABLE, reason=str(exc))
        return f"Gateway API CRDs not installed: {exc}"
    applied = [o for o in await apply_documents(kubeconfig, "gateway-api", docs) if o]
    if len(applied) < len(docs):
        reason = f"{len(docs) - len(applied)} of {len(docs)} objects refused (see the log)"
        write_state(data_dir, State.UNAVAILABLE, reason=reason, source=bundle.source)
        return f"Gateway API CRDs not installed: {reason}"
    write_state(data_dir, State.INSTALLED, source=bundle.source, crds=crd_names(docs),
                objects=_fingerprints(applied))
    log.info("Gateway API %s standard CRDs applied from %s", VERSION, bundle.source)
    return f"Gateway API {VERSION} standard CRDs applied"


async def ready(data_dir: Path, api: Api) -> tuple[bool, str]:
    """For `portico wait`: every CRD of the bundle Established, or no bundle to be had
    (the cluster works without: ready, saying why)."""
    state = read_state(data_dir)
    if state is None or state["state"] == State.INSTALLING:
        return False, "Gateway API CRDs not installed yet"
    if state["state"] == State.UNAVAILABLE:
        return True, f"ready without the Gateway API CRDs: {state['reason']}"
    for name in state["crds"]:
        try:
            crd = await api.get(CUSTOM_RESOURCE_DEFINITION, name)
        except ApiError as exc:
            return False, f"CRD {name}: {exc.code}"
        conditions = (crd.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == CRDConditionType.ESTABLISHED
                   and c.get("status") == ConditionStatus.TRUE for c in conditions):
            return False, f"CRD {name} not Established yet"
    return True, f"ready, Gateway API {VERSION} CRDs Established"
