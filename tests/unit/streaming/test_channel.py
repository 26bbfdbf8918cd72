"""WebSocket channel protocols, remote-command Status and the port-forward vocabulary."""

from __future__ import annotations

import pytest

from portico.streaming import (
    PORT_FORWARD_PROTOCOLS,
    REMOTE_COMMAND_PROTOCOLS,
    Channel,
    ChannelMessage,
    ChannelProtocol,
    PortChannels,
    PortForwardError,
    ResizeDecoder,
    TerminalSize,
    decode,
    encode,
    encode_close,
    error_payload,
    exit_code_status,
    negotiate,
    parse_ports,
    port_channels,
    port_prefix,
    success_status,
)

V5, V4, V4B64, B64, V1 = (ChannelProtocol.V5, ChannelProtocol.V4, ChannelProtocol.V4_BASE64,
                          ChannelProtocol.BASE64, ChannelProtocol.V1)


@pytest.mark.parametrize(("protocol", "channel", "data", "expected"), [
    pytest.param(V5, Channel.STDOUT, b"out", b"\x01out", id="v5"),
    pytest.param(V4, Channel.ERROR, b"{}", b"\x03{}", id="v4"),
    pytest.param(V1, Channel.STDERR, b"\xff", b"\x02\xff", id="v1-binary-safe"),
    pytest.param(V4B64, Channel.STDOUT, b"hi\n", "1aGkK", id="v4-base64"),
    pytest.param(B64, 5, b"\x00", "5AA==", id="base64-portforward-channel"),
])
def test_encode(protocol: ChannelProtocol, channel: int, data: bytes,
                expected: bytes | str) -> None:
    assert encode(protocol, channel, data) == expected


@pytest.mark.parametrize(("protocol", "message", "expected"), [
    pytest.param(V5, b"\x00ls\n", ChannelMessage(0, b"ls\n"), id="v5-stdin"),
    pytest.param(V5, b"\xff\x00", ChannelMessage(0, close=True), id="v5-close-stdin"),
    pytest.param(V4, b"\xff\x00", ChannelMessage(255, b"\x00"), id="v4-no-close-signal"),
    pytest.param(V5, '\x04{"Width":80,"Height":24}',
                 ChannelMessage(4, b'{"Width":80,"Height":24}'), id="text-frame-on-binary"),
    pytest.param(V4B64, "0aGkK", ChannelMessage(0, b"hi\n"), id="base64"),
    pytest.param(V4B64, b"2AAE=", ChannelMessage(2, b"\x00\x01"), id="base64-as-bytes"),
    pytest.param(V5, b"", None, id="empty"),
    pytest.param(B64, "x", None, id="base64-no-digit"),
])
def test_decode(protocol: ChannelProtocol, message: bytes | str,
                expected: ChannelMessage | None) -> None:
    assert decode(protocol, message) == expected


def test_close_signal() -> None:
    assert encode_close(Channel.STDOUT) == b"\xff\x01"


@pytest.mark.parametrize(("offered", "supported", "expected"), [
    pytest.param("v5.channel.k8s.io", REMOTE_COMMAND_PROTOCOLS, V5, id="kubectl"),
    pytest.param("v5.channel.k8s.io,v4.channel.k8s.io", REMOTE_COMMAND_PROTOCOLS, V5,
                 id="python-client-exec"),
    pytest.param("v5.channel.k8s.io, v4.channel.k8s.io", PORT_FORWARD_PROTOCOLS, V4,
                 id="python-client-portforward"),
    pytest.param("", REMOTE_COMMAND_PROTOCOLS, V1, id="none-means-v1"),
    pytest.param("SPDY/3.1+portforward.k8s.io", PORT_FORWARD_PROTOCOLS, None, id="tunnel"),
])
def test_negotiate(offered: str, supported: tuple[ChannelProtocol, ...],
                   expected: ChannelProtocol | None) -> None:
    assert negotiate(offered, supported) == expected


def test_statuses() -> None:
    assert success_status() == {"metadata": {}, "status": "Success"}
    status = exit_code_status(3)
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert error_payload(True, success_status()) == b'{"metadata":{},"status":"Success"}'
    assert error_payload(False, success_status()) == b""
    assert error_payload(False, status) == \
        b"command terminated with non-zero exit code: exit status 3"


def test_resize_decoder_handles_split_and_concatenated_objects() -> None:
    decoder = ResizeDecoder()
    assert decoder.feed(b'{"Width":101,"Height":31}\n{"Wid') == [TerminalSize(101, 31)]
    assert decoder.feed(b'th":100,"Height":30}\n') == [TerminalSize(100, 30)]
    assert decoder.feed(b"[1]\n") == []


@pytest.mark.parametrize(("values", "expected"), [
    pytest.param(["80"], [80], id="one"),
    pytest.param(["80,443", "8080"], [80, 443, 8080], id="several"),
])
def test_parse_ports(values: list[str], expected: list[int]) -> None:
    assert parse_ports(values) == expected


@pytest.mark.parametrize(("values", "message"), [
    pytest.param([], "at least one port", id="none"),
    pytest.param(["http"], "unable to parse 'http'", id="name"),
    pytest.param(["0"], "must be > 0", id="zero"),
    pytest.param(["65536"], "must be > 0 and < 65536", id="too-big"),
])
def test_parse_ports_errors(values: list[str], message: str) -> None:
    with pytest.raises(PortForwardError, match=message):
        parse_ports(values)


def test_legacy_port_forward_framing() -> None:
    assert port_prefix(8080) == b"\x90\x1f"
    assert port_channels([80, 443]) == [PortChannels(80, 0, 1), PortChannels(443, 2, 3)]
