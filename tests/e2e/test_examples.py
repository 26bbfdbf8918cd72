"""Every manifest under examples/ is accepted unchanged by `kubectl apply` (server dry run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Kubectl

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("manifest", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_applies(kubectl133: Kubectl, manifest: Path) -> None:
    out = kubectl133.ok("apply", "--dry-run=server", "-f", "-", input=manifest.read_text())
    lines = out.strip().splitlines()
    assert lines and all(line.endswith("(server dry run)") for line in lines), out
