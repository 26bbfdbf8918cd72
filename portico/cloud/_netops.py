"""The I/O shell of the topology: observe, apply rendered stages, destroy.

`create(topology)` observes (netns names from /run/netns; links of the existing
cloud and node netns, the edge link and its routes, all with `ip -j` run in
parallel), renders the stages (`_steps.render`, pure) and runs each stage's
batches as parallel processes.  Every process is ours and waited for; a failing
batch raises `TopologyError` carrying its command and stderr.  Everything runs
relative to the caller's current netns (the host, or a test's sandbox), which
is where the edge veth and its routes go.

`destroy(name)` deletes the edge link first (synchronously: the kernel tears
down a deleted netns' devices asynchronously, and a lingering host side would
block an immediate re-create), then the cluster's netns.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Sequence

from portico.cloud._steps import (
    NETNS_RUN_DIR,
    Batch,
    Observed,
    Stage,
    Tool,
    render,
)
from portico.cloud._topology import (
    NodePlan,
    Topology,
    edge_alias,
    edge_host_if_name,
    owned_netns_pattern,
    with_node,
)

COMMAND_TIMEOUT = 30.0


class TopologyError(RuntimeError):
    """A command that builds or removes the topology failed."""


def list_netns() -> frozenset[str]:
    """Names under /run/netns: named netns, live or stale (see `netns_files`)."""
    return frozenset(netns_files())


def netns_files() -> dict[str, bool]:
    """Every file under /run/netns -> whether a netns is mounted on it (in our mount ns).

    `ip netns exec` runs its command in a private (slave) mount namespace, so a netns
    added by such a process is mounted only there: other mount namespaces see an empty
    file, and once that mount namespace ends the file is stale.  A mounted netns file
    lives on nsfs, so its st_dev differs from the directory's.
    """
    try:
        names, base = os.listdir(NETNS_RUN_DIR), os.stat(NETNS_RUN_DIR).st_dev
    except FileNotFoundError:
        return {}
    files = {}
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            files[name] = os.stat(os.path.join(NETNS_RUN_DIR, name)).st_dev != base
    return files


def _run_parallel(argvs: Sequence[list[str]], stdins: Sequence[str] | None = None,
                  check: bool = True) -> list[subprocess.CompletedProcess[str]]:
    """Start every command, then wait for each; raise if `check` and any failed."""
    inputs = list(stdins) if stdins is not None else [""] * len(argvs)
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for argv in argvs]
    results = []
    for argv, proc, stdin in zip(argvs, procs, inputs, strict=True):
        out, err = proc.communicate(stdin, timeout=COMMAND_TIMEOUT)
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    failed = [r for r in results if r.returncode != 0]
    if check and failed:
        raise TopologyError("\n".join(_describe(r) for r in failed))
    return results


def _describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(result.args)} exited {result.returncode}: {result.stderr.strip()}"


def run_stages(stages: Sequence[Stage]) -> None:
    """Run each stage's batches in parallel, the stages in order; forced batches may fail."""
    for stage in stages:
        results = _run_parallel([b.argv() for b in stage], [b.stdin() for b in stage],
                                check=False)
        failed = [(b, r) for b, r in zip(stage, results, strict=True)
                  if r.returncode != 0 and not b.force]
        if failed:
            raise TopologyError("\n".join(
                f"{_describe(r)}\nbatch:\n" + "\n".join(b.lines) for b, r in failed))


def _json(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    if result.returncode != 0 or not result.stdout.strip():
        return []
    parsed = json.loads(result.stdout)
    return parsed if isinstance(parsed, list) else []


def _edge_argvs(dev: str) -> list[list[str]]:
    return [["ip", "-j", "link", "show", "dev", dev], ["ip", "-j", "route", "show", "dev", dev]]


def _edge_parse(link: subprocess.CompletedProcess[str],
                routes: subprocess.CompletedProcess[str]) -> tuple[str | None, frozenset[str]]:
    """(alias of the edge link or None when absent, destinations of the routes on it)."""
    links = _json(link)
    if not links:
        return None, frozenset()
    return str(links[0].get("ifalias", "")), frozenset(str(r["dst"]) for r in _json(routes))


def _edge_state(dev: str) -> tuple[str | None, frozenset[str]]:
    return _edge_parse(*_run_parallel(_edge_argvs(dev), check=False))


def observe(topology: Topology) -> Observed:
    """What of `topology` exists now, as seen from the current netns (one parallel round)."""
    files = netns_files()
    existing = frozenset(name for name, live in files.items() if live)
    stale = frozenset(name for name, live in files.items() if not live)
    wanted = [topology.cloud_netns, *(n.netns for n in topology.nodes)]
    present = [ns for ns in wanted if ns in existing]
    argvs = [["ip", "-n", ns, "-j", "link", "show"] for ns in present]
    *results, link, routes = _run_parallel([*argvs, *_edge_argvs(topology.edge_host_if)],
                                           check=False)
    failed = [r for r in results if r.returncode != 0]
    if failed:
        raise TopologyError("\n".join(_describe(r) for r in failed))
    links: dict[str | None, frozenset[str]] = {
        ns: frozenset(str(x["ifname"]) for x in _json(result))
        for ns, result in zip(present, results, strict=True)
    }
    alias, edge_routes = _edge_parse(link, routes)
    links[None] = frozenset() if alias is None else frozenset({topology.edge_host_if})
    return Observed(netns=existing, links=links, edge_alias=alias, edge_routes=edge_routes,
                    stale_netns=stale)


def create(topology: Topology) -> None:
    """Bring up whatever of `topology` is missing; a no-op when it is all there."""
    run_stages(render(topology, observe(topology)))


def add_node(topology: Topology, node: NodePlan) -> None:
    """Bring up `node` and the routes to it on every other node (scaling up)."""
    create(with_node(topology, node))


def owned_netns(name: str) -> list[str]:
    """Cluster `name`'s netns (cloud, nodes, pods), whole-name matches only: cluster
    `x` never claims `portico-x-b-node-1` of cluster `x-b`."""
    pattern = owned_netns_pattern(name)
    return sorted(ns for ns in list_netns() if pattern.fullmatch(ns))


def destroy(name: str) -> list[str]:
    """Remove cluster `name`'s netns, its edge veth and the routes through it.

    Returns what was removed (`link pte-x`, `route 10.224.0.0/16 dev pte-x`,
    `netns portico-x-cloud`, ...).  Anything not recognisably this cluster's
    (another cluster's netns or an edge link with another alias) is left alone.
    """
    removed: list[str] = []
    dev = edge_host_if_name(name)
    alias, routes = _edge_state(dev)
    if alias == edge_alias(name):
        # May race with the kernel removing it (its peer's netns went): only a survivor fails.
        _run_parallel([["ip", "link", "del", "dev", dev]], check=False)
        if _edge_state(dev)[0] is not None:
            raise TopologyError(f"cannot delete link {dev}")
        removed.append(f"link {dev}")
        removed += [f"route {dst} dev {dev}" for dst in sorted(routes)]
    doomed = owned_netns(name)
    if doomed:
        run_stages([(Batch(Tool.IP, None, tuple(f"netns del {ns}" for ns in doomed), force=True),)])
        left = sorted(set(doomed) & list_netns())
        if left:
            raise TopologyError(f"cannot delete netns {', '.join(left)}")
        removed += [f"netns {ns}" for ns in doomed]
    return removed
