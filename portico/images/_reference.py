"""Image references: parse `[registry/]repository[:tag][@digest]` and normalize the name.

Theory of operation: Portico never pulls images, it only needs to *recognize* them.
A reference is matched on its normalized repository name, without tag or digest,
following Docker's normalization (as containerd and the kubelet do):

- the first path component is a registry if it contains `.` or `:` or is `localhost`;
  otherwise the registry is `docker.io`;
- `index.docker.io` is an alias of `docker.io`;
- on `docker.io`, a single-component name lives under `library/`.

So `nginx`, `nginx:1.27-alpine`, `library/nginx`, `docker.io/library/nginx@sha256:...`
all normalize to `docker.io/library/nginx`. Malformed references (upper case, empty
components, bad tags or digests) raise `ValueError`; callers turn that into the
kubelet's `InvalidImageName`.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
OFFICIAL_NAMESPACE = "library"

# One repository path component (docker/distribution's reference grammar).
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
_REGISTRY = re.compile(r"[a-zA-Z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; `name` is the normalized `registry/path` to match on."""

    registry: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.path}"


def _split_registry(remainder: str) -> tuple[str, str]:
    first, sep, rest = remainder.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _REGISTRY.fullmatch(first):
            raise ValueError(f"invalid registry {first!r}")
        registry = DOCKER_HUB if first in DOCKER_HUB_ALIASES else first
        return registry, rest
    return DOCKER_HUB, remainder


def parse(image: str) -> Reference:
    """Parse and normalize an image reference; `ValueError` says what is malformed."""
    if not image or image != image.strip():
        raise ValueError("image reference is empty or has surrounding spaces")
    remainder, _, digest = image.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise ValueError(f"invalid digest {digest!r}")
    tag: str | None = None
    slash = remainder.rfind("/")
    colon = remainder.rfind(":")
    if colon > slash:
        remainder, tag = remainder[:colon], remainder[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"invalid tag {tag!r}")
    registry, path = _split_registry(remainder)
    components = path.split("/")
    for component in components:
        if not _COMPONENT.fullmatch(component):
            raise ValueError(
                f"invalid repository name component {component!r} "
                "(lower case letters, digits and separators . _ __ - only)"
            )
    if registry == DOCKER_HUB and len(components) == 1:
        path = f"{OFFICIAL_NAMESPACE}/{path}"
    return Reference(registry=registry, path=path, tag=tag, digest=digest or None)


def normalize(image: str) -> str:
    """The normalized repository name of `image` (no tag, no digest)."""
    return parse(image).name
