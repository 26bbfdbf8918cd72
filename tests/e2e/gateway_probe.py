"""Requests through a Gateway, checked as the conformance suite checks them (run in the sandbox).

`python gateway_probe.py ADDRESS CASES_JSON` (stdlib only; run from the
cluster's sandbox netns, never from the machine's). Each case is a request
(`host`, `path`, `method`, `headers`, `port`, `https` with SNI = host) and what
must come back: `status`; on 200 the echo backend's view (`backend`: pod-name
prefix, `namespace`, `path`, `host`, `headers` (values joined by ","),
`absent`); on 3xx `redirect` (`scheme`, `host`, `port`, `path` of Location);
`response_headers` (exact values) and `absent_response_headers`; status
"unreachable": the connection must fail. As upstream (`conformance/utils/http`),
a case passes after 3 consecutive matching answers within 30 s, one connection
per request. Prints one JSON line
per case: {"ok": bool, "last": what the last answer was}. With a third
argument N, sends the first case N times and prints how many answers each
backend gave (weights); with `for=SECONDS`, sends it back to back that long and
prints how many answers had each status (hitless changes).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import time
from typing import Any
from urllib.parse import urlsplit

Case = dict[str, Any]


def send(address: str, case: Case) -> dict[str, Any]:
    port = int(case.get("port") or (443 if case.get("https") else 80))
    sock = socket.create_connection((address, port), timeout=3)
    if case.get("https"):
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=case.get("sni") or case["host"])
    conn = http.client.HTTPConnection(address, port, timeout=3)
    conn.sock = sock
    try:
        headers = {"Host": case.get("host_header") or case["host"], "Connection": "close",
                   **(case.get("headers") or {})}
        conn.request(case.get("method") or "GET", case.get("path") or "/", headers=headers)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return {"status": response.status, "headers": dict(response.getheaders()),
                "body": body}
    finally:
        conn.close()


def _echo_problems(case: Case, answer: dict[str, Any]) -> list[str]:
    try:
        echo = json.loads(answer["body"])
    except ValueError:
        return ["body is not JSON"]
    wanted = case.get("expected_request") or {}
    problems = [f"{k}: {echo.get(k)!r} != {wanted[k]!r}" for k in ("path", "host", "method")
                if k in wanted and echo.get(k) != wanted[k]]
    seen = {k.lower(): ",".join(v) for k, v in (echo.get("headers") or {}).items()}
    problems += [f"header {k}: {seen.get(k.lower())!r} != {v!r}"
                 for k, v in (wanted.get("headers") or {}).items() if seen.get(k.lower()) != v]
    problems += [f"header {k} present" for k in wanted.get("absent") or [] if k.lower() in seen]
    if case.get("namespace") and echo.get("namespace") != case["namespace"]:
        problems.append(f"namespace {echo.get('namespace')!r}")
    if case.get("backend") and not str(echo.get("pod", "")).startswith(case["backend"]):
        problems.append(f"pod {echo.get('pod')!r} is not {case['backend']}")
    return problems


def problems(case: Case, answer: dict[str, Any]) -> list[str]:
    want = int(case.get("status", 200))
    if answer["status"] != want:
        return [f"status {answer['status']} != {want}"]
    found = {k.lower(): v for k, v in answer["headers"].items()}
    out = [f"response header {k}: {found.get(k.lower())!r}"
           for k, v in (case.get("response_headers") or {}).items() if found.get(k.lower()) != v]
    out += [f"response header {k} present" for k in case.get("absent_response_headers") or []
            if k.lower() in found]
    if case.get("redirect"):
        location = urlsplit(found.get("location", ""))
        got = {"scheme": location.scheme, "host": location.hostname,
               "port": location.port, "path": location.path}
        out += [f"Location {k}: {got[k]!r} != {v!r}" for k, v in case["redirect"].items()
                if got[k] != v]
    if want == 200 and (case.get("backend") or case.get("expected_request")):
        out += _echo_problems(case, answer)
    return out


def check(address: str, case: Case, needed: int = 3, timeout: float = 30.0) -> dict[str, Any]:
    deadline, streak, last = time.monotonic() + timeout, 0, {}
    while time.monotonic() < deadline:
        try:
            answer = send(address, case)
            found = ["answered"] if case.get("status") == "unreachable" else \
                problems(case, answer)
            last = {"problems": found, "status": answer["status"]}
        except OSError as exc:
            found = [] if case.get("status") == "unreachable" else ["error"]
            last = {"error": repr(exc)}
        streak = 0 if found else streak + 1
        if streak >= needed:
            return {"ok": True, "last": last}
        time.sleep(0.1)
    return {"ok": False, "case": case, "last": last}


def distribution(address: str, case: Case, count: int) -> dict[str, int]:
    """Backend (pod name without its two generated parts) -> answers, of `count` requests."""
    seen: dict[str, int] = {}
    for _ in range(count):
        answer = send(address, case)
        pod = json.loads(answer["body"]).get("pod", "") if answer["status"] == 200 else ""
        backend = pod.rsplit("-", 2)[0] if pod else f"status {answer['status']}"
        seen[backend] = seen.get(backend, 0) + 1
    return seen


def soak(address: str, case: Case, seconds: float) -> dict[str, int]:
    """Status (or error) -> count, of requests sent back to back for `seconds`."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            key = str(send(address, case)["status"])
        except OSError as exc:
            key = type(exc).__name__
        seen[key] = seen.get(key, 0) + 1
    return seen


def main() -> int:
    address, cases = sys.argv[1], json.loads(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3].startswith("for="):
        print(json.dumps(soak(address, cases[0], float(sys.argv[3][4:]))), flush=True)
        return 0
    if len(sys.argv) > 3:
        print(json.dumps(distribution(address, cases[0], int(sys.argv[3]))), flush=True)
        return 0
    for case in cases:
        print(json.dumps(check(address, case)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
