"""`echo-basic`: the Gateway API conformance echo backend (image
`registry.k8s.io/gateway-api/conformance/echo-basic`), as Portico runs it.

Theory of operation: a threading HTTP/1.1 server on `$HTTP_PORT` (default 3000)
answers every request with JSON describing what it received - `path` (the raw
request URI, query included), `host`, `method`, `proto`, `headers` (name ->
list of values), `namespace` and `pod` (from `$NAMESPACE` / `$POD_NAME`, which
the conformance manifests set through the downward API), `httpPort`, `service`
and `ingress` (empty here) - as upstream's echo-basic does. `/status/NNN`
answers with that status code; `?delay=D` (a Go duration such as `500ms`, `1s`)
waits before answering; `X-Echo-Set-Header: Name:Value,...` adds those response
headers. Each request is logged on stdout as upstream logs it ("Echoing back
request made to <uri> to client (<address>)"). With `$GRPC_ECHO_SERVER` set, it
is a gRPC echo over h2c instead (`_grpc_echo`). A separate h2c port
(`$H2C_PORT`) and TLS are not served.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """A Go duration ("1s", "500ms", "1m30s") in seconds; 0 when unreadable."""
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))


def status_code(path: str) -> int:
    """The status `/status/NNN` asks for, else 200."""
    match = re.fullmatch(r"/status/(\d{3})", urlsplit(path).path)
    return int(match.group(1)) if match else 200


def echo_headers(value: str) -> list[tuple[str, str]]:
    """`X-Echo-Set-Header`'s `Name:Value,...` pairs."""
    pairs = (item.split(":", 1) for item in value.split(",") if ":" in item)
    return [(name.strip(), val.strip()) for name, val in pairs if name.strip()]


class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return

    def _answer(self) -> None:
        # upstream's log line, which the RequestMirror tests look for in the pod's log
        print(f"Echoing back request made to {self.path} to client "
              f"({self.client_address[0]}:{self.client_address[1]})", flush=True)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        delay = parse_qs(urlsplit(self.path).query).get("delay")
        if delay:
            time.sleep(duration_seconds(delay[0]))
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault("-".join(p.capitalize() for p in name.split("-")), []).append(value)
        body = json.dumps({
            "path": self.path, "host": self.headers.get("Host", ""), "method": self.command,
            "proto": self.request_version, "headers": headers,
            "namespace": os.environ.get("NAMESPACE", ""),
            "ingress": "", "service": "", "pod": os.environ.get("POD_NAME", ""),
            "httpPort": os.environ.get("HTTP_PORT", "3000")}).encode()
        self.send_response(status_code(self.path))
        for name, value in echo_headers(self.headers.get("X-Echo-Set-Header", "")):
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    port = int(os.environ.get("HTTP_PORT") or 3000)
    if os.environ.get("GRPC_ECHO_SERVER"):
        from portico.images import _grpc_echo
        _grpc_echo.serve(port)
        return 0
    server = http.server.ThreadingHTTPServer(("", port), EchoHandler)
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
