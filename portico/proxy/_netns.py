"""Listening sockets inside another network namespace.

A socket belongs to the netns its creator thread was in when it was created,
and keeps it afterwards. So to listen inside `netns` from a process that runs
elsewhere (tests, benchmarks), a fresh thread `setns()`s into
`/run/netns/<netns>`, creates and binds the socket, and ends; the socket is
then served by the asyncio loop as usual. Python 3.11 has no `os.setns`, so
this calls libc's setns(2) through ctypes. With `netns=None` it is a plain bind.
"""

from __future__ import annotations

import socket
import threading

from portico.netns import enter_netns


def _bind(host: str, port: int, kind: socket.SocketKind) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    if kind == socket.SOCK_STREAM:
        sock.listen(128)
    sock.setblocking(False)
    return sock


def bind_socket(host: str, port: int, netns: str | None = None,
                kind: socket.SocketKind = socket.SOCK_STREAM) -> socket.socket:
    """A bound (and, for TCP, listening) non-blocking socket in `netns`."""
    if netns is None:
        return _bind(host, port, kind)
    result: list[socket.socket | BaseException] = []

    def inside() -> None:
        try:
            enter_netns(netns)
            result.append(_bind(host, port, kind))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            result.append(exc)

    thread = threading.Thread(target=inside, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]
