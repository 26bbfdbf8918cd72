"""Built-in images: which process runs for a container image, and the test servers.

Portico pulls no images. A container is a process started in its pod's network
namespace, on this machine's filesystem; this package decides its argv:

- `registry.k8s.io/pause`: sleeps until SIGTERM/SIGINT (`portico.images.pause`).
- `registry.k8s.io/e2e-test-images/agnhost` (also `portico/agnhost`): Portico's Python
  agnhost (`portico.images.agnhost`): `netexec`, `serve-hostname`, `pause`.
- `nginx`: Debian's `/usr/sbin/nginx` serving the welcome page on port 80, with a private
  prefix under `$PORTICO_CONTAINER_DIR` (`portico.images.nginx`).
- base images (`busybox`, `alpine`, `debian`, `ubuntu`, `fedora`, `python`,
  `curlimages/curl`): their CMD (`sh`, `bash`, ...) or the container's command, run with
  this machine's tools; in `busybox`, a command naming a busybox applet runs the
  machine's `/bin/busybox` (`_busybox`); `wget` and `nslookup` fall back to Python
  stand-ins (`portico.images.wget`, `portico.images.nslookup`) when the machine lacks
  them.
- addons: `portico/coredns` -> `python -m portico.dns`, `portico/ingress-controller`
  -> `python -m portico.ingress`.
- any other image runs only with an explicit command (on this machine), or when mapped
  in the user's file (see `_mappings`; `MappingsFile` re-reads it when it changes).

Entry points are in modules without an underscore (run with `python -m`); this
`__init__` imports no third-party module, so they start fast.
"""

from portico.images._catalog import BUILTIN, ImageConfig
from portico.images._mappings import (
    Mappings,
    MappingsError,
    MappingSource,
    default_path,
    load_mappings,
    parse_mappings,
)
from portico.images._reference import Reference, normalize, parse
from portico.images._resolve import (
    ImageError,
    ImageErrorReason,
    Resolved,
    Which,
    expand,
    resolve,
)
from portico.images._watched import MappingsFile

__all__ = [
    "BUILTIN",
    "ImageConfig",
    "ImageError",
    "ImageErrorReason",
    "MappingSource",
    "Mappings",
    "MappingsError",
    "MappingsFile",
    "Reference",
    "Resolved",
    "Which",
    "default_path",
    "expand",
    "load_mappings",
    "normalize",
    "parse",
    "parse_mappings",
    "resolve",
]
