"""A throwaway network namespace `portico-t-ing<hex>` for real-HAProxy tests (root only).

Sockets are created inside it by a thread that has `setns()`-ed into it (a socket
stays in the netns it was made in), so backends, HAProxy and clients all live in
the namespace while the test runs in its own event loop. `close()` deletes it.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CLONE_NEWNET = 0x40000000


def _enter(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
    finally:
        os.close(fd)


class Netns:
    def __init__(self) -> None:
        self.name = f"portico-t-ing{secrets.token_hex(4)}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
            self._pool = ThreadPoolExecutor(1, initializer=_enter, initargs=(self.name,))
        except BaseException:
            self.close()
            raise

    @property
    def prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
               proto: int = 0) -> socket.socket:
        return self._pool.submit(socket.socket, family, kind, proto).result()

    def factory(self, addr_info: Any) -> socket.socket:
        """aiohttp's `TCPConnector(socket_factory=...)`."""
        family, kind, proto = addr_info[0], addr_info[1], addr_info[2]
        return self.socket(family, kind, proto)

    def listen(self, port: int, host: str = "127.0.0.1") -> socket.socket:
        sock = self.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
        sock.setblocking(False)
        return sock

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)
