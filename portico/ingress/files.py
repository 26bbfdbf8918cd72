"""Write a `Rendered` into a directory, each file atomically (write a temp file, rename).

Layout under the directory (the `Settings.state_dir` the text was rendered for):
`haproxy.cfg`, `maps/<name>.map`, `tls/default.pem`, `tls/crt-list`,
`tls/certs/<namespace>_<secret>.pem`, `auth.lua` (only when needed). Sockets live
in `Settings.run_dir`, a short path of their own. Certificate files no longer
rendered are removed. Private keys are written mode 0600.
"""

from __future__ import annotations

import os
from pathlib import Path

from portico.ingress.render import AUTH_LUA, Rendered


def write_atomic(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write `text` to `path` unless it already holds it; True when the file changed."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return True


def write_files(directory: Path, rendered: Rendered, config_name: str = "haproxy.cfg") -> None:
    """Everything but the config first, so the config never names a file not yet there."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.maps.items():
        write_atomic(directory / "maps" / name, text)
    certs = directory / "tls" / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    for name, pem in rendered.certificates.items():
        write_atomic(certs / name, pem, 0o600)
    for stale in certs.iterdir():
        if stale.name not in rendered.certificates and not stale.name.startswith("."):
            stale.unlink()
    write_atomic(directory / "tls" / "default.pem", rendered.default_certificate, 0o600)
    write_atomic(directory / "tls" / "crt-list", rendered.crt_list)
    if rendered.lua:
        write_atomic(directory / AUTH_LUA, rendered.lua)
    write_atomic(directory / config_name, rendered.config)
