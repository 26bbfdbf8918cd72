"""The vocabulary: members are the JSON strings, and no module keeps a copy of a set."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from portico.model import gatewayapi, vocabulary
from portico.model.vocabulary import ConditionStatus, PodPhase, ServiceType

PORTICO = Path(vocabulary.__file__).parents[1]
SETS = {f"{m.__name__}.{n}": frozenset(getattr(m, n)) for m in (vocabulary, gatewayapi)
        for n in m.__all__}


def test_members_are_the_json_strings() -> None:
    spec = json.loads('{"type": "NodePort", "phase": "Running", "status": "True"}')
    assert spec["type"] == ServiceType.NODE_PORT
    assert ServiceType(spec["type"]) is ServiceType.NODE_PORT
    assert spec["phase"] in (PodPhase.RUNNING, PodPhase.PENDING)
    assert json.dumps({"status": ConditionStatus.TRUE}) == '{"status": "True"}'


def _enum_classes() -> list[tuple[str, frozenset[str]]]:
    found = []
    for path in sorted(PORTICO.rglob("*.py")):
        if path.parent.name == "model":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any("Enum" in ast.unparse(b) for b in node.bases):
                values = frozenset(
                    s.value.value for s in node.body if isinstance(s, ast.Assign)
                    and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str))
                found.append((f"{path.relative_to(PORTICO.parent)}:{node.name}", values))
    return found


@pytest.mark.parametrize(("where", "values"), [pytest.param(w, v, id=w) for w, v in _enum_classes()
                                               if len(v) >= 2])
def test_no_copy_of_a_model_enum(where: str, values: frozenset[str]) -> None:
    copies = [name for name, members in SETS.items() if values <= members]
    assert not copies, f"{where} copies {copies}; import it from portico.model"
