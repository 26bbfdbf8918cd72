"""CustomResourceDefinitions benchmark (issue 13): custom resource creates/s, and how fast
the Gateway API bundle becomes usable.

The server runs in this process, inside a network namespace of the benchmark's own;
the load generator is a client process of its own (this script again, with
`--client`), so the numbers measure the server.

Phases:
  creates  a CRD whose schema has CEL rules (`x-kubernetes-validations`), enums,
           patterns and defaults; 8 concurrent clients POST N custom resources and N
           ConfigMaps, in four alternating rounds. Goal: CR creates/s >= 0.7 x ConfigMap
           creates/s.
  bundle   `kubectl apply --server-side -f` of the Gateway API standard bundle
           (read from ../shared/conformance/gateway-api); the time from starting
           kubectl to every CRD of the bundle Established and listed in aggregated
           discovery (`/apis`). Goal: under 2 s.

Usage: `.venv/bin/python bench/crds.py [--count 2000] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sandbox import ensure_private_netns  # noqa: E402

BUNDLE = (Path(__file__).resolve().parents[2] / "shared" / "conformance" / "gateway-api"
          / "standard-install.yaml")
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GROUP = "bench.example.com"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
CLIENTS = 8

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "widgets", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {
                                   "type": "object",
                                   "x-kubernetes-validations": [
                                       {"rule": "self.replicas <= self.maxReplicas",
                                        "message": "replicas must not exceed maxReplicas"},
                                       {"rule": "self.name.startsWith('w')"}],
                                   "properties": {
                                       "name": {"type": "string", "maxLength": 63,
                                                "pattern": "^[a-z0-9-]+$"},
                                       "replicas": {"type": "integer", "minimum": 0},
                                       "maxReplicas": {"type": "integer", "default": 10},
                                       "mode": {"type": "string", "enum": ["a", "b"],
                                                "default": "a"}}},
                               "status": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}


def _tls(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    return ctx


def _widget(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"name": name, "replicas": 1}}


def _configmap(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": {"name": name, "replicas": "1"}}


# ---------------------------------------------------------------- the client process

async def _creates(base: str, pki: Path, path: str, first: int, count: int) -> float:
    body = _widget if path == WIDGETS else _configmap
    conn = aiohttp.TCPConnector(ssl=_tls(pki), limit=CLIENTS)
    async with aiohttp.ClientSession(connector=conn) as session:
        names = iter(range(first, first + count))

        async def worker() -> None:
            for i in names:
                async with session.post(base + path, data=orjson.dumps(body(f"w{i:06d}")),
                                        headers={"Content-Type": "application/json"}) as resp:
                    text = await resp.read()
                    assert resp.status == 201, text

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return count / (time.perf_counter() - start)


def client_main(args: argparse.Namespace) -> None:
    rate = asyncio.run(_creates(args.base, Path(args.pki), args.path, args.first, args.count))
    print(json.dumps({"rate": rate}), flush=True)


# ---------------------------------------------------------------- the server side

async def _run_client(base: str, pki: Path, path: str, first: int, count: int) -> float:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", "--base", base, "--pki", str(pki),
        "--path", path, "--first", str(first), "--count", str(count),
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0, "client failed"
    return float(json.loads(out)["rate"])


async def _established(session: aiohttp.ClientSession, base: str, names: set[str]) -> bool:
    async with session.get(base + CRDS) as resp:
        listed = await resp.json()
    ready = {c["metadata"]["name"] for c in listed["items"]
             if any(cond["type"] == "Established" and cond["status"] == "True"
                    for cond in (c.get("status") or {}).get("conditions", []))}
    if not names <= ready:
        return False
    async with session.get(base + "/apis", headers={"Accept": AGGREGATED}) as resp:
        groups = await resp.json(content_type=None)
    served = {f"{r['resource']}.{g['metadata']['name']}" for g in groups["items"]
              for v in g["versions"] for r in v["resources"]}
    return names <= served


def _bundle_names() -> set[str]:
    """The names of the bundle's CRDs (each document's first `  name:` after its kind)."""
    lines = BUNDLE.read_text().splitlines()
    names = set()
    for i, line in enumerate(lines):
        if line == "kind: CustomResourceDefinition":
            names.add(next(ln for ln in lines[i:] if ln.startswith("  name: "))
                      .split(":", 1)[1].strip())
    return names


async def _bundle(session: aiohttp.ClientSession, base: str, kubeconfig: Path,
                  cache: Path) -> tuple[float, int]:
    kubectl = shutil.which("kubectl.1.33") or str(
        Path(shutil.which("kubectl") or "kubectl").resolve().parent / "kubectl.1.33")
    names = _bundle_names()
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        kubectl, f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}", "apply",
        "--server-side", "-f", str(BUNDLE), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    while not await _established(session, base, names):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    return elapsed, await proc.wait()


async def _alternating(base: str, pki: Path, count: int) -> tuple[float, float]:
    """Creates/s of both kinds, in alternating rounds (the machine's load drifts)."""
    rounds, part = 4, count // 4
    seconds = {WIDGETS: 0.0, CONFIGMAPS: 0.0}
    for index in range(rounds):
        for path in (WIDGETS, CONFIGMAPS) if index % 2 == 0 else (CONFIGMAPS, WIDGETS):
            seconds[path] += part / await _run_client(base, pki, path, index * part, part)
    return rounds * part / seconds[WIDGETS], rounds * part / seconds[CONFIGMAPS]


async def one_run(count: int) -> dict[str, float]:
    from portico.apiserver.server import ApiServer, ApiServerConfig
    from tests.api.conftest import free_port

    with tempfile.TemporaryDirectory(prefix="portico-bench-crds-") as tmp:
        config = ApiServerConfig(name="bench", data_dir=Path(tmp) / "data", port=free_port())
        server = ApiServer(config)
        await server.start()
        pki = config.data_dir / "pki"
        base = f"https://127.0.0.1:{config.port}"
        try:
            conn = aiohttp.TCPConnector(ssl=_tls(pki))
            async with aiohttp.ClientSession(connector=conn) as session:
                async with session.post(base + CRDS, json=WIDGET_CRD) as resp:
                    assert resp.status == 201, await resp.text()
                while not await _established(session, base, {f"widgets.{GROUP}"}):
                    await asyncio.sleep(0.01)
                crs, cms = await _alternating(base, pki, count)
                seconds, code = await _bundle(session, base, server.kubeconfig,
                                              Path(tmp) / "cache")
        finally:
            await server.stop()
    return {"cr": crs, "cm": cms, "ratio": crs / cms, "bundle": seconds, "kubectl": code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--pki", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    ensure_private_netns()
    runs = [asyncio.run(one_run(args.count)) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"custom resource creates (CEL-validated schema): {med['cr']:.0f}/s")
    print(f"ConfigMap creates:                              {med['cm']:.0f}/s")
    print(f"ratio: {med['ratio']:.2f} (goal >= 0.7)")
    print(f"Gateway API bundle: kubectl apply --server-side to every CRD Established and in "
          f"discovery: {med['bundle']:.2f} s (goal < 2 s; kubectl exit {int(med['kubectl'])})")


if __name__ == "__main__":
    main()
