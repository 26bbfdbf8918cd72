"""Which cluster `portico wait | down | lb` talks to, and saying so.

A data dir names a cluster completely: `portico up` writes `kubeconfig` and
`cluster.json` (name, nodes, start time) there.  The target is, in order:
`--data-dir`; `--name` (its default data dir); `$KUBECONFIG` when it names one file
in a Portico data dir (the `export KUBECONFIG=...` line `portico up` prints); the
default cluster `portico`.  When `$KUBECONFIG` is set but not followed (another
cluster was named, or it is not a Portico kubeconfig), the command says on stderr
which cluster it uses instead, so it never silently talks to another cluster than
kubectl does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_NAME = "portico"
STATE_FILE = "cluster.json"


def default_data_dir(name: str) -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "portico" / name


def cluster_state(data_dir: Path) -> dict[str, Any] | None:
    """What `portico up` recorded in `data_dir` (name, nodes, startedAt), if anything."""
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


@dataclass(frozen=True)
class Target:
    name: str
    data_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def __str__(self) -> str:
        return f"cluster {self.name!r} (data dir {self.data_dir})"


def _from_data_dir(data_dir: Path, name: str | None) -> Target:
    recorded = (cluster_state(data_dir) or {}).get("name")
    return Target(name or str(recorded or data_dir.name), data_dir)


def _from_kubeconfig(variable: str) -> Target | None:
    if not variable or os.pathsep in variable:
        return None
    data_dir = Path(variable).resolve().parent
    return _from_data_dir(data_dir, None) if cluster_state(data_dir) is not None else None


def resolve(name: str | None, data_dir: Path | None) -> Target:
    """The cluster a command means (see the module docstring); notes on stderr why
    `$KUBECONFIG` is not followed when it is set and not followed."""
    variable = os.environ.get("KUBECONFIG", "")
    if data_dir is not None:
        target = _from_data_dir(data_dir.resolve(), name)
    elif name is not None:
        target = Target(name, default_data_dir(name).resolve())
    else:
        from_variable = _from_kubeconfig(variable)
        if from_variable is not None:
            return from_variable
        target = Target(DEFAULT_NAME, default_data_dir(DEFAULT_NAME).resolve())
    if variable and Path(variable).resolve() != target.kubeconfig:
        print(f"portico: using {target}, not $KUBECONFIG={variable}", file=sys.stderr)
    return target


def target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help=f"cluster name (default: $KUBECONFIG's cluster, "
                                       f"else {DEFAULT_NAME!r})")
    parser.add_argument("--data-dir", type=Path, help="the cluster's data dir")
