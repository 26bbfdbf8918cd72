"""`portico image load|ls|rm`: the cluster's image store (`portico.oci`) from the CLI.

`load FILE... [--node N]...` imports docker-save tarballs and OCI archives onto all
the cluster's nodes (its `D/nodes/*`) or the chosen ones; `ls` lists each image with
its id (config digest), size and nodes; `rm IMAGE... [--node N]...` untags it from
the nodes (all by default), then collects the store's garbage (`portico.oci._gc`):
the blobs and unpacked layers no tagged image uses, unless a container still runs
on them.  The cluster need not be running.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from portico.cli._target import resolve
from portico.images._reference import parse
from portico.oci import ImageStore, full_ref
from portico.oci._archive import ArchiveError, load
from portico.oci._gc import collect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
               target: Callable[[argparse.ArgumentParser], None]) -> None:
    """`portico image ...`; `target` adds the options naming the cluster."""
    image = sub.add_parser("image", help="load, list and remove the cluster's images")
    image_sub = image.add_subparsers(dest="image_command", required=True)
    load_cmd = image_sub.add_parser("load", help="import docker-save tarballs or OCI archives")
    load_cmd.add_argument("files", nargs="+", type=Path)
    remove = image_sub.add_parser("rm", help="remove images from nodes")
    remove.add_argument("images", nargs="+")
    for cmd in (load_cmd, remove):
        cmd.add_argument("--node", action="append", default=[],
                         help="a node to act on (repeatable; default: all)")
    listing = image_sub.add_parser("ls", help="list the cluster's images")
    for cmd in (load_cmd, remove, listing):
        target(cmd)


def _nodes(data_dir: Path, chosen: list[str]) -> tuple[str, ...]:
    known = sorted(p.name for p in (data_dir / "nodes").glob("*") if p.is_dir())
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ArchiveError(f"no node {', '.join(unknown)} in {data_dir} "
                           f"(nodes: {', '.join(known) or 'none'})")
    return tuple(chosen or known)


def cmd_image(args: argparse.Namespace) -> int:
    target = resolve(args.name, args.data_dir)
    store = ImageStore(target.data_dir / "images")
    try:
        if args.image_command == "load":
            for line in load(store, args.files, _nodes(target.data_dir, args.node)):
                print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
        elif args.image_command == "ls":
            print(f"{'IMAGE':<60} {'ID':<19} {'SIZE':>10}  NODES")
            for image in sorted(store.images(), key=lambda i: i.ref):
                print(f"{image.ref:<60} {image.config_digest[:19]:<19} {image.size:>10}  "
                      f"{','.join(image.nodes)}")
        else:
            return _remove(store, args.images, tuple(args.node))
    except ArchiveError as error:
        print(f"portico: {error}", file=sys.stderr)
        return 1
    return 0


def _remove(store: ImageStore, images: list[str], nodes: tuple[str, ...]) -> int:
    code = 0
    with store.locked():
        for name in images:
            ref = full_ref(parse(name))
            if store.remove(ref, nodes) is None:
                print(f"portico: no image {ref}", file=sys.stderr)
                code = 1
            else:
                print(f"untagged {ref}")
        collected = collect(store)
    if collected.blobs or collected.layers:
        print(f"deleted {collected.blobs} blobs ({collected.bytes} bytes) and "
              f"{collected.layers} unpacked layers no image uses")
    return code
