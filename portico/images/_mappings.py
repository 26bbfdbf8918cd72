"""User image mappings: teach Portico what a non-built-in image runs.

Theory of operation: the file is YAML, read by whoever resolves images (the node
agent, through `MappingsFile`, which re-reads it when it changes):

    images:
      myrepo/app:                 # every tag of docker.io/myrepo/app
        command: ["/usr/bin/python3", "-m", "http.server"]   # the image's ENTRYPOINT
        args: ["8000"]                                         # the image's CMD
        env: {GREETING: hello}                                 # the image's ENV
        workingDir: /srv                                       # the image's WORKDIR
      myrepo/web:2:               # only tag 2 (a tagged key wins over an untagged one)
        image: nginx              # run it as a built-in image; other keys override it

Keys are image references normalized like the images they match (`app` means
`docker.io/library/app`). A pod's `command` / `args` then replace the mapped command /
args exactly as they replace an image's ENTRYPOINT / CMD.

Location: `load_mappings(path)`; with no path, `$PORTICO_IMAGES` if set, else
`$XDG_CONFIG_HOME/portico/images.yaml` (default `~/.config/portico/images.yaml`),
as seen by `portico up`, which writes the path into each node's agent.json.
A missing default file means no mappings; a missing explicit file is an error.
Entries take precedence over the built-in images, so a user may remap `nginx`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from portico.images import _reference
from portico.images._catalog import BUILTIN, PYTHON_ENV, ImageConfig

ENV_VAR = "PORTICO_IMAGES"
DEFAULT_HINT = f"~/.config/portico/images.yaml (or the file named by ${ENV_VAR})"
_KEYS = frozenset({"command", "args", "env", "workingDir", "image"})


class MappingsError(ValueError):
    """The mappings file is unreadable or malformed; the message names the file and key."""


@dataclass(frozen=True)
class Mappings:
    """Image configs by normalized name (`registry/path`, or `registry/path:tag`)."""

    images: Mapping[str, ImageConfig] = field(default_factory=dict)
    source: Path | None = None

    def lookup(self, ref: _reference.Reference) -> ImageConfig | None:
        if ref.tag is not None and (tagged := self.images.get(f"{ref.name}:{ref.tag}")):
            return tagged
        return self.images.get(ref.name)

    @property
    def hint(self) -> str:
        """Where a user would add a mapping, for error messages."""
        return str(self.source) if self.source is not None else DEFAULT_HINT


class MappingSource(Protocol):
    """What `resolve` needs: `Mappings`, or a `MappingsFile` that follows its file."""

    def lookup(self, ref: _reference.Reference) -> ImageConfig | None: ...

    @property
    def hint(self) -> str: ...


def default_path() -> tuple[Path, bool]:
    """The mappings file to read, and whether the user named it explicitly."""
    if named := os.environ.get(ENV_VAR):
        return Path(named).expanduser(), True
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "portico" / "images.yaml", False


def _strings(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MappingsError(f"{where}: must be a list of strings")
    return tuple(value)


def _entry(where: str, raw: object) -> ImageConfig:
    if not isinstance(raw, dict):
        raise MappingsError(f"{where}: must be a mapping with keys {sorted(_KEYS)}")
    if unknown := sorted(set(raw) - _KEYS):
        raise MappingsError(f"{where}: unknown keys {unknown}; allowed: {sorted(_KEYS)}")
    base = ImageConfig(env=PYTHON_ENV, host_tools=True)
    if "image" in raw:
        target = raw["image"]
        name = _normalized(f"{where}.image", target if isinstance(target, str) else "")
        name = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        if name not in BUILTIN:
            raise MappingsError(f"{where}.image: {target!r} is not a built-in image")
        base = BUILTIN[name]
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise MappingsError(f"{where}.env: must map names to strings")
    working_dir = raw.get("workingDir", base.working_dir)
    if working_dir is not None and not isinstance(working_dir, str):
        raise MappingsError(f"{where}.workingDir: must be a string")
    return replace(
        base,
        entrypoint=_strings(f"{where}.command", raw["command"])
        if "command" in raw
        else base.entrypoint,
        cmd=_strings(f"{where}.args", raw["args"]) if "args" in raw else base.cmd,
        env={**base.env, **{str(k): v for k, v in env.items()}},
        working_dir=working_dir,
    )


def _normalized(where: str, image: str) -> str:
    try:
        ref = _reference.parse(image)
    except ValueError as error:
        raise MappingsError(f"{where}: invalid image reference {image!r}: {error}") from None
    if ref.digest is not None:
        raise MappingsError(f"{where}: digests are not supported in mapping keys")
    return ref.name if ref.tag is None else f"{ref.name}:{ref.tag}"


def parse_mappings(document: object, source: Path | None = None) -> Mappings:
    """Build `Mappings` from a parsed YAML document (pure; errors name `source`)."""
    prefix = f"{source}: " if source is not None else ""
    if document is None:
        return Mappings(source=source)
    if not isinstance(document, dict) or not isinstance(document.get("images", {}), dict):
        raise MappingsError(f"{prefix}expected a mapping with an `images` mapping")
    if unknown := sorted(set(document) - {"images"}):
        raise MappingsError(f"{prefix}unknown top-level keys {unknown}")
    images: dict[str, ImageConfig] = {}
    for key, raw in (document.get("images") or {}).items():
        where = f"{prefix}images.{key}"
        images[_normalized(where, str(key))] = _entry(where, raw)
    return Mappings(images=images, source=source)


def load_mappings(path: Path | None = None) -> Mappings:
    """Read the user's mappings file (see the module docstring for the location)."""
    import yaml  # deferred: the image entry points import this package and need no YAML

    explicit = path is not None
    if path is None:
        path, explicit = default_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        if explicit:
            raise MappingsError(f"{path}: no such image mappings file") from None
        return Mappings(source=path)
    except OSError as error:
        raise MappingsError(f"{path}: {error}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise MappingsError(f"{path}: not valid YAML: {error}") from None
    return parse_mappings(document, source=path)
