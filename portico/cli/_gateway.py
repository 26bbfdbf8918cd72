"""`portico gateway convert`: print the Gateway API objects equivalent to the Ingresses.

Reads the Ingresses (one namespace, or all with `-A`) and the Services their
backends name through the API with lightkube, converts them with the pure
`portico.ingress.togateway.convert` and prints YAML for `kubectl apply -f -`.
What cannot be converted is listed at the head of the YAML as comments and on
stderr, so nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache

from portico.cli._target import resolve, target_arguments


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
    from lightkube import ApiError, Client, ConfigError, KubeConfig
    from lightkube.resources.core_v1 import Service
    from lightkube.resources.networking_v1 import Ingress

    from portico.ingress.togateway import convert, to_yaml

    target = resolve(args.name, args.data_dir)
    try:
        client = Client(config=KubeConfig.from_file(str(target.kubeconfig)))
    except ConfigError as exc:
        print(f"portico: {target}: {exc}", file=sys.stderr)
        return 1
    namespace = "*" if args.all_namespaces else args.namespace
    try:
        ingresses = [i.to_dict() for i in client.list(Ingress, namespace=namespace)]
    except ApiError as exc:
        print(f"portico: cannot list Ingresses: {exc.status.message}", file=sys.stderr)
        return 1

    @cache
    def port(ns: str, service: str, name: str) -> int | None:
        try:
            spec = client.get(Service, service, namespace=ns).spec
        except ApiError:
            return None
        return next((p.port for p in (spec.ports if spec else None) or [] if p.name == name),
                    None)

    conversion = convert(ingresses, port, args.gateway_name)
    for line in conversion.notes:
        print(f"portico: {line}", file=sys.stderr)
    sys.stdout.write(to_yaml(conversion))
    return 0
