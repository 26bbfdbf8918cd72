"""The output parsers the kubectl tests rely on."""

from __future__ import annotations

import re

import pytest
from e2e_support import AGE, parse_table

API_RESOURCES = (
    "NAME          SHORTNAMES   APIVERSION   NAMESPACED   KIND\n"
    "bindings                   v1           true         Binding\n"
    "configmaps    cm           v1           true         ConfigMap\n"
)
EVENTS = (
    "LAST SEEN   TYPE     REASON   OBJECT        MESSAGE\n"
    "5m          Normal   Tested   service/web   hello from the e2e test\n"
)


@pytest.mark.parametrize(
    ("text", "names", "rows"),
    [
        pytest.param(
            API_RESOURCES, ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
            [{"NAME": "bindings", "SHORTNAMES": "", "APIVERSION": "v1", "NAMESPACED": "true",
              "KIND": "Binding"},
             {"NAME": "configmaps", "SHORTNAMES": "cm", "APIVERSION": "v1", "NAMESPACED": "true",
              "KIND": "ConfigMap"}],
            id="empty-cell",
        ),
        pytest.param(
            EVENTS, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
            [{"LAST SEEN": "5m", "TYPE": "Normal", "REASON": "Tested", "OBJECT": "service/web",
              "MESSAGE": "hello from the e2e test"}],
            id="spaces-in-header-and-last-cell",
        ),
        pytest.param("", [], [], id="empty"),
    ],
)
def test_parse_table(text: str, names: list[str], rows: list[dict[str, str]]) -> None:
    assert parse_table(text) == (names, rows)


@pytest.mark.parametrize(
    ("age", "matches"),
    [pytest.param(a, True, id=a) for a in ("0s", "59s", "2m3s", "5m", "5h3m", "3d4h", "1y330d")]
    + [pytest.param(a, False, id=f"not-{a}") for a in ("", "5", "<invalid>", "m5")],
)
def test_age_pattern(age: str, matches: bool) -> None:
    assert bool(re.fullmatch(AGE, age)) is matches
