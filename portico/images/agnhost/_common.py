"""Helpers shared by the agnhost subcommands: Go-compatible formatting and parsing.

- `hostname()`: the pod's hostname. Pods here share the machine's UTS namespace, so the
  node agent passes the pod's hostname in `$HOSTNAME` (as the kubelet's pods see it);
  without it, the machine's name.
- `go_address(peer)`: a socket address as Go's `net.Addr.String()` prints it
  (`10.0.0.1:5000`, `[fd00::1]:5000`; IPv4-mapped IPv6 printed as IPv4).
- `go_duration(text)`: Go's `time.ParseDuration` (`1m30s`, `100ms`, `0`).
- `listen_host()`: the address servers bind; all addresses (as agnhost's `:PORT`) unless
  `$PORTICO_LISTEN_ADDRESS` names one. That variable is for tests on a shared machine.
- `log(message)`: Go's `log.Printf` line on stderr.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time

LISTEN_ADDRESS_ENV = "PORTICO_LISTEN_ADDRESS"

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def hostname() -> str:
    return os.environ.get("HOSTNAME") or socket.gethostname()


def listen_host() -> str | None:
    return os.environ.get(LISTEN_ADDRESS_ENV) or None


def go_address(peer: object) -> str:
    """Format a socket peer tuple like Go's `RemoteAddr` (`host:port`)."""
    if not isinstance(peer, tuple) or len(peer) < 2:
        return str(peer)
    host, port = str(peer[0]), int(peer[1])
    if host.startswith("::ffff:") and "." in host:
        host = host.removeprefix("::ffff:")
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def go_duration(text: str) -> float:
    """Seconds in a Go duration string; `ValueError` when it does not parse."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"time: invalid duration {text!r}")
    total, position = 0.0, 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return sign * total


def go_now() -> str:
    """The current time as Go's `fmt.Print(time.Now())` prints it (without `m=+...`)."""
    nanoseconds = time.time_ns()
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    local = time.localtime(seconds)
    offset = time.strftime("%z", local)
    zone = time.strftime("%Z", local)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', local)}.{fraction:09d} {offset} {zone}"


def log(message: str) -> None:
    stamp = time.strftime("%Y/%m/%d %H:%M:%S")
    sys.stderr.write(f"{stamp} {message}\n")
    sys.stderr.flush()
