"""Helpers for the image tests: free loopback ports, image processes stopped by PID.

Imported by name (`from images_helpers import ...`): test directories are not packages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

LOOPBACK = "127.0.0.1"
TIMEOUT_SECONDS = 10.0


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


Start = Callable[..., subprocess.Popen[bytes]]


def start_fixture() -> Iterator[Start]:
    """Start a Python module of portico.images on loopback; stopped by PID afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def run(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        environment = {**os.environ, "PORTICO_LISTEN_ADDRESS": LOOPBACK, **(env or {})}
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(TIMEOUT_SECONDS)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def udp_exchange(port: int, messages: Sequence[bytes]) -> list[bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT_SECONDS)
        replies = []
        for message in messages:
            sock.sendto(message, (LOOPBACK, port))
            replies.append(sock.recvfrom(4096)[0])
        return replies
