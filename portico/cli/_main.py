"""`portico up | wait | down`: run a cluster in the foreground, wait for it, clean up after it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from portico.cli._progress import Progress, count
from portico.logs import setup as setup_logging

if TYPE_CHECKING:
    from portico.cli._supervisor import Supervisor

DEFAULT_NAME = "portico"


def default_data_dir(name: str) -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "portico" / name


def _port_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(p) for p in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port range {text!r}, want A-B") from None
    if not 1 <= low <= high <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port range {text!r}")
    return low, high


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run a cluster in the foreground until SIGINT/SIGTERM")
    up.add_argument("--name", default=DEFAULT_NAME)
    up.add_argument("--data-dir", type=Path)
    up.add_argument("--api-port", type=int, default=6443)
    up.add_argument("--bind-address", default="127.0.0.1")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--service-cidr", type=ipaddress.IPv4Network, default="10.0.0.0/16")
    up.add_argument("--node-port-range", type=_port_range, default=(30000, 32767))
    up.add_argument("--history-revisions", type=int, default=50_000,
                    help="watch history kept, in revisions (older resourceVersions get 410)")
    up.add_argument("--compaction-interval", type=float, default=30.0, help=argparse.SUPPRESS)
    up.add_argument("-v", "--verbose", action="store_true")
    wait = sub.add_parser("wait", help="exit 0 once the cluster is ready")
    wait.add_argument("--name", default=DEFAULT_NAME)
    wait.add_argument("--data-dir", type=Path)
    wait.add_argument("--timeout", type=float, default=60.0)
    wait.add_argument("--for", dest="wait_for", choices=("all", "nodes"), default="all",
                      help="nodes: every node Ready; all (default): also the DNS and "
                           "ingress addons available")
    down = sub.add_parser("down", help="remove what a crashed run left behind")
    down.add_argument("--name", default=DEFAULT_NAME)
    lb = sub.add_parser("lb", help="the cluster's Azure-style load balancers")
    lb_sub = lb.add_subparsers(dest="lb_command", required=True)
    show = lb_sub.add_parser("show", help="frontends, backend pool with probe state, rules, "
                                          "probes (like `az network lb show`)")
    show.add_argument("lb_name", nargs="?", help="load balancer name (default: all)")
    show.add_argument("--name", default=DEFAULT_NAME, help="cluster name")
    show.add_argument("--data-dir", type=Path)
    policy = sub.add_parser("policy", help="NetworkPolicy: would a connection be allowed?")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser(
        "check", help="answer from the model the nodes' rules are rendered from "
                      "(exit 0: allowed, 1: denied)")
    check.add_argument("--from", dest="source", required=True,
                       help="NAMESPACE/POD, or an IPv4 address")
    check.add_argument("--to", dest="destination", required=True, help="NAMESPACE/POD:PORT")
    check.add_argument("--protocol", default="TCP", choices=("TCP", "UDP", "SCTP"))
    check.add_argument("--name", default=DEFAULT_NAME, help="cluster name")
    check.add_argument("--data-dir", type=Path)
    check.add_argument("--kubeconfig", type=Path,
                       help="default: the cluster's (DATA_DIR/kubeconfig)")
    agent = sub.add_parser("agent", help="run a node agent (started by `portico up`)")
    agent.add_argument("--config", type=Path, required=True)
    return parser


def _supervisor(args: argparse.Namespace, data_dir: Path, progress: Progress) -> Supervisor:
    from portico.apiserver.resources.services import ServiceConfig
    from portico.cli._supervisor import ClusterConfig, Supervisor

    return Supervisor(ClusterConfig(
        name=args.name, data_dir=data_dir, api_port=args.api_port,
        bind_address=args.bind_address, nodes=args.nodes,
        services=ServiceConfig(service_cidr=args.service_cidr,
                               node_port_range=args.node_port_range),
        history_revisions=args.history_revisions,
        compaction_interval=args.compaction_interval,
    ), progress)


async def _announce(supervisor: Supervisor) -> None:
    """Each addon as it becomes available, then the kubeconfig and commands to try."""
    from portico.cli._progress import report_addons

    assert supervisor.api is not None
    nodes = len(supervisor.topology.nodes) if supervisor.topology is not None else 0
    if nodes:
        await report_addons(supervisor.api.registry, supervisor.progress)
    supervisor.progress.summary(supervisor.config.name, supervisor.api.kubeconfig, nodes)


async def _run_up(supervisor: Supervisor) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    announce: asyncio.Task[None] | None = None
    try:
        await supervisor.start()
        announce = asyncio.create_task(_announce(supervisor))
        await stop.wait()
    finally:
        if announce is not None:
            announce.cancel()
        await supervisor.stop()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or default_data_dir(args.name)).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = open(data_dir / "lock", "w")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"portico: another `portico up` is using {data_dir}", file=sys.stderr)
        return 1
    if args.nodes and os.geteuid() != 0:
        print("portico: nodes need root (network namespaces); starting the control plane "
              "only", file=sys.stderr)
    setup_logging(args.verbose)
    progress = Progress()
    progress.step(f"starting cluster {args.name!r} with {count(args.nodes, 'node')} in "
                  f"{data_dir}")
    supervisor = _supervisor(args, data_dir, progress)
    try:
        supervisor.prepare()  # forks the components: before any event loop or thread
    except BaseException:
        asyncio.run(supervisor.stop())
        raise
    return asyncio.run(_run_up(supervisor))


def cmd_lb(args: argparse.Namespace) -> int:
    from portico.cli._lb import show

    data_dir = (args.data_dir or default_data_dir(args.name)).resolve()
    print(show(data_dir / "kubeconfig", args.lb_name))
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from portico.cli._policy import CheckError, Question, check, parse_destination
    from portico.netpol.model import Protocol

    kubeconfig = args.kubeconfig or \
        (args.data_dir or default_data_dir(args.name)).resolve() / "kubeconfig"
    try:
        pod, port = parse_destination(args.destination)
        allowed, text = check(kubeconfig, Question(args.source, pod, port,
                                                   Protocol(args.protocol)))
    except CheckError as exc:
        print(f"portico policy check: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0 if allowed else 1


def cmd_agent(args: argparse.Namespace) -> int:
    from portico.agent import main as agent_main

    return agent_main(args.config)


def _ready(kubeconfig: Path, addons: bool) -> tuple[bool, str]:
    try:
        config = yaml.safe_load(kubeconfig.read_text())
    except (OSError, yaml.YAMLError) as exc:
        return False, f"no kubeconfig yet ({exc.__class__.__name__})"
    import base64
    import tempfile

    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    ctx = ssl.create_default_context(cadata=base64.b64decode(
        cluster["certificate-authority-data"]).decode())
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "c.crt"), Path(tmp, "c.key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(cert, key)
    try:
        with urllib.request.urlopen(cluster["server"] + "/readyz", context=ctx, timeout=2) as r:
            if r.status != 200:
                return False, f"readyz answered {r.status}"
        expected = _expected_nodes(kubeconfig.parent)
        if expected is None:
            return False, "cluster state not written yet"
        if expected == 0:  # the control plane only: no nodes, no addons
            return True, "ready"
        ok, reason = _nodes_ready(expected, kubeconfig.parent, cluster["server"], ctx)
        if ok and addons:
            return _addons_ready(cluster["server"], ctx)
        return ok, reason
    except OSError as exc:
        return False, f"API server not answering: {exc}"


def _cluster_state(data_dir: Path) -> dict[str, Any] | None:
    import json

    try:
        state = json.loads((data_dir / "cluster.json").read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _expected_nodes(data_dir: Path) -> int | None:
    state = _cluster_state(data_dir)
    return None if state is None else int(state.get("nodes", 0))


def _nodes_ready(expected: int, data_dir: Path, server: str,
                 ctx: ssl.SSLContext) -> tuple[bool, str]:
    """Every node the cluster was started with is Ready, with a heartbeat from this run."""
    import json

    started = (_cluster_state(data_dir) or {}).get("startedAt", "")
    with urllib.request.urlopen(server + "/api/v1/nodes", context=ctx, timeout=2) as r:
        nodes = json.load(r)["items"]
    ready = [n for n in nodes if any(
        c.get("type") == "Ready" and c.get("status") == "True"
        and c.get("lastHeartbeatTime", "") >= started
        for c in n.get("status", {}).get("conditions", []) or [])]
    if len(ready) < expected:
        return False, f"{len(ready)} of {expected} nodes Ready"
    return True, "ready"


def _addons_ready(server: str, ctx: ssl.SSLContext) -> tuple[bool, str]:
    """Cluster DNS and the ingress controller have an available replica."""
    import json
    import urllib.error

    from portico.cli._progress import ADDON_DEPLOYMENTS

    for namespace, name, _what in ADDON_DEPLOYMENTS:
        url = f"{server}/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                available = json.load(r).get("status", {}).get("availableReplicas", 0)
        except urllib.error.HTTPError:
            return False, f"addon {namespace}/{name} not installed yet"
        if not available:
            return False, f"addon {namespace}/{name} has no available replica yet"
    return True, "ready"


def cmd_wait(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or default_data_dir(args.name)).resolve()
    deadline = time.monotonic() + args.timeout
    reason = "not started"
    while time.monotonic() < deadline:
        ok, reason = _ready(data_dir / "kubeconfig", addons=args.wait_for == "all")
        if ok:
            return 0
        time.sleep(0.1)
    print(f"portico: cluster not ready after {args.timeout:g}s: {reason}", file=sys.stderr)
    return 1


def _cluster_netns(name: str) -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    prefix = f"portico-{name}-"
    return [line.split()[0] for line in listing.stdout.splitlines()
            if line.split() and line.split()[0].startswith(prefix)]


def cmd_down(args: argparse.Namespace) -> int:
    """End the processes left in the cluster's namespaces, then remove everything it made."""
    from portico.cloud import destroy

    killed = 0
    for netns in _cluster_netns(args.name):
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
        shutil.rmtree(f"/etc/netns/{netns}", ignore_errors=True)
    removed = destroy(args.name)
    print(f"portico: cluster {args.name!r}: ended {killed} processes, removed "
          f"{len(removed)} namespaces/links/tables")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"up": cmd_up, "wait": cmd_wait, "down": cmd_down, "agent": cmd_agent,
                "lb": cmd_lb, "policy": cmd_policy}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
