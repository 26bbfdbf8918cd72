"""Addons: the manifests `portico up` applies after the control plane starts, as AKS does.

Each addon is one YAML file in this package (`coredns.yaml`: the cluster DNS;
`storage.yaml`: the default StorageClass).
`load(name)` returns its documents as plain dicts, ready for the API; the files
are package data, read through importlib.resources so they work from a wheel.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

ADDONS = ("coredns", "ingress", "storage", "gateway")


def load(name: str) -> list[dict[str, Any]]:
    """The documents of addon `name` (e.g. "coredns"), in file order, empty ones dropped."""
    if name not in ADDONS:
        raise KeyError(f"unknown addon {name!r}; known: {', '.join(ADDONS)}")
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]
