"""How a container's OOM kill is told from its cgroups (v1 and v2), on a fake cgroupfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from portico.oci import _container as runtime_container
from portico.oci._container import OciContainer

PARENT = "/portico/c-node-1/abc-c-0"


def _container(tmp_path: Path) -> OciContainer:
    return OciContainer("abc-c-0", tmp_path / "crun", tmp_path / "bundle", PARENT,
                        Path("/"), 16 << 20)


def test_v2_counts_the_oom_kills_of_runcs_cgroup_in_the_parents_events(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cgroup"
    monkeypatch.setattr(runtime_container, "CGROUP_ROOT", root)
    parent = root / PARENT.lstrip("/")
    parent.mkdir(parents=True)
    events = parent / "memory.events"
    events.write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\noom_group_kill 0\n")
    assert not _container(tmp_path).oom_killed()
    events.write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 1\n")
    assert _container(tmp_path).oom_killed()


def test_v1_tells_it_from_the_parents_peak_reaching_its_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cgroup"
    monkeypatch.setattr(runtime_container, "CGROUP_ROOT", root)
    parent = root / "memory" / PARENT.lstrip("/")
    parent.mkdir(parents=True)
    (parent / "memory.limit_in_bytes").write_text(str(16 << 20))
    (parent / "memory.max_usage_in_bytes").write_text(str(3 << 20))
    assert not _container(tmp_path).oom_killed()
    (parent / "memory.max_usage_in_bytes").write_text(str(16 << 20))
    assert _container(tmp_path).oom_killed()


def test_without_a_cgroup_it_is_no_oom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_container, "CGROUP_ROOT", tmp_path / "cgroup")
    assert not _container(tmp_path).oom_killed()
