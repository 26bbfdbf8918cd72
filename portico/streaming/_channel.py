"""The Kubernetes WebSocket channel protocols (`*.channel.k8s.io`) and remote-command Status.

Theory of operation (apimachinery `util/wsstream`, `util/remotecommand`): a
WebSocket connection carries several byte streams; every message belongs to one
channel, named by its first byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize
for exec/attach; 2i data and 2i+1 error for the i-th port of a port-forward).

| subprotocol                | frames | channel prefix     | extras                       |
|----------------------------|--------|--------------------|------------------------------|
| `v5.channel.k8s.io`        | binary | one byte           | `[255, ch]` closes channel ch |
| `v4.channel.k8s.io`        | binary | one byte           | error channel carries Status  |
| `channel.k8s.io` (v1)      | binary | one byte           | error channel carries text    |
| `v4.base64.channel.k8s.io` | text   | ASCII digit        | payload base64                |
| `base64.channel.k8s.io`    | text   | ASCII digit        | payload base64, text errors   |

The remote-command result travels on the error channel (or the SPDY `error`
stream): for v4/v5 a `Status` JSON - `Success`, or `Failure` with reason
`NonZeroExitCode` and cause `ExitCode` = the code, which kubectl turns into its
own exit status; older protocols get the plain error text.  Resize messages
are JSON `{"Width": w, "Height": h}` objects (newline-separated on SPDY).

Pure: encoders and decoders over bytes and str.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

CLOSE_SIGNAL = 255


class Channel(IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    ERROR = 3
    RESIZE = 4


class ChannelProtocol(StrEnum):
    V5 = "v5.channel.k8s.io"
    V4 = "v4.channel.k8s.io"
    V4_BASE64 = "v4.base64.channel.k8s.io"
    BASE64 = "base64.channel.k8s.io"
    V1 = "channel.k8s.io"

    @property
    def is_base64(self) -> bool:
        return self in (ChannelProtocol.V4_BASE64, ChannelProtocol.BASE64)

    @property
    def has_status(self) -> bool:
        """Whether the error channel carries a Status (v4 and later) or plain text."""
        return self in (ChannelProtocol.V5, ChannelProtocol.V4, ChannelProtocol.V4_BASE64)


# What exec/attach accept over WebSocket, best first; port-forward has no v5.
REMOTE_COMMAND_PROTOCOLS = tuple(ChannelProtocol)
PORT_FORWARD_PROTOCOLS = tuple(p for p in ChannelProtocol if p is not ChannelProtocol.V5)


def negotiate(offered: str, supported: tuple[ChannelProtocol, ...]) -> ChannelProtocol | None:
    """The first protocol of the client's `Sec-WebSocket-Protocol` list we support.

    No header at all means the original `channel.k8s.io` (wsstream's default).
    """
    names = [p.strip() for p in offered.split(",") if p.strip()]
    if not names:
        return ChannelProtocol.V1 if ChannelProtocol.V1 in supported else None
    for name in names:
        for protocol in supported:
            if name == protocol.value:
                return protocol
    return None


@dataclass(frozen=True)
class ChannelMessage:
    channel: int
    data: bytes = b""
    close: bool = False  # v5: the peer closed this channel (half-close)


def encode(protocol: ChannelProtocol, channel: int, data: bytes) -> bytes | str:
    """One message on `channel`: bytes for binary protocols, str for base64 ones."""
    if protocol.is_base64:
        return str(channel) + base64.b64encode(data).decode("ascii")
    return bytes([channel]) + data


def encode_close(channel: int) -> bytes:
    """v5 only: the sender will write nothing more on `channel`."""
    return bytes([CLOSE_SIGNAL, channel])


def decode(protocol: ChannelProtocol, message: bytes | str) -> ChannelMessage | None:
    """A received message; None for an empty (or undecodable) one, which peers ignore.

    Like wsstream, the frame type does not matter: a text frame on a binary protocol
    is its UTF-8 bytes (the Python client sends str stdin as text frames).
    """
    if not message:
        return None
    if protocol.is_base64:
        text = message if isinstance(message, str) else message.decode("ascii", "replace")
        if not text[0].isdigit():
            return None
        try:
            return ChannelMessage(int(text[0]), base64.b64decode(text[1:], validate=False))
        except binascii.Error:
            return None
    raw = message.encode() if isinstance(message, str) else message
    if raw[0] == CLOSE_SIGNAL and protocol is ChannelProtocol.V5:
        return ChannelMessage(raw[1], close=True) if len(raw) > 1 else None
    return ChannelMessage(raw[0], bytes(raw[1:]))


# -- remote command results ----------------------------------------------------------------

Status = dict[str, Any]


def success_status() -> Status:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int) -> Status:
    """kubelet's Status for a command that exited non-zero (kubectl exits with `code`)."""
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def failure_status(message: str, reason: str = "InternalError", code: int = 500) -> Status:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": reason,
            "code": code}


def error_payload(protocol_has_status: bool, status: Status) -> bytes:
    """What goes on the error channel/stream: the Status JSON, or text for v1-v3."""
    if protocol_has_status:
        return json.dumps(status, separators=(",", ":")).encode()
    if status.get("status") == "Success":
        return b""
    return str(status.get("message", "")).encode()


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


def _size(obj: Any) -> TerminalSize | None:
    if not isinstance(obj, dict):
        return None
    try:
        return TerminalSize(int(obj.get("Width", 0)), int(obj.get("Height", 0)))
    except (TypeError, ValueError):
        return None


class ResizeDecoder:
    """Terminal sizes from a byte stream of concatenated JSON objects."""

    def __init__(self) -> None:
        self._buffer = ""
        self._json = json.JSONDecoder()

    def feed(self, data: bytes) -> list[TerminalSize]:
        self._buffer += data.decode("utf-8", "replace")
        sizes: list[TerminalSize] = []
        while True:
            text = self._buffer.lstrip()
            if not text:
                self._buffer = ""
                return sizes
            try:
                obj, end = self._json.raw_decode(text)
            except json.JSONDecodeError:
                self._buffer = text
                return sizes
            self._buffer = text[end:]
            size = _size(obj)
            if size is not None:
                sizes.append(size)
