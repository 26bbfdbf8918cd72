"""What `portico up` refuses before it creates anything: bad names, ports, taken ports."""

from __future__ import annotations

import socket

import pytest

from portico.cli._main import _parser, _preflight


def up_args(*argv: str):  # noqa: ANN201 - argparse's Namespace
    return _parser().parse_args(["up", *argv])


def test_a_taken_port_is_refused_with_a_hint() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = _preflight(up_args("--api-port", str(port)))
    assert problem == (f"cannot listen on 127.0.0.1:{port}: Address already in use (another "
                       f"cluster or program listens there; choose another port with --api-port)")
    assert _preflight(up_args("--api-port", str(port))) is None  # free again


@pytest.mark.parametrize(("argv", "expected"), [
    (["--name", "Bad_Name"], "cluster name 'Bad_Name' is not a DNS label"),
    (["--name", "x" * 64], "is not a DNS label"),
    (["--nodes", "-1"], "--nodes must be 0 or more, not -1"),
    (["--bind-address", "192.0.2.1"], "not an address of this machine; see --bind-address"),
])
def test_what_cannot_start_is_said_in_one_line(argv: list[str], expected: str) -> None:
    problem = _preflight(up_args(*argv))  # checked in this order: name, nodes, port
    assert problem is not None and expected in problem and "\n" not in problem


def test_ports_outside_the_range_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        up_args("--api-port", "70000")
    assert "invalid port '70000', want 1-65535" in capsys.readouterr().err
