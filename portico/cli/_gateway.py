"""`portico gateway convert`: print the Gateway API objects equivalent to the Ingresses.

Reads the Ingresses (one namespace, or all with `-A`) and the Services their
backends name through the API (portico.client), converts them with the pure
`portico.ingress.togateway.convert` and prints YAML for `kubectl apply -f -`.
What cannot be converted is listed at the head of the YAML as comments and on
stderr, so nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from portico.cli._target import resolve, target_arguments
from portico.client import Api, ApiError
from portico.model.kinds import INGRESS, SERVICE

Obj = dict[str, Any]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gateway = sub.add_parser("gateway", help="Gateway API helpers")
    gateway_sub = gateway.add_subparsers(dest="gateway_command", required=True)
    conv = gateway_sub.add_parser("convert", help="print the Gateway API objects (Gateway of "
                                                  "class approuting-istio, HTTPRoutes) "
                                                  "equivalent to the Ingresses")
    scope = conv.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", default="default")
    scope.add_argument("-A", "--all-namespaces", action="store_true")
    conv.add_argument("--gateway-name", default="gateway",
                      help="the Gateway to create in each namespace (default: gateway)")
    target_arguments(conv)


def cmd_gateway(args: argparse.Namespace) -> int:
    from portico.ingress.togateway import convert, to_yaml

    target = resolve(args.name, args.data_dir)
    namespace = None if args.all_namespaces else args.namespace
    try:
        ingresses, services = asyncio.run(_read(target.kubeconfig, namespace))
    except ApiError as exc:
        print(f"portico: cannot list Ingresses: {exc.status.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"portico: {target}: {exc}", file=sys.stderr)
        return 1

    def port(ns: str, service: str, name: str) -> int | None:
        spec = (services.get((ns, service)) or {}).get("spec") or {}
        return next((int(p["port"]) for p in spec.get("ports") or [] if p.get("name") == name),
                    None)

    conversion = convert(ingresses, port, args.gateway_name)
    for line in conversion.notes:
        print(f"portico: {line}", file=sys.stderr)
    sys.stdout.write(to_yaml(conversion))
    return 0


async def _read(kubeconfig: Path, namespace: str | None
                ) -> tuple[list[Obj], dict[tuple[str, str], Obj]]:
    """The Ingresses of `namespace` (all when None) and the Services beside them."""
    api = Api.connect(kubeconfig, "portico")
    try:
        ingresses = (await api.list(INGRESS, namespace)).items
        services = (await api.list(SERVICE, namespace)).items
    finally:
        await api.close()
    return ingresses, {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
