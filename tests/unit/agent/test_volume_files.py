"""Volume payloads (kubelet's rules), the atomic writer, mount planning and /proc usage."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from portico.agent._atomic_writer import DATA_DIR, write_payload
from portico.agent._mounts import Mount
from portico.agent._usage import UsageTracker, parse_stat
from portico.agent._volume_payload import (
    File,
    PayloadError,
    VolumeSources,
    format_map,
    volume_payload,
)
from portico.agent._volumes import VolumeError, container_mounts, volume_dir

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u1",
                    "labels": {"tier": "be", "app": 'say "hi"'}},
       "spec": {"nodeName": "node-1"}, "status": {"podIP": "10.244.0.5"}}
SOURCES = VolumeSources(
    configmaps={"app": {"data": {"mode": "blue", "size": "3"},
                        "binaryData": {"raw": base64.b64encode(b"\x00\x01").decode()}}},
    secrets={"creds": {"data": {"password": base64.b64encode(b"s3cret").decode()}}},
    tokens={("x", 3600): "TOKEN"}, root_ca=b"CA", node_ip="10.224.0.4")


@pytest.mark.parametrize(("volume", "files"), [
    pytest.param({"configMap": {"name": "app"}}, {
        "mode": File(b"blue", 0o644), "size": File(b"3", 0o644), "raw": File(b"\x00\x01", 0o644)},
        id="configmap-all-keys"),
    pytest.param({"configMap": {"name": "app", "defaultMode": 0o600, "items": [
        {"key": "mode", "path": "a/colour", "mode": 0o400}, {"key": "size", "path": "n"}]}},
        {"a/colour": File(b"blue", 0o400), "n": File(b"3", 0o600)}, id="configmap-items"),
    pytest.param({"configMap": {"name": "gone", "optional": True}}, {}, id="optional-missing"),
    pytest.param({"secret": {"secretName": "creds"}}, {"password": File(b"s3cret", 0o644)},
                 id="secret"),
    pytest.param({"downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]}},
        {"labels": File(b'app="say \\"hi\\""\ntier="be"', 0o644),
         "ip": File(b"10.244.0.5", 0o644)}, id="downward-api"),
    pytest.param({"projected": {"defaultMode": 0o440, "sources": [
        {"serviceAccountToken": {"path": "token", "audience": "x"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                              "path": "ca.crt"}]}},
        {"secret": {"name": "creds"}}]}},
        {"token": File(b"TOKEN", 0o440), "ca.crt": File(b"CA", 0o440),
         "password": File(b"s3cret", 0o440)}, id="projected"),
    pytest.param({"emptyDir": {}}, None, id="not-api-backed"),
])
def test_payloads(volume: dict[str, object], files: dict[str, File] | None) -> None:
    assert volume_payload({"name": "v", **volume}, POD, SOURCES) == files


@pytest.mark.parametrize(("volume", "message"), [
    pytest.param({"configMap": {"name": "app", "items": [{"key": "nope", "path": "x"}]}},
                 "configmap references non-existent config key: nope", id="missing-key"),
    pytest.param({"secret": {"secretName": "other"}}, 'secret "other" not found',
                 id="missing-secret"),
])
def test_payload_errors(volume: dict[str, object], message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        volume_payload({"name": "v", **volume}, POD, SOURCES)


def test_format_map_sorts_and_quotes() -> None:
    assert format_map({"b": "2", "a": "x"}) == 'a="x"\nb="2"'


def test_atomic_writer_swaps_data_and_keeps_links(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_payload(target, {"a": File(b"1", 0o644), "d/b": File(b"2", 0o600)})
    first = os.readlink(target / DATA_DIR)
    assert os.readlink(target / "a") == f"{DATA_DIR}/a"
    assert (target / "d" / "b").read_bytes() == b"2"
    assert (target / "d" / "b").stat().st_mode & 0o777 == 0o600
    assert not write_payload(target, {"a": File(b"1", 0o644), "d/b": File(b"2", 0o600)})
    assert write_payload(target, {"a": File(b"new", 0o644)})
    assert os.readlink(target / DATA_DIR) != first
    assert not (target / first).exists() and not (target / "d").exists()
    assert (target / "a").read_bytes() == b"new"


def test_container_mounts(tmp_path: Path) -> None:
    volumes = [{"name": "cfg", "configMap": {"name": "app"}}, {"name": "scratch", "emptyDir": {}},
               {"name": "host", "hostPath": {"path": "/srv"}}]
    paths = {"cfg": (tmp_path / "cfg", False), "scratch": (tmp_path / "scratch", True),
             "host": (Path("/srv"), False)}
    container = {"volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/app"},
        {"name": "scratch", "mountPath": "/work", "subPathExpr": "$(POD)/logs"},
        {"name": "host", "mountPath": "/h", "readOnly": True}]}
    assert container_mounts(container, volumes, paths, {"POD": "web"}) == (
        Mount(str(tmp_path / "cfg"), "/etc/app", True),
        Mount(str(tmp_path / "scratch" / "web" / "logs"), "/work", False),
        Mount("/srv", "/h", True))
    assert (tmp_path / "scratch" / "web" / "logs").is_dir()
    with pytest.raises(VolumeError):
        container_mounts({"volumeMounts": [{"name": "host", "mountPath": "/x",
                                            "subPath": "missing-dir"}]}, volumes,
                         {"host": (tmp_path / "nohost", False)}, {})
    assert volume_dir(Path("/d"), volumes[1]) == Path("/d/volumes/kubernetes.io~empty-dir/scratch")


def test_proc_stat_and_cpu_rates() -> None:
    stat = ("4242 (sh -c (x)) S 1 4242 4242 0 -1 4194560 1 0 0 0 300 100 40 60 20 0 1 0 5 "
            "1000000 25 184 0 0")
    session, seconds, rss = parse_stat(stat)
    assert session == 4242 and seconds == 500 / os.sysconf("SC_CLK_TCK")
    assert rss == 25 * os.sysconf("SC_PAGE_SIZE")
    tracker = UsageTracker()
    assert tracker.cpu_rate("c", 1.0, 10.0) is None
    assert tracker.cpu_rate("c", 1.5, 11.0) == 500_000_000
    tracker.retain(set())
    assert tracker.cpu_rate("c", 2.0, 12.0) is None
