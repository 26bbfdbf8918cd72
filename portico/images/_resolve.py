"""Resolve a container (image, command, args) to the process to exec.

Theory of operation, with the kubelet's semantics:

1. The image reference is parsed and normalized (`_reference`); a malformed one fails
   with `InvalidImageName`.
2. Its config comes from the user's mappings first, then the built-in catalogue.
   An unknown image still runs when the container has a `command`: the command runs
   on this machine's filesystem (as if the image were a base image). Without a
   command its entrypoint is unknown: `ErrImagePull`, with a message saying how to
   map it.
3. argv = (`command` or the image ENTRYPOINT) + (`args`, else the image CMD unless
   `command` was given): `command` replaces ENTRYPOINT and drops CMD, `args` replaces
   CMD. Empty lists count as unset. An empty argv fails with `CreateContainerError`.
4. argv[0] is looked up in the image's `binaries` (e.g. `/agnhost` -> Portico's Python
   agnhost); a binary mapped to `()` is an exec-its-arguments entrypoint and is
   dropped. In busybox images an applet name (`sh`, `nc`, `/bin/wget`) runs as
   `/bin/busybox APPLET ...` when the machine has it. For base images, a tool
   missing on this machine (`wget`, `nslookup`) runs Portico's Python stand-in.

`expand` implements the kubelet's `$(VAR)` references in command and args; the agent
applies it with the container's environment before calling `resolve`.

The result's `env` is the image's ENV: the agent starts the process from it, then the
container's own `env` on top (container values win), as a container runtime does.
`working_dir` None means the image sets no WORKDIR: the agent picks (the container's
scratch directory), because processes share the host's filesystem.

Pure apart from the injected `which` (default: `shutil.which` over the image's PATH).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from portico.images import _reference
from portico.images._busybox import APPLET_DIRS, APPLETS
from portico.images._catalog import BUILTIN, DEFAULT_PATH, HOST_TOOLS, PYTHON_ENV, ImageConfig
from portico.images._mappings import MappingSource

Which = Callable[[str, str], str | None]
"""`which(name, path)`: the executable `name` resolves to on `path`, or None."""

# What an unknown image runs with a command: this machine's programs, with the fallbacks.
_HOST_FILESYSTEM = ImageConfig(env=PYTHON_ENV, host_tools=True)
_MAX_EXEC_ENTRYPOINTS = 4


class ImageErrorReason(StrEnum):
    """The container's `state.waiting.reason` when it cannot start (kubelet vocabulary)."""

    INVALID_IMAGE_NAME = "InvalidImageName"  # the reference does not parse
    ERR_IMAGE_PULL = "ErrImagePull"  # neither built in nor mapped, and no command given
    CREATE_CONTAINER_ERROR = "CreateContainerError"  # resolves to no command at all


class ImageError(Exception):
    """The container cannot start; `reason` and `message` go into its waiting state."""

    def __init__(self, reason: ImageErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Resolved:
    """The process to exec for a container."""

    argv: list[str]
    env: dict[str, str]  # the image's ENV; the container's env is merged over it
    working_dir: str | None  # the image's WORKDIR; container.workingDir wins


def _host_which(name: str, path: str) -> str | None:
    return shutil.which(name, path=path)


def _config(image: str, command: list[str] | None, mappings: MappingSource) -> ImageConfig:
    try:
        ref = _reference.parse(image)
    except ValueError as error:
        raise ImageError(
            ImageErrorReason.INVALID_IMAGE_NAME,
            f'Failed to apply default image tag "{image}": couldn\'t parse image name '
            f'"{image}": {error}',
        ) from None
    config = mappings.lookup(ref) or BUILTIN.get(ref.name)
    if config is not None:
        return config
    if command:
        return _HOST_FILESYSTEM
    raise ImageError(
        ImageErrorReason.ERR_IMAGE_PULL,
        f'image "{image}" is not built into portico, so what it runs is unknown; '
        f"set the container's command (not only args) to run a program of this machine, "
        f"or map the image in {mappings.hint}",
    )


def _applet(name: str) -> str | None:
    """The busybox applet `name` (`nc`, `/bin/nc`) runs, if it names one."""
    directory, _, applet = name.rpartition("/")
    if (directory and directory not in APPLET_DIRS) or applet not in APPLETS:
        return None
    return applet


def _substitute(argv: list[str], config: ImageConfig, path: str, which: Which) -> list[str]:
    for _ in range(_MAX_EXEC_ENTRYPOINTS):
        if not argv or argv[0] not in config.binaries:
            break
        argv = [*config.binaries[argv[0]], *argv[1:]]
    multicall = config.multicall
    if argv and multicall and (applet := _applet(argv[0])) and which(multicall, path):
        return [multicall, applet, *argv[1:]]
    if argv and config.host_tools:
        tool = os.path.basename(argv[0])
        if tool in HOST_TOOLS and which(argv[0], path) is None:
            argv = [*HOST_TOOLS[tool], *argv[1:]]
    return argv


def resolve(
    image: str,
    command: list[str] | None,
    args: list[str] | None,
    mappings: MappingSource,
    *,
    which: Which = _host_which,
) -> Resolved:
    """The process for a container of `image` with the pod's `command` and `args`."""
    config = _config(image, command, mappings)
    # command replaces ENTRYPOINT and drops CMD; args replace CMD.
    argv = [*command, *(args or [])] if command else [*config.entrypoint, *(args or config.cmd)]
    env = dict(config.env)
    argv = _substitute(argv, config, env.get("PATH", DEFAULT_PATH), which)
    if not argv:
        raise ImageError(
            ImageErrorReason.CREATE_CONTAINER_ERROR,
            f'no command specified: image "{image}" has no entrypoint or cmd, '
            "and the container sets neither command nor args",
        )
    return Resolved(argv=argv, env=env, working_dir=config.working_dir)


_REFERENCE = re.compile(r"\$(\$|\(([^)]*)\))")


def expand(value: str, env: Mapping[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion: `$(VAR)` -> its value if defined, `$$` -> `$`.

    Undefined references and a `$` before anything else are left as written.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name = match.group(2)
        return env.get(name, match.group(0)) if name else match.group(0)

    return _REFERENCE.sub(replace, value)
