"""Claiming a cluster: one holder per name and per data dir; a root-only data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from portico.cli import _claim
from portico.cli._claim import ClaimError, claim, name_held, name_lock_path, secure


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_claim, "ROOT_LOCK_DIR", tmp_path / "run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))


def test_a_name_and_a_data_dir_have_one_holder_at_a_time(tmp_path: Path) -> None:
    first = claim("demo", tmp_path / "a")
    with pytest.raises(ClaimError, match=r"cluster 'demo' is already running \(pid "
                                         rf"{os.getpid()}, cluster 'demo', data dir "):
        claim("demo", tmp_path / "b")
    assert not (tmp_path / "b").exists()  # refused before anything is created
    with pytest.raises(ClaimError, match="is in use by another `portico up`"):
        claim("other", tmp_path / "a")
    assert not name_lock_path("other").exists()  # the refused claim let its name go
    with pytest.raises(ClaimError, match="cluster 'demo' is running"):  # portico down
        name_held("demo", tmp_path / "a").__enter__()
    first.release()
    assert not name_lock_path("demo").exists()
    with name_held("demo", tmp_path / "a"), pytest.raises(  # down, after the cluster stopped
            ClaimError, match="cluster 'demo' is already running"):
        claim("demo", tmp_path / "b")
    assert not name_lock_path("demo").exists()
    claim("demo", tmp_path / "b").release()


def test_a_claimant_retries_when_the_lock_file_is_removed_under_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = claim("demo", tmp_path / "a")
    stale = _claim._open(name_lock_path("demo"))  # opened just before its holder leaves
    first.release()
    real_open, opened = _claim._open, iter([stale])
    monkeypatch.setattr(_claim, "_open", lambda path: next(opened, None) or real_open(path))
    second = claim("demo", tmp_path / "b")
    assert second.name_lock is not stale and stale.closed
    with pytest.raises(ClaimError, match=f"data dir {tmp_path / 'b'}\\)"):
        claim("demo", tmp_path / "c")
    second.release()


def test_secure_strips_group_and_other_and_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    (outside / "file").write_text("x")
    (outside / "file").chmod(0o644)
    data = tmp_path / "data"
    (data / "pki").mkdir(parents=True)
    data.chmod(0o755)
    (data / "pki" / "ca.key").write_text("k")
    (data / "pki" / "ca.key").chmod(0o644)
    (data / "run.sh").write_text("#!/bin/sh\n")
    (data / "run.sh").chmod(0o755)
    (data / "link").symlink_to(outside)
    secure(data)
    mode = {p: oct(stat.S_IMODE(os.lstat(tmp_path / p).st_mode))
            for p in ("data", "data/pki", "data/pki/ca.key", "data/run.sh", "outside",
                      "outside/file")}
    assert mode == {"data": "0o700", "data/pki": "0o700", "data/pki/ca.key": "0o600",
                    "data/run.sh": "0o700", "outside": "0o755", "outside/file": "0o644"}
