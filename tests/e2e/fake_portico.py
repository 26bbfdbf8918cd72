"""A stand-in for the `portico` CLI, used only to test the sandbox harness itself.

`up` serves plain HTTP on 127.0.0.1:<api-port>, writes DIR/kubeconfig pointing at
it and counts its starts in DIR/starts; it exits 0 on SIGTERM, or 3 at once when
FAKE_PORTICO_FAIL is set.  `wait` polls for the kubeconfig.  `down` appends its
`--name` to the file named by FAKE_PORTICO_RECORD.
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import sys
import time
from pathlib import Path

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:{port}
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
users:
- name: fake
  user: {{}}
"""


def up(args: argparse.Namespace) -> int:
    if os.environ.get("FAKE_PORTICO_FAIL"):
        print("fake failure", flush=True)
        return 3
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    starts = data / "starts"
    starts.write_text(str(int(starts.read_text()) + 1 if starts.exists() else 1))
    handler = http.server.BaseHTTPRequestHandler
    server = http.server.HTTPServer(("127.0.0.1", args.api_port), handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    (data / "kubeconfig").write_text(KUBECONFIG.format(port=args.api_port))
    print(f"serving {args.name}", flush=True)
    server.serve_forever()
    return 0


def wait(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if (Path(args.data_dir) / "kubeconfig").exists():
            return 0
        time.sleep(0.02)
    return 1


def down(args: argparse.Namespace) -> int:
    with open(os.environ["FAKE_PORTICO_RECORD"], "a") as record:
        record.write(args.name + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="portico")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up")
    p_up.add_argument("--name", required=True)
    p_up.add_argument("--data-dir", required=True)
    p_up.add_argument("--api-port", type=int, required=True)
    p_up.add_argument("--nodes", type=int, default=0)
    p_wait = sub.add_parser("wait")
    p_wait.add_argument("--data-dir", required=True)
    p_wait.add_argument("--timeout", type=float, required=True)
    p_down = sub.add_parser("down")
    p_down.add_argument("--name", required=True)
    args = parser.parse_args()
    return {"up": up, "wait": wait, "down": down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
