"""The objects a pod's volumes need before kubelet starts it."""

from __future__ import annotations

from portico.agent._volumes import NeededObject, SourceKind, needed_objects


def test_config_map_secret_and_projected_sources_unless_optional() -> None:
    spec = {"volumes": [
        {"name": "a", "configMap": {"name": "cm"}},
        {"name": "b", "secret": {"secretName": "s"}},
        {"name": "c", "configMap": {"name": "maybe", "optional": True}},
        {"name": "d", "emptyDir": {}},
        {"name": "e", "projected": {"sources": [
            {"secret": {"name": "ps"}}, {"configMap": {"name": "pcm"}},
            {"serviceAccountToken": {"path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt"}}]}},
    ]}
    assert needed_objects(spec) == [
        NeededObject("a", SourceKind.CONFIG_MAP, "cm"), NeededObject("b", SourceKind.SECRET, "s"),
        NeededObject("e", SourceKind.SECRET, "ps"), NeededObject("e", SourceKind.CONFIG_MAP, "pcm")]
    assert needed_objects({}) == []


def test_kubelets_failed_mount_message() -> None:
    assert NeededObject("cfg", SourceKind.CONFIG_MAP, "app").mount_failed() == (
        'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found')
    assert NeededObject("tls", SourceKind.SECRET, "cert").mount_failed() == (
        'MountVolume.SetUp failed for volume "tls" : secret "cert" not found')
