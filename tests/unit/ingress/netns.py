"""A throwaway network namespace `portico-t-ing<hex>` for real-HAProxy tests (root only).

Sockets are created inside it by a thread that has `setns()`-ed into it (a socket
stays in the netns it was made in), so backends, HAProxy and clients all live in
the namespace while the test runs in its own event loop. `close()` deletes it.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from portico.netns import enter_netns


class Netns:
    def __init__(self) -> None:
        self.name = f"portico-t-ing{secrets.token_hex(4)}"
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
            self._pool = ThreadPoolExecutor(1, initializer=enter_netns, initargs=(self.name,))
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
