"""Which cluster `portico wait | down | lb` means: --data-dir, --name, $KUBECONFIG, default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portico.cli._target import Target, resolve


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    path = tmp_path / "clusters" / "d1"
    path.mkdir(parents=True)
    (path / "cluster.json").write_text(json.dumps({"name": "blue", "nodes": 3}))
    return path


def test_data_dir_then_name_then_kubeconfig_then_default(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    share = tmp_path / "share" / "portico"
    assert resolve(None, data_dir) == Target("blue", data_dir)
    assert resolve("red", None) == Target("red", share / "red")
    assert resolve(None, None) == Target("portico", share / "portico")
    monkeypatch.setenv("KUBECONFIG", str(data_dir / "kubeconfig"))
    assert resolve(None, None) == Target("blue", data_dir)
    assert capsys.readouterr().err == ""
    assert resolve("red", None) == Target("red", share / "red")
    assert capsys.readouterr().err == (
        f"portico: using cluster 'red' (data dir {share / 'red'}), "
        f"not $KUBECONFIG={data_dir / 'kubeconfig'}\n")


def test_a_kubeconfig_outside_a_data_dir_is_not_followed_and_that_is_said(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "elsewhere" / "config"))
    target = resolve(None, None)
    assert target.name == "portico"
    assert "not $KUBECONFIG=" in capsys.readouterr().err
