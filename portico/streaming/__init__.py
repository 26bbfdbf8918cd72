"""Streaming protocols of exec, attach and port-forward: codecs and connection plumbing.

Pure codecs: `FrameCodec` and the frame types (SPDY/3.1 with the SPDY/3 header
dictionary), the WebSocket channel protocols (`ChannelProtocol`, `encode`,
`decode`, `negotiate`, the remote-command `Status` builders, `ResizeDecoder`) and
the port-forward vocabulary (`StreamType`, `parse_ports`, `port_prefix`, the
tunnel subprotocol).  Plumbing over asyncio/aiohttp: `SpdySession` (a server-side
SPDY connection over any byte transport) and `RawConnection` (an aiohttp
connection taken over after a hand-written 101, for SPDY and for proxying).
"""

from portico.streaming._channel import (
    PORT_FORWARD_PROTOCOLS,
    REMOTE_COMMAND_PROTOCOLS,
    Channel,
    ChannelMessage,
    ChannelProtocol,
    ResizeDecoder,
    Status,
    TerminalSize,
    decode,
    encode,
    encode_close,
    error_payload,
    exit_code_status,
    failure_status,
    negotiate,
    success_status,
)
from portico.streaming._dictionary import SPDY_DICTIONARY, SPDY_DICTIONARY_ID
from portico.streaming._portforward import (
    PORT_FORWARD_PROTOCOL,
    SPDY_PROTOCOL,
    TUNNEL_PROTOCOL,
    PortChannels,
    PortForwardError,
    StreamHeader,
    StreamType,
    forward_error,
    parse_ports,
    port_channels,
    port_prefix,
)
from portico.streaming._session import SpdySession, SpdyStream
from portico.streaming._spdy import (
    FLAG_FIN,
    Data,
    Frame,
    FrameCodec,
    FrameType,
    GoAway,
    GoAwayStatus,
    HeadersFrame,
    Ping,
    RstStatus,
    RstStream,
    Settings,
    SpdyError,
    SynReply,
    SynStream,
    WindowUpdate,
)
from portico.streaming._upgrade import RawConnection

__all__ = [
    "FLAG_FIN", "PORT_FORWARD_PROTOCOL", "PORT_FORWARD_PROTOCOLS", "REMOTE_COMMAND_PROTOCOLS",
    "SPDY_DICTIONARY", "SPDY_DICTIONARY_ID", "SPDY_PROTOCOL", "TUNNEL_PROTOCOL", "Channel",
    "ChannelMessage", "ChannelProtocol", "Data", "Frame", "FrameCodec", "FrameType", "GoAway",
    "GoAwayStatus", "HeadersFrame", "Ping", "PortChannels", "PortForwardError", "RawConnection",
    "ResizeDecoder", "RstStatus", "RstStream", "Settings", "SpdyError", "SpdySession",
    "SpdyStream", "Status", "StreamHeader", "StreamType", "SynReply", "SynStream",
    "TerminalSize", "WindowUpdate", "decode", "encode", "encode_close", "error_payload",
    "exit_code_status", "failure_status", "forward_error", "negotiate", "parse_ports",
    "port_channels", "port_prefix", "success_status",
]
