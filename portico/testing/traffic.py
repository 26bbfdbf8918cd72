"""A bounded client loop that counts failed requests, for fault tests and benchmarks.

`start_traffic(cluster, argv_prefix, targets, ...)` runs `CLIENT` (a standalone
script) with the machine's Python inside a namespace the harness made (a node's,
through `argv_prefix`), and `finish_traffic` reads its report.  Each round, for
every `host:port` target, the script makes one HTTP GET `/hostname` on a NEW
connection (`Connection: close`, 1 s timeout) and one on the target's
ESTABLISHED keep-alive connection (opened at the start; after a failure it is
reopened, and that failure counted).  It runs `requests` rounds or `seconds`,
whichever is given, and reports per target: successes and failures of each kind,
when the first and last new-connection failure happened (seconds from the start)
and the distinct errors, so a test can bound the failure window instead of
sleeping and hoping.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from portico.testing.sandbox import Cluster, end_process

CLIENT = r"""
import http.client, json, sys, time
cfg = json.loads(sys.argv[1])
targets = [tuple(t.rsplit(":", 1)) for t in cfg["targets"]]
report = {f"{h}:{p}": {"new_ok": 0, "new_failed": 0, "kept_ok": 0, "kept_failed": 0,
                       "first_failure": None, "last_failure": None, "errors": []}
          for h, p in targets}
kept = {}

def get(conn, close):
    conn.request("GET", "/hostname", headers={"Connection": "close"} if close else {})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise OSError(f"HTTP {response.status}")

def note(r, error):
    text = repr(error)[:120]
    if text not in r["errors"] and len(r["errors"]) < 10:
        r["errors"].append(text)

start, rounds = time.monotonic(), 0
print("started", flush=True)
while (cfg.get("requests") is None or rounds < cfg["requests"]) and \
        (cfg.get("seconds") is None or time.monotonic() - start < cfg["seconds"]):
    for host, port in targets:
        r = report[f"{host}:{port}"]
        try:
            get(http.client.HTTPConnection(host, int(port), timeout=1), True)
            r["new_ok"] += 1
        except Exception as error:
            now = round(time.monotonic() - start, 3)
            r["new_failed"] += 1
            r["first_failure"] = r["first_failure"] if r["first_failure"] is not None else now
            r["last_failure"] = now
            note(r, error)
        try:
            if (host, port) not in kept:
                kept[(host, port)] = http.client.HTTPConnection(host, int(port), timeout=2)
            get(kept[(host, port)], False)
            r["kept_ok"] += 1
        except Exception as error:
            kept.pop((host, port)).close()
            r["kept_failed"] += 1
            note(r, error)
    rounds += 1
    time.sleep(cfg.get("interval", 0.0))
print(json.dumps(report), flush=True)
"""


@dataclass(frozen=True)
class TargetReport:
    new_ok: int
    new_failed: int
    kept_ok: int
    kept_failed: int
    first_failure: float | None
    last_failure: float | None
    errors: list[str]

    @property
    def failure_window(self) -> float:
        """Seconds from the first to the last failed new connection (0 if none)."""
        if self.first_failure is None or self.last_failure is None:
            return 0.0
        return self.last_failure - self.first_failure


def start_traffic(cluster: Cluster, argv_prefix: Sequence[str], targets: Sequence[str],
                  requests: int | None = None, seconds: float | None = None,
                  interval: float = 0.0) -> subprocess.Popen[str]:
    """Start the client loop (in the namespace `argv_prefix` enters); returns once it
    runs."""
    config = json.dumps({"targets": list(targets), "requests": requests, "seconds": seconds,
                         "interval": interval})
    proc = cluster.sandbox.popen([*argv_prefix, sys.executable, "-c", CLIENT, config],
                                 stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "started":
        end_process(proc, grace=1.0)
        raise RuntimeError("the client loop did not start")
    return proc


def finish_traffic(proc: subprocess.Popen[str], timeout: float) -> dict[str, TargetReport]:
    """Wait for the loop's end; its report per target."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        end_process(proc, grace=1.0)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return {target: TargetReport(**r) for target, r in report.items()}
