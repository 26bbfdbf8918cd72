"""kubelet's default pull policy and its pull-time text (pure)."""

from __future__ import annotations

from pathlib import Path

from portico.agent._config import AgentConfig
from portico.agent._oci import ImageRuntime, go_duration, pull_policy
from portico.images import Mappings
from portico.images._catalog import ImageConfig
from portico.images._reference import parse
from portico.oci import full_ref


def test_latest_or_no_tag_is_always_else_if_not_present() -> None:
    assert pull_policy({}, parse("redis")) == "Always"
    assert pull_policy({}, parse("redis:latest")) == "Always"
    assert pull_policy({}, parse("redis:7")) == "IfNotPresent"
    assert pull_policy({}, parse("redis@sha256:" + "a" * 64)) == "IfNotPresent"
    assert pull_policy({"imagePullPolicy": "Never"}, parse("redis")) == "Never"


def test_names_are_normalized_as_containerd_does() -> None:
    assert full_ref(parse("redis")) == "docker.io/library/redis:latest"
    assert full_ref(parse("localhost:5000/a/b:1")) == "localhost:5000/a/b:1"


def test_durations_read_as_go_prints_them() -> None:
    assert go_duration(0.0421) == "42ms"
    assert go_duration(1.2109) == "1.21s"
    assert go_duration(75.5) == "1m15.5s"


def _runtime(tmp_path: Path, pull_builtin: bool) -> ImageRuntime:
    return ImageRuntime(AgentConfig(
        cluster_name="c", node_name="node-1", node_ip="10.224.0.4", pod_cidr="10.244.0.0/24",
        bridge_ip="10.244.0.1", kubeconfig=tmp_path, data_dir=tmp_path, serving_cert=tmp_path,
        serving_key=tmp_path, client_ca=tmp_path, image_store=tmp_path / "images",
        pull_builtin_images=pull_builtin))


def test_built_in_and_mapped_images_are_pulled_only_when_asked(tmp_path: Path) -> None:
    mappings = Mappings()
    default, real = _runtime(tmp_path, False), _runtime(tmp_path, True)
    assert default.pulls("redis:7", mappings) and real.pulls("redis:7", mappings)
    assert not default.pulls("nginx", mappings) and real.pulls("nginx", mappings)
    assert not default.pulls("Not/A/Reference", mappings)
    assert not ImageRuntime.disabled().pulls("redis:7", mappings)
    mapped = Mappings({"docker.io/library/redis": ImageConfig(cmd=("redis-server",))})
    assert not real.pulls("redis:7", mapped)  # the user's mapping wins over the registry
