"""Portico's agnhost, run for real on loopback: every netexec endpoint, UDP, serve-hostname."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket

import pytest
from images_helpers import (
    LOOPBACK,
    TIMEOUT_SECONDS,
    Start,
    accepts,
    free_port,
    udp_exchange,
    wait_for,
)

from portico.images.agnhost._common import go_address, go_duration
from portico.images.agnhost._flags import Flag, FlagError, parse_flags
from portico.images.agnhost._netexec import udp_reply

AGNHOST = "portico.images.agnhost"
HOSTNAME = "pod-under-test"


def get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def netexec(start_module: Start) -> tuple[int, int]:
    """One netexec server shared by the module's read-only tests."""
    http_port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
    process = start_module(
        AGNHOST, "netexec", f"--http-port={http_port}", "--udp-port", str(udp_port),
        env={"HOSTNAME": HOSTNAME},
    )  # fmt: skip
    wait_for(lambda: accepts(http_port) or process.poll() is not None, "netexec to listen")
    assert process.poll() is None
    return http_port, udp_port


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        pytest.param("/hostname", 200, HOSTNAME, id="hostname"),
        pytest.param("/hostName", 200, HOSTNAME, id="hostName"),
        pytest.param("/echo?msg=hello%20world", 200, "hello world", id="echo"),
        pytest.param("/echo?msg=gone&code=404", 404, "gone", id="echo-code"),
        pytest.param("/echo?code=x", 200, "argument 'code' must be an integer or empty, got 'x'\n",
                     id="echo-bad-code"),
        pytest.param("/healthz", 200, "", id="healthz"),
        pytest.param("/shell?cmd=echo%20%27a%3Cb%27", 200, '{"output":"a\\u003cb\\n"}', id="shell"),
        pytest.param("/shell?cmd=exit%203", 200, '{"error":"exit status 3"}', id="shell-fail"),
        pytest.param("/dial?host=127.0.0.1&port=1", 400, "request parameter not specified. <nil>\n",
                     id="dial-no-request"),
        pytest.param("/dial?request=x&tries=z", 400,
                     'tries parameter is invalid. strconv.Atoi: parsing "z": invalid syntax\n',
                     id="dial-bad-tries"),
        pytest.param("/dial?request=x&protocol=sctp", 400, "unsupported protocol. sctp\n",
                     id="dial-sctp"),
        pytest.param("/exit?timeout=forever", 200,
                     "argument 'timeout' must be a valid golang duration or empty, got 'forever'\n",
                     id="exit-bad-timeout"),
    ],
)  # fmt: skip
def test_netexec_endpoints(netexec: tuple[int, int], path: str, status: int, body: str) -> None:
    assert get(netexec[0], path) == (status, body)


def test_netexec_root_clientip_redirect(netexec: tuple[int, int]) -> None:
    http_port, _ = netexec
    status, body = get(http_port, "/")
    assert status == 200 and re.fullmatch(r"NOW: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} .+", body)
    assert get(http_port, "/any/other/path")[1].startswith("NOW: ")
    connection = http.client.HTTPConnection(LOOPBACK, http_port, timeout=TIMEOUT_SECONDS)
    try:
        connection.connect()
        local_port = connection.sock.getsockname()[1]
        bodies = []
        for path in ("/clientip", "/clientip", "/redirect?location=/echo%3Fmsg%3Dx&code=307"):
            connection.request("GET", path)  # one keep-alive connection for all three
            response = connection.getresponse()
            bodies.append((response.status, response.getheader("Location"), response.read()))
    finally:
        connection.close()
    mine = f"{LOOPBACK}:{local_port}".encode()
    assert bodies == [
        (200, None, mine),
        (200, None, mine),
        (307, "/echo?msg=x", b'<a href="/echo?msg=x">Temporary Redirect</a>.\n\n'),
    ]


def test_netexec_dial(netexec: tuple[int, int]) -> None:
    http_port, udp_port = netexec
    status, body = get(http_port, f"/dial?host=127.0.0.1&port={http_port}&request=hostname&tries=2")
    assert (status, json.loads(body)) == (200, {"responses": [HOSTNAME, HOSTNAME]})
    status, body = get(
        http_port, f"/dial?host=127.0.0.1&port={udp_port}&request=echo%20hi&protocol=udp"
    )
    assert (status, json.loads(body)) == (200, {"responses": ["hi"]})
    closed = free_port()
    status, body = get(http_port, f"/dial?host=127.0.0.1&port={closed}&request=hostname")
    errors = json.loads(body)["errors"]
    assert (status, len(errors)) == (200, 1)
    assert errors[0].startswith(f'Get "http://127.0.0.1:{closed}/hostname": ')


def test_netexec_udp(netexec: tuple[int, int]) -> None:
    replies = udp_exchange(netexec[1], [b"hostname", b"echo Hello World\n", b"  clientip "])
    assert replies[:2] == [HOSTNAME.encode(), b"hello world"]
    assert re.fullmatch(rb"127\.0\.0\.1:\d+", replies[2])


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/exit?code=3&timeout=1s", 3, id="graceful"),
        pytest.param("/exit?code=4", 4, id="immediate"),
        pytest.param("/shutdown", 0, id="shutdown"),
    ],
)
def test_netexec_exit(start: Start, path: str, code: int) -> None:
    port = free_port()
    process = start(AGNHOST, "netexec", f"--http-port={port}", "--udp-port=-1")
    wait_for(lambda: accepts(port), "netexec to listen")
    assert get(port, "/healthz") == (412, "")  # no UDP server: never ready, as upstream
    with contextlib.suppress(http.client.HTTPException, ConnectionError):
        get(port, path)  # immediate exits answer nothing
    assert process.wait(TIMEOUT_SECONDS) == code


def test_netexec_http_override(start: Start) -> None:
    port = free_port()
    start(AGNHOST, "netexec", f"--http-port={port}", "--udp-port=-1",
          "--http-override=/echo?msg=overridden")  # fmt: skip
    wait_for(lambda: accepts(port), "netexec to listen")
    assert get(port, "/hostname") == (200, "overridden")


def test_serve_hostname_http_and_sigterm(start: Start) -> None:
    port = free_port()
    process = start(
        AGNHOST, "serve-hostname", "--port", str(port),
        env={"HOSTNAME": HOSTNAME, "PORTICO_SERVE_HOSTNAME_LINGER": "0"},
    )  # fmt: skip
    wait_for(lambda: accepts(port), "serve-hostname to listen")
    assert get(port, "/anything") == (200, HOSTNAME)
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(TIMEOUT_SECONDS) == 0


def test_serve_hostname_tcp_and_udp(start: Start) -> None:
    port = free_port()
    start(AGNHOST, "serve-hostname", "--tcp", "--udp", "--http=false", f"--port={port}",
          env={"HOSTNAME": HOSTNAME})  # fmt: skip
    wait_for(lambda: accepts(port), "serve-hostname to listen")
    with socket.create_connection((LOOPBACK, port), timeout=TIMEOUT_SECONDS) as sock:
        assert sock.makefile("rb").read() == HOSTNAME.encode()
    assert udp_exchange(port, [b"x"]) == [HOSTNAME.encode()]


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        pytest.param(["serve-hostname", "--tcp"], 1,
                     b"Error: Can't server TCP/UDP mode and HTTP mode at the same time\n",
                     id="http-and-tcp"),
        pytest.param(["netexec", "--bogus"], 1, b"Error: unknown flag: --bogus\n", id="unknown"),
        pytest.param(["fly"], 1, None, id="unknown-command"),
    ],
)  # fmt: skip
def test_agnhost_usage_errors(
    start: Start, args: list[str], code: int, stderr: bytes | None
) -> None:
    process = start(AGNHOST, *args)
    _, err = process.communicate(timeout=TIMEOUT_SECONDS)
    assert process.returncode == code
    if stderr is not None:
        assert err == stderr


@pytest.mark.parametrize(
    ("module", "args", "code", "stdout"),
    [
        pytest.param("portico.images.pause", [], 0, b"", id="pause-image"),
        pytest.param(AGNHOST, ["pause"], 2, b"Paused\n", id="agnhost-pause"),
    ],
)
def test_pause_stops_on_sigterm(
    start: Start, module: str, args: list[str], code: int, stdout: bytes
) -> None:
    process = start(module, *args)
    if stdout:
        assert process.stdout is not None and process.stdout.readline() == stdout
    else:  # the pause image prints nothing: wait until its handler is installed
        wait_for(lambda: _sigterm_caught(process.pid), "pause to install its handler")
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(TIMEOUT_SECONDS) == code


def _sigterm_caught(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


FLAGS = (Flag("port", 9376, ""), Flag("http", True, ""), Flag("name", "x", ""))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param([], {"port": 9376, "http": True, "name": "x"}, id="defaults"),
        pytest.param(["--port=80", "--http=false", "--name", "y"],
                     {"port": 80, "http": False, "name": "y"}, id="forms"),
        pytest.param(["--http", "--port", "81"], {"port": 81, "http": True, "name": "x"},
                     id="bool-takes-no-word"),
        pytest.param(["--http=0"], {"port": 9376, "http": False, "name": "x"}, id="bool-0"),
    ],
)  # fmt: skip
def test_flags(argv: list[str], expected: dict[str, object]) -> None:
    assert parse_flags(FLAGS, argv) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--port=x"], 'invalid argument "x" for "--port" flag: strconv.ParseInt: '
                     'parsing "x": invalid syntax', id="int"),
        pytest.param(["--http=maybe"], 'invalid argument "maybe" for "--http" flag: '
                     'strconv.ParseBool: parsing "maybe": invalid syntax', id="bool"),
        pytest.param(["--nope"], "unknown flag: --nope", id="unknown"),
        pytest.param(["-p"], "unknown flag: -p", id="shorthand"),
        pytest.param(["--port"], "flag needs an argument: --port", id="missing"),
        pytest.param(["extra"], "accepts at most 0 arg(s), received 1", id="positional"),
    ],
)  # fmt: skip
def test_flag_errors(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as raised:
        parse_flags(FLAGS, argv)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("1s", 1.0), ("100ms", 0.1), ("1m30s", 90.0), ("1.5h", 5400.0), ("2us", 2e-6)],
)
def test_go_duration(text: str, seconds: float) -> None:
    assert go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("peer", "text"),
    [
        (("10.0.0.1", 5000), "10.0.0.1:5000"),
        (("::ffff:10.0.0.1", 5000, 0, 0), "10.0.0.1:5000"),
        (("fd00::1", 53, 0, 0), "[fd00::1]:53"),
    ],
)
def test_go_address(peer: tuple[object, ...], text: str) -> None:
    assert go_address(peer) == text


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (b"HOSTNAME\n", HOSTNAME),
        (b"echo MiXeD case", "mixed case"),
        (b"clientip", "10.244.0.7:4000"),
        (b"unknown", None),
        (b"", None),
    ],
)
def test_udp_reply(monkeypatch: pytest.MonkeyPatch, data: bytes, reply: str | None) -> None:
    monkeypatch.setenv("HOSTNAME", HOSTNAME)
    assert udp_reply(data, "10.244.0.7:4000") == reply
