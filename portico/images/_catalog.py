"""The images built into Portico: what each image's ENTRYPOINT, CMD and ENV are.

Theory of operation: a container image, for Portico, is just its runtime config (the
parts of an OCI image config the kubelet uses): `entrypoint` (ENTRYPOINT), `cmd`
(CMD), `env` (ENV) and `working_dir` (WORKDIR), plus `binaries`: executables the
image ships at a path, so that `command: ["/agnhost", "netexec"]` or
`command: ["nginx", "-g", "daemon off;"]` run Portico's implementation. Everything
runs on the host's filesystem (no mount namespace), inside the pod's network namespace.

Images are keyed by normalized repository name (see `_reference`), so every tag and
registry alias of an image resolves to the same config.

`busybox` runs its commands' applets with this machine's `/bin/busybox` (`_busybox`).
`HOST_TOOLS` are fallbacks for base images (busybox without `/bin/busybox`, alpine,
...) when the machine lacks a tool their users expect: Debian hosts often have no
`wget`/`nslookup`. They apply only when the tool is not on the image's PATH.

Pure: the table is data; `sys.executable` is the interpreter running Portico.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from portico.images._busybox import BUSYBOX

# The directory that holds the `portico` package, so `python -m portico...` imports it
# whatever the container's workingDir.
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
# Docker's default PATH, which every base image sets in its ENV.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NGINX_BINARY = "/usr/sbin/nginx"
# An entrypoint script that only execs its arguments: a binary mapped to () is dropped.
EXEC_ARGUMENTS = "/docker-entrypoint.sh"


def python_module(module: str) -> tuple[str, ...]:
    """argv that runs one of Portico's modules with the interpreter running Portico."""
    return (sys.executable, "-m", module)


@dataclass(frozen=True)
class ImageConfig:
    """An image's runtime config: OCI ENTRYPOINT / CMD / ENV / WORKDIR, plus its binaries."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    binaries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Whether commands run with HOST_TOOLS fallbacks (base images with a shell and tools).
    host_tools: bool = False
    # A multi-call binary whose applets the image's commands are (busybox), if any.
    multicall: str | None = None


PYTHON_ENV: Mapping[str, str] = {
    "PATH": DEFAULT_PATH,
    "PYTHONPATH": PROJECT_ROOT,
    "PYTHONUNBUFFERED": "1",
}

WGET = python_module("portico.images.wget")
NSLOOKUP = python_module("portico.images.nslookup")
HOST_TOOLS: Mapping[str, tuple[str, ...]] = {"wget": WGET, "nslookup": NSLOOKUP}

AGNHOST = python_module("portico.images.agnhost")
NGINX = python_module("portico.images.nginx")

_AGNHOST_BINARIES = {"/agnhost": AGNHOST, "agnhost": AGNHOST, "/agnhost-2": AGNHOST}
_AGNHOST = ImageConfig(
    entrypoint=("/agnhost",),
    cmd=("pause",),
    env=PYTHON_ENV,
    binaries=_AGNHOST_BINARIES,
    host_tools=True,
)
_PAUSE = ImageConfig(
    entrypoint=("/pause",),
    env=PYTHON_ENV,
    binaries={"/pause": python_module("portico.images.pause")},
)
# The official image: ENTRYPOINT ["/docker-entrypoint.sh"] (which execs its arguments),
# CMD ["nginx", "-g", "daemon off;"].
_NGINX = ImageConfig(
    cmd=("nginx", "-g", "daemon off;"),
    env=PYTHON_ENV,
    binaries={"nginx": NGINX, NGINX_BINARY: NGINX, EXEC_ARGUMENTS: ()},
    host_tools=True,
)


def _base(*cmd: str, entrypoint: tuple[str, ...] = ()) -> ImageConfig:
    return ImageConfig(entrypoint=entrypoint, cmd=cmd, env=PYTHON_ENV, host_tools=True)


# busybox: CMD ["sh"]; every command that names an applet runs busybox's (`_busybox`).
_BUSYBOX = ImageConfig(cmd=("sh",), env=PYTHON_ENV, host_tools=True, multicall=BUSYBOX,
                       binaries={"busybox": (BUSYBOX,)})


# curlimages/curl: ENTRYPOINT ["/entrypoint.sh"], CMD ["curl"]; the entrypoint prepends
# `curl` when the first argument is a flag, then execs its arguments.
_CURL_ENTRYPOINT = (
    "/bin/sh",
    "-c",
    'case "$1" in -*) set -- curl "$@";; esac; exec "$@"',
    "curl-entrypoint",
)

BUILTIN: Mapping[str, ImageConfig] = {
    "registry.k8s.io/pause": _PAUSE,
    "k8s.gcr.io/pause": _PAUSE,
    "gcr.io/google-containers/pause": _PAUSE,
    "registry.k8s.io/e2e-test-images/agnhost": _AGNHOST,
    "k8s.gcr.io/e2e-test-images/agnhost": _AGNHOST,
    "docker.io/portico/agnhost": _AGNHOST,
    "docker.io/library/nginx": _NGINX,
    "docker.io/nginxinc/nginx-unprivileged": _NGINX,
    "docker.io/library/busybox": _BUSYBOX,
    "registry.k8s.io/e2e-test-images/busybox": _BUSYBOX,
    "registry.k8s.io/busybox": _BUSYBOX,
    "docker.io/library/alpine": _base("/bin/sh"),
    "docker.io/library/debian": _base("bash"),
    "docker.io/library/ubuntu": _base("/bin/bash"),
    "docker.io/library/fedora": _base("/bin/bash"),
    "docker.io/library/python": _base("python3"),
    "docker.io/curlimages/curl": _base("curl", entrypoint=_CURL_ENTRYPOINT),
    "docker.io/portico/coredns": ImageConfig(
        entrypoint=python_module("portico.dns"), env=PYTHON_ENV
    ),
    "docker.io/portico/ingress-controller": ImageConfig(
        entrypoint=python_module("portico.ingress"), env=PYTHON_ENV
    ),
    "docker.io/portico/gateway-controller": ImageConfig(
        entrypoint=python_module("portico.gateway"), cmd=("controller",), env=PYTHON_ENV
    ),
    "docker.io/portico/gateway-proxy": ImageConfig(
        entrypoint=python_module("portico.gateway"), cmd=("proxy",), env=PYTHON_ENV
    ),
    "registry.k8s.io/gateway-api/conformance/echo-basic": ImageConfig(
        entrypoint=python_module("portico.images.echo_basic"), env=PYTHON_ENV
    ),
}
