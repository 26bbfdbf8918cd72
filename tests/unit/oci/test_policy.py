"""kubelet's default pull policy and its pull-time text (pure)."""

from __future__ import annotations

from portico.agent._oci import go_duration, pull_policy
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
