"""Where to pull from and with which credentials (pure apart from reading the file).

The registry configuration is k3s's `registries.yaml`:
```yaml
mirrors:
  docker.io:                  # or "*": every registry
    endpoint: ["http://127.0.0.1:5000", "https://mirror.example"]
configs:
  "mirror.example":
    auth: {username: u, password: p}     # or auth: <base64 user:pass>
    tls: {insecure_skip_verify: true}
```
`endpoints(registry)` lists the mirrors, in order, then the registry itself, as
containerd tries them.  An `http://` endpoint, `insecure_skip_verify`, and any
registry on localhost or a loopback address are used without TLS verification (so
plain HTTP works, as containerd allows for localhost).

Credentials follow kubelet's keyring: every `kubernetes.io/dockerconfigjson` (or
`.dockercfg`) pull secret whose key names the registry's host (`https://index.docker.io/v1/`
counts for docker.io) gives one credential, tried in turn, then the registry
configuration's own `auth`, then none.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ENV_VAR = "PORTICO_REGISTRIES"
DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
Credential = tuple[str, str]


@dataclass(frozen=True)
class Endpoint:
    host: str  # host[:port] to pull from
    insecure: bool  # plain HTTP or unverified TLS allowed
    credential: Credential | None = None


@dataclass(frozen=True)
class Registries:
    mirrors: dict[str, list[str]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def endpoints(self, registry: str) -> list[Endpoint]:
        urls = self.mirrors.get(registry) or self.mirrors.get("*") or []
        out = [self._endpoint(url) for url in urls]
        out.append(self._endpoint(registry))
        return out

    def _endpoint(self, url: str) -> Endpoint:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host = parts.netloc
        config = self.configs.get(host) or {}
        tls = config.get("tls") or {}
        insecure = parts.scheme == "http" or bool(tls.get("insecure_skip_verify")) \
            or is_loopback(host)
        return Endpoint(host, insecure, _auth(config.get("auth") or {}))


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith(
        "[") else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _auth(auth: dict[str, Any] | str) -> Credential | None:
    if isinstance(auth, str):
        user, _, password = base64.b64decode(auth).decode().partition(":")
        return user, password
    if auth.get("username"):
        return str(auth["username"]), str(auth.get("password") or "")
    if auth.get("auth"):
        return _auth(str(auth["auth"]))
    return None


def default_file() -> Path:
    if named := os.environ.get(ENV_VAR):
        return Path(named).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "portico" / "registries.yaml"


def load(path: Path | None) -> Registries:
    """The file's configuration; a missing file is an empty one."""
    if path is None:
        return Registries()
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        return Registries()
    mirrors = {str(k): [str(u) for u in (v or {}).get("endpoint") or []]
               for k, v in (document.get("mirrors") or {}).items()}
    return Registries(mirrors, {str(k): v or {} for k, v in
                                (document.get("configs") or {}).items()})


def _registry_of(key: str) -> str:
    host = urlsplit(key if "://" in key else f"https://{key}").netloc
    return DOCKER_HUB if host in _HUB_ALIASES else host


def secret_credentials(secret_data: dict[str, Any], registry: str) -> list[Credential]:
    """Credentials for `registry` in one pull secret's decoded `.dockerconfigjson`
    (`{"auths": {...}}`) or `.dockercfg` (the bare map)."""
    auths = secret_data.get("auths", secret_data)
    out = []
    for key, entry in auths.items():
        if isinstance(entry, dict) and _registry_of(str(key)) == registry:
            credential = _auth(entry)
            if credential is not None:
                out.append(credential)
    return out
