"""Pulling an image into the store with skopeo, as containerd's PullImage does.

For each endpoint (mirrors first, `_registries`) and each credential in turn
(refused: the next one is tried): `skopeo inspect --raw docker://HOST/PATH:TAG`
gives the top-level manifest (an index for a multi-arch image): its sha256 is the
repo digest containerd reports in `imageID`.  If the store already has that digest
for the reference, nothing is copied (a pull with `Always` of an unchanged image
costs one request); otherwise `skopeo copy` (started at once, beside the inspect,
when the store has nothing to compare) copies this machine's platform into the
shared layout (blobs already there are not fetched again) while its layers are
unpacked as they arrive (`_layers.Follower`), the image is described, checked for
the platform and its remaining layers unpacked, and only then tagged for the node:
a failed pull leaves no tag and no half-unpacked layer.  skopeo runs in the network
namespace given (`nsenter --net`): the machine's, where the registries are
reachable, not the node's.

Errors read as containerd's (`failed to pull and unpack image "REF": ...`), with
skopeo's own reason; "not found" and "pull access denied" are worded as
containerd words them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import platform
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from portico.images._reference import Reference
from portico.oci._layers import Follower
from portico.oci._registries import Credential, Endpoint, Registries
from portico.oci._store import ImageStore, StoredImage, StoreError, last_line, layout_key

SKOPEO = "skopeo"
NSENTER = "nsenter"
ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
                 "s390x": "s390x"}


class PullError(Exception):
    """The pull failed; the message is the runtime's error, as kubelet shows it."""


class _Refused(Exception):
    """The registry refused the reference with these credentials: the reason."""


@dataclass(frozen=True)
class Pulled:
    image: StoredImage
    seconds: float


def host_architecture() -> str:
    machine = platform.machine()
    return ARCHITECTURES.get(machine, machine)


def full_ref(ref: Reference) -> str:
    """containerd's normalized name: `docker.io/library/redis:latest`."""
    if ref.digest:
        return f"{ref.name}@{ref.digest}"
    return f"{ref.name}:{ref.tag or 'latest'}"


def _in_netns(argv: Sequence[str], netns: str) -> list[str]:
    return [NSENTER, f"--net={netns}", "--", *argv] if netns else list(argv)


def _run(argv: Sequence[str], netns: str, timeout: float) -> tuple[int, bytes, str]:
    try:
        done = subprocess.run(_in_netns(argv, netns), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return 1, b"", f"{argv[1]} timed out after {timeout:.0f}s"
    return done.returncode, done.stdout, done.stderr.decode(errors="replace")


def _flags(prefix: str, endpoint: Endpoint, credential: Credential | None) -> list[str]:
    flags = [f"--{prefix}tls-verify=false"] if endpoint.insecure else []
    if credential is not None:
        flags.append(f"--{prefix}creds={credential[0]}:{credential[1]}")
    return flags


def _source(endpoint: Endpoint, ref: Reference) -> str:
    suffix = f"@{ref.digest}" if ref.digest else f":{ref.tag or 'latest'}"
    return f"docker://{endpoint.host}/{ref.path}{suffix}"


def _reason(name: str, message: str) -> str:
    lowered = message.lower()
    if "manifest unknown" in lowered or "not found" in lowered and "manifest" in lowered:
        return f'failed to resolve reference "{name}": {name}: not found'
    if "unauthorized" in lowered or "authentication required" in lowered \
            or "denied" in lowered:
        return (f'failed to resolve reference "{name}": pull access denied, repository does '
                f"not exist or may require authorization: {message}")
    return message


class Puller:
    def __init__(self, store: ImageStore, registries: Registries, netns: str = "") -> None:
        self.store = store
        self.registries = registries
        self.netns = netns

    async def pull(self, ref: Reference, node: str,
                   credentials: Sequence[Credential] = ()) -> Pulled:
        """Pull `ref` for `node` (in a thread: skopeo and the store lock block)."""
        return await asyncio.to_thread(self.pull_sync, ref, node, credentials)

    def pull_sync(self, ref: Reference, node: str,
                  credentials: Sequence[Credential] = ()) -> Pulled:
        name, started = full_ref(ref), time.monotonic()
        error = "no endpoint"
        for endpoint in self.registries.endpoints(ref.registry):
            tries = [*credentials, *([endpoint.credential] if endpoint.credential else []),
                     None]
            for credential in dict.fromkeys(tries):
                try:
                    image = self._copy(ref, name, endpoint, credential, node)
                except _Refused as refused:
                    error = str(refused)
                    continue
                return Pulled(image, time.monotonic() - started)
        raise PullError(_failed(name, error))

    def _digest(self, ref: Reference, name: str, endpoint: Endpoint,
                credential: Credential | None) -> str:
        """The top-level manifest's digest; `_Refused` with the registry's reason."""
        code, raw, err = _run([SKOPEO, "inspect", "--raw", *_flags("", endpoint, credential),
                               _source(endpoint, ref)], self.netns, 60)
        if code != 0:
            raise _Refused(_reason(name, last_line(err)))
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def _copy(self, ref: Reference, name: str, endpoint: Endpoint,
              credential: Credential | None, node: str) -> StoredImage:
        """Inspect; copy (unless the store has this digest), check, unpack, tag: all
        under the store's lock (skopeo does not lock the layout's index.json).  A first
        pull copies while it inspects (nothing to compare the digest with)."""
        key = layout_key(name)
        with ThreadPoolExecutor(1) as pool:
            digest = pool.submit(self._digest, ref, name, endpoint, credential)
            return self._copy_locked(ref, name, key, endpoint, credential, node, digest)

    def _copy_locked(self, ref: Reference, name: str, key: str, endpoint: Endpoint,
                     credential: Credential | None, node: str,
                     digest: Future[str]) -> StoredImage:
        with self.store.locked(), contextlib.ExitStack() as stack:
            known = self.store.lookup(name)
            claim = None
            if known is None or known.repo_digest != digest.result():
                argv = [SKOPEO, "copy", "--quiet", *_flags("src-", endpoint, credential),
                        _source(endpoint, ref), f"oci:{self.store.layout}:{key}"]
                claim = stack.enter_context(self._copying(argv, name, digest)).claim
            try:
                image = self.store.describe(name, key, digest.result())
                check_platform(self.store.config(image).get("architecture", ""))
                self.store.unpacked(image, claim)
            except StoreError as error:
                raise PullError(_failed(name, str(error))) from None
            return self.store.record(image, (node,))

    @contextlib.contextmanager
    def _copying(self, argv: list[str], name: str,
                 digest: Future[str]) -> Iterator[Follower]:
        """skopeo copy, its layers unpacked as they arrive (`Follower`)."""
        self.store.layout.mkdir(parents=True, exist_ok=True)
        copy = subprocess.Popen(_in_netns(argv, self.netns), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with Follower(self.store.layout, self.store.layers, copy) as follower:
            try:
                _, err = copy.communicate(timeout=1800)
            except subprocess.TimeoutExpired:
                copy.kill()
                copy.communicate()
                raise PullError(_failed(name, "skopeo copy timed out after 1800s")) from None
            if copy.returncode != 0:
                digest.result()  # refused (the next credential is tried): its reason
                raise PullError(_failed(name, _reason(name, last_line(
                    err.decode(errors="replace")))))
            yield follower


def _failed(name: str, error: str) -> str:
    return f'rpc error: code = Unknown desc = failed to pull and unpack image "{name}": {error}'


def check_platform(architecture: str) -> None:
    if architecture and architecture != host_architecture():
        raise StoreError(f"no match for platform in manifest: image is for "
                         f"linux/{architecture}, this machine is linux/{host_architecture()}: "
                         "not found")
