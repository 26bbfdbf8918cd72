"""A pod's IPC and UTS namespaces on files (root: bind mounts of namespaces)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from portico.oci import _container as runtime_container
from portico.oci._container import (
    namespaces_dir,
    pod_namespaces,
    remove_node_containers,
    remove_pod_namespaces,
)


@pytest.fixture(autouse=True)
def _root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_container, "NAMESPACES_ROOT", tmp_path / "run")


def test_made_once_with_the_hostname_and_removed_with_the_pod() -> None:
    directory = namespaces_dir("c", "node-1", "abc")
    made = pod_namespaces(directory, "web-0")
    assert set(made) == {"ipc", "uts"} and all(os.path.ismount(p) for p in made.values())
    hostname = subprocess.run(["nsenter", f"--uts={made['uts']}", "hostname"],
                              capture_output=True, text=True, check=True).stdout
    assert hostname == "web-0\n"
    inode = os.stat(made["ipc"]).st_ino
    assert pod_namespaces(directory, "web-0") == made  # joined, not remade
    assert os.stat(made["ipc"]).st_ino == inode
    remove_pod_namespaces(directory)
    assert not directory.exists()


def test_a_nodes_clean_up_removes_what_pods_left(tmp_path: Path) -> None:
    made = pod_namespaces(namespaces_dir("c", "node-1", "def"), "web-1")
    assert remove_node_containers(tmp_path / "node-1", "c") == 0  # no container; files go
    assert not os.path.ismount(made["uts"]) and not namespaces_dir("c", "node-1").exists()
