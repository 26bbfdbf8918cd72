"""`portico up | wait | down`: run a cluster in the foreground, wait for it, clean up after it.

`up` claims the cluster name and its data dir first (`_claim`: refused at once,
touching nothing, if another `portico up` holds either), checks that the API port
is free, and reports a failed start as one line with a hint (the traceback only
with `-v`).  `wait`, `down` and `lb` find their cluster as `_target` says
(`--data-dir`, `--name`, `$KUBECONFIG`, the default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from portico.cli._claim import ClaimError, claim, name_held, secure
from portico.cli._gateway import add_parser as gateway_parser
from portico.cli._gateway import cmd_gateway
from portico.cli._gatewayapi import bundle_option
from portico.cli._gatewayapi import ready as gateway_api_ready
from portico.cli._progress import Progress, count
from portico.cli._target import (
    DEFAULT_NAME,
    cluster_state,
    default_data_dir,
    resolve,
    target_arguments,
)
from portico.client import UNREACHABLE, Api, ApiError
from portico.cloud import name_problem
from portico.logs import setup as setup_logging
from portico.model import core
from portico.model.kinds import DEPLOYMENT, LEASE, NODE
from portico.oci import ImageGcPolicy

if TYPE_CHECKING:
    from portico.cli._supervisor import Supervisor

log = logging.getLogger("portico.cli")


def _port_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(p) for p in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port range {text!r}, want A-B") from None
    if not 1 <= low <= high <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port range {text!r}")
    return low, high


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}, want 1-65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portico", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="run a cluster in the foreground until SIGINT/SIGTERM")
    up.add_argument("--name", default=DEFAULT_NAME)
    up.add_argument("--data-dir", type=Path)
    up.add_argument("--api-port", type=_port, default=6443)
    up.add_argument("--bind-address", default="127.0.0.1")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--service-cidr", type=ipaddress.IPv4Network, default="10.0.0.0/16")
    up.add_argument("--node-port-range", type=_port_range, default=(30000, 32767))
    up.add_argument("--history-revisions", type=int, default=50_000,
                    help="watch history kept, in revisions (older resourceVersions get 410)")
    up.add_argument("--compaction-interval", type=float, default=30.0, help=argparse.SUPPRESS)
    up.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                    help="seconds a node may stop heartbeating before it is marked "
                         "unreachable (kube-controller-manager's flag; default 40)")
    up.add_argument("--pull-builtin-images", action="store_true",
                    help="pull the images Portico has built in (nginx, busybox, ...) from "
                         "their registries, like any other image")
    up.add_argument("--image-gc-high-threshold", type=_percent, default=85, metavar="PERCENT",
                    help="image store disk usage that starts kubelet's image garbage "
                         "collection (default 85)")
    up.add_argument("--image-gc-low-threshold", type=_percent, default=80, metavar="PERCENT",
                    help="disk usage the image garbage collection frees down to (default 80)")
    up.add_argument("--image-minimum-gc-age", type=float, default=120.0, metavar="SECONDS",
                    help="an unused image younger than this is never collected (default 120)")
    up.add_argument("--gateway-api-crds", type=bundle_option, metavar="FILE",
                    help="Gateway API standard-install.yaml to install when offline, or "
                         "`none` (default: $PORTICO_GATEWAY_API_CRDS, the cached copy, "
                         "else downloaded from the pinned release)")
    up.add_argument("-v", "--verbose", action="store_true")
    wait = sub.add_parser("wait", help="exit 0 once the cluster is ready")
    target_arguments(wait)
    wait.add_argument("--timeout", type=float, default=60.0)
    wait.add_argument("--for", dest="wait_for", choices=("all", "nodes"), default="all",
                      help="nodes: every node Ready; all (default): also the DNS and "
                           "ingress addons available and the Gateway API CRDs "
                           "Established")
    down = sub.add_parser("down", help="remove what a crashed run left behind")
    target_arguments(down)
    lb = sub.add_parser("lb", help="the cluster's Azure-style load balancers")
    lb_sub = lb.add_subparsers(dest="lb_command", required=True)
    show = lb_sub.add_parser("show", help="frontends, backend pool with probe state, rules, "
                                          "probes (like `az network lb show`)")
    show.add_argument("lb_name", nargs="?", help="load balancer name (default: all)")
    target_arguments(show)
    from portico.cli._image import add_parser as add_image_parser

    add_image_parser(sub, target_arguments)
    policy = sub.add_parser("policy", help="NetworkPolicy: would a connection be allowed?")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser(
        "check", help="answer from the model the nodes' rules are rendered from "
                      "(exit 0: allowed, 1: denied)")
    check.add_argument("--from", dest="source", required=True,
                       help="NAMESPACE/POD, or an IPv4 address")
    check.add_argument("--to", dest="destination", required=True, help="NAMESPACE/POD:PORT")
    check.add_argument("--protocol", default="TCP", choices=("TCP", "UDP", "SCTP"))
    target_arguments(check)
    check.add_argument("--kubeconfig", type=Path,
                       help="default: the cluster's (DATA_DIR/kubeconfig)")
    creds = sub.add_parser("kubeconfig", help="print a kubeconfig for a user (certificate "
                                              "CN=user, O=groups, signed by the cluster CA)")
    creds.add_argument("user")
    creds.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    creds.add_argument("--days", type=int, default=365, help="certificate validity")
    target_arguments(creds)
    gateway_parser(sub)
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
        node_monitor_grace_period=args.node_monitor_grace_period,
        pull_builtin_images=args.pull_builtin_images,
        gateway_api_crds=args.gateway_api_crds,
        image_gc=_image_gc_policy(args),
    ), progress)


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 100")
    return value


def _image_gc_policy(args: argparse.Namespace) -> ImageGcPolicy:
    """kubelet's image GC settings (its validation: low below high)."""
    if args.image_gc_low_threshold >= args.image_gc_high_threshold:
        raise SystemExit(
            f"portico: imageGCLowThresholdPercent (--image-gc-low-threshold) "
            f"{args.image_gc_low_threshold} must be less than imageGCHighThresholdPercent "
            f"(--image-gc-high-threshold) {args.image_gc_high_threshold}")
    return ImageGcPolicy(args.image_gc_high_threshold, args.image_gc_low_threshold,
                         args.image_minimum_gc_age)


class StartFailed(Exception):
    """The cluster could not be brought up; the cause is chained."""


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
        try:
            await supervisor.start()
        except Exception as exc:
            raise StartFailed from exc
        await asyncio.to_thread(secure, supervisor.config.data_dir)  # files made since
        announce = asyncio.create_task(_announce(supervisor))
        await stop.wait()
    finally:
        if announce is not None:
            announce.cancel()
        await supervisor.stop()
    return 0


_PORT_HINTS = {
    errno.EADDRINUSE: "another cluster or program listens there; choose another port "
                      "with --api-port",
    errno.EACCES: "ports below 1024 need root; choose another with --api-port",
    errno.EADDRNOTAVAIL: "not an address of this machine; see --bind-address",
}


def _port_problem(address: str, port: int) -> str | None:
    """Why the API server could not listen on address:port, with a hint, or None."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the API server
        try:
            sock.bind((address, port))
        except OSError as exc:
            hint = _PORT_HINTS.get(exc.errno or 0, "")
            return (f"cannot listen on {address}:{port}: {exc.strerror or exc}"
                    + (f" ({hint})" if hint else ""))
    return None


def _preflight(args: argparse.Namespace) -> str | None:
    """What makes `up` fail before it creates anything, or None."""
    problem = name_problem(args.name)
    if problem is None and args.nodes < 0:
        problem = f"--nodes must be 0 or more, not {args.nodes}"
    return problem or _port_problem(args.bind_address, args.api_port)


def _start_failed(args: argparse.Namespace, exc: BaseException) -> int:
    """One line for the user (the traceback is logged with -v); the exit code."""
    log.debug("start failed", exc_info=exc)
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    if not isinstance(exc, OSError | ValueError):
        text = f"{exc.__class__.__name__}: {text}"
    print(f"portico: cannot start cluster {args.name!r}: {text}"
          + ("" if args.verbose else " (-v shows the traceback)"), file=sys.stderr)
    return 1


def cmd_up(args: argparse.Namespace) -> int:
    data_dir = (args.data_dir or default_data_dir(args.name)).resolve()
    problem = _preflight(args)
    if problem is not None:
        print(f"portico: {problem}", file=sys.stderr)
        return 1
    try:
        held = claim(args.name, data_dir)
    except ClaimError as refused:
        print(f"portico: {refused}", file=sys.stderr)
        return 1
    try:
        return _up(args, data_dir)
    finally:
        held.release()


def _up(args: argparse.Namespace, data_dir: Path) -> int:
    """Run the cluster claimed in `data_dir` until SIGINT/SIGTERM."""
    secure(data_dir)
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
    except BaseException as exc:
        asyncio.run(supervisor.stop())
        if isinstance(exc, Exception):
            return _start_failed(args, exc)
        raise
    try:
        return asyncio.run(_run_up(supervisor))
    except StartFailed as failed:
        return _start_failed(args, failed.__cause__ or failed)


def cmd_lb(args: argparse.Namespace) -> int:
    from portico.cli._lb import show

    print(show(resolve(args.name, args.data_dir).kubeconfig, args.lb_name))
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from portico.cli._policy import CheckError, Question, check, parse_destination
    from portico.model.vocabulary import Protocol

    kubeconfig = args.kubeconfig or resolve(args.name, args.data_dir).kubeconfig
    try:
        pod, port = parse_destination(args.destination)
        allowed, text = check(kubeconfig, Question(args.source, pod, port,
                                                   Protocol(args.protocol)))
    except CheckError as exc:
        print(f"portico policy check: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0 if allowed else 1


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    from portico.cli._credentials import user_kubeconfig

    target = resolve(args.name, args.data_dir)
    sys.stdout.write(user_kubeconfig(target.data_dir, target.name, args.user,
                                     tuple(args.group), args.days))
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from portico.agent import main as agent_main

    return agent_main(args.config)


async def _ready(kubeconfig: Path, addons: bool) -> tuple[bool, str]:
    try:
        api = Api.connect(kubeconfig, "portico")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return False, f"no kubeconfig yet ({exc.__class__.__name__})"
    try:
        status, _text = await asyncio.wait_for(api.readyz(), 2)
        if status != 200:
            return False, f"readyz answered {status}"
        expected = _expected_nodes(kubeconfig.parent)
        if expected is None:
            return False, "cluster state not written yet"
        ok, reason = True, "ready"  # the control plane only: no nodes, no addons
        if expected:
            ok, reason = await _nodes_ready(expected, kubeconfig.parent, api)
            if ok and addons:
                ok, reason = await _addons_ready(api)
        if ok and addons:
            return await gateway_api_ready(kubeconfig.parent, api)
        return ok, reason
    except UNREACHABLE as exc:
        return False, f"API server not answering: {exc}"
    except ApiError as exc:  # e.g. 503 while the API server's storage starts
        return False, f"API server answered {exc.code}: {exc}"
    finally:
        await api.close()


def _expected_nodes(data_dir: Path) -> int | None:
    state = cluster_state(data_dir)
    return None if state is None else int(state.get("nodes", 0))


def _live_agents(data_dir: Path) -> dict[str, str]:
    """Node name -> start time of its agent process, for the agents alive now (the
    supervisor's `components.json`)."""
    import json

    try:
        components = json.loads((data_dir / "components.json").read_text())
    except (OSError, ValueError):
        return {}
    live = {}
    for name, record in components.items():
        try:
            os.kill(int(record["pid"]), 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        live[name] = str(record["startedAt"])
    return live


async def _nodes_ready(expected: int, data_dir: Path, api: Api) -> tuple[bool, str]:
    """Every node the cluster was started with is Ready, and its agent process of now
    is alive and has renewed the node's Lease since it started (not a dead one's)."""
    nodes = (await api.list(NODE)).items
    renewed = {lease["metadata"]["name"]: (lease.get("spec") or {}).get("renewTime") or ""
               for lease in (await api.list(LEASE, "kube-node-lease")).items}
    agents = _live_agents(data_dir)
    ready = [n for n in nodes if core.Node.from_obj(n).ready
             and n["metadata"]["name"] in agents
             and renewed.get(n["metadata"]["name"], "") >= agents[n["metadata"]["name"]]]
    if len(ready) < expected:
        return False, f"{len(ready)} of {expected} nodes Ready with a live agent"
    return True, "ready"


async def _addons_ready(api: Api) -> tuple[bool, str]:
    """Cluster DNS and the ingress controller have an available replica."""
    from portico.cli._progress import ADDON_DEPLOYMENTS

    for namespace, name, _what in ADDON_DEPLOYMENTS:
        deployment = await api.get_or_none(DEPLOYMENT, name, namespace)
        if deployment is None:
            return False, f"addon {namespace}/{name} not installed yet"
        available = (deployment.get("status") or {}).get("availableReplicas", 0)
        if not available:
            return False, f"addon {namespace}/{name} has no available replica yet"
    return True, "ready"


def cmd_wait(args: argparse.Namespace) -> int:
    target = resolve(args.name, args.data_dir)
    deadline = time.monotonic() + args.timeout
    reason = "not started"
    while time.monotonic() < deadline:
        ok, reason = asyncio.run(_ready(target.kubeconfig, addons=args.wait_for == "all"))
        if ok:
            print(f"portico: {target} {reason}")
            return 0
        time.sleep(0.1)
    print(f"portico: {target} not ready after {args.timeout:g}s: {reason}", file=sys.stderr)
    return 1


def cmd_down(args: argparse.Namespace) -> int:
    """End the processes left in the cluster's namespaces, then remove everything it made."""
    target = resolve(args.name, args.data_dir)
    problem = name_problem(target.name)
    try:
        if problem is not None:
            raise ClaimError(problem)
        with name_held(target.name, target.data_dir):
            from portico.oci._container import remove_node_containers

            for node_dir in sorted((target.data_dir / "nodes").glob("*")):
                remove_node_containers(node_dir, target.name)  # image containers
            killed, removed = _tear_down(target.name)
    except ClaimError as refused:
        print(f"portico: {refused}", file=sys.stderr)
        return 1
    print(f"portico: {target}: ended {killed} processes, removed {removed} "
          f"namespaces/links/tables")
    return 0


def _tear_down(name: str) -> tuple[int, int]:
    """SIGKILL what runs in the cluster's netns, then remove them and its links:
    (processes ended, things removed)."""
    from portico.cloud import destroy, owned_netns

    killed = 0
    for netns in owned_netns(name):
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
        shutil.rmtree(f"/etc/netns/{netns}", ignore_errors=True)
    return killed, len(destroy(name))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from portico.cli._image import cmd_image

    commands = {"up": cmd_up, "wait": cmd_wait, "down": cmd_down, "agent": cmd_agent,
                "lb": cmd_lb, "image": cmd_image, "policy": cmd_policy,
                "kubeconfig": cmd_kubeconfig, "gateway": cmd_gateway}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
