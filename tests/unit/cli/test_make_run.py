"""`make run` passes the options given on make's command line to `portico up`."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def up_argv(*assignments: str, env: dict[str, str] | None = None) -> list[str]:
    """The `portico up` command `make -n run ...` would run."""
    inherited = {k: v for k, v in os.environ.items()  # not `make test`'s own variables
                 if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(["make", "-n", "-s", "run", *assignments], cwd=ROOT, text=True,
                            capture_output=True, env={**inherited, **(env or {})}, check=True)
    line = next(ln for ln in reversed(result.stdout.splitlines()) if "portico up" in ln)
    return shlex.split(line)[2:]


pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.mark.parametrize(("assignments", "expected"), [
    pytest.param((), [], id="defaults"),
    pytest.param(("NAME=dev", "NODES=5"), ["--name", "dev", "--nodes", "5"], id="name-nodes"),
    pytest.param(("API_PORT=7443", "DATA_DIR=/tmp/d x", "BIND_ADDRESS=0.0.0.0"),
                 ["--data-dir", "/tmp/d x", "--api-port", "7443", "--bind-address", "0.0.0.0"],
                 id="paths-and-ports"),
    pytest.param(("SERVICE_CIDR=10.1.0.0/16", "NODE_PORT_RANGE=31000-31999", "VERBOSE=1"),
                 ["--service-cidr", "10.1.0.0/16", "--node-port-range", "31000-31999",
                  "--verbose"], id="ranges-verbose"),
    pytest.param(("UP_ARGS=--history-revisions 100",), ["--history-revisions", "100"],
                 id="anything-else"),
])
def test_options_reach_portico_up(assignments: tuple[str, ...], expected: list[str]) -> None:
    assert up_argv(*assignments) == expected


def test_the_environment_does_not_pick_the_name() -> None:
    """Some systems export NAME (the host name): only `make run NAME=...` names a cluster."""
    assert up_argv(env={"NAME": "host", "NODES": "9"}) == []
