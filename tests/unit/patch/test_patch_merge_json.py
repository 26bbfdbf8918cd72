"""merge_patch (RFC 7386) and json_patch (RFC 6902) against evanphx/json-patch behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.patch import json_patch, merge_patch

SVC: dict[str, Any] = {
    "metadata": {"name": "py", "labels": {"a": "b"}},
    "spec": {"ports": [{"port": 80}, {"port": 81}], "selector": {"app": "py"}},
}


@pytest.mark.parametrize(
    ("original", "patch", "expected"),
    [
        pytest.param(
            SVC, {"metadata": {"labels": {"c": "d"}}},
            {**SVC, "metadata": {"name": "py", "labels": {"a": "b", "c": "d"}}},
            id="maps-merge",
        ),
        pytest.param(
            SVC, {"metadata": {"labels": {"a": None}}},
            {**SVC, "metadata": {"name": "py", "labels": {}}},
            id="null-deletes",
        ),
        pytest.param(
            SVC, {"spec": {"ports": [{"port": 9}]}},
            {**SVC, "spec": {"ports": [{"port": 9}], "selector": {"app": "py"}}},
            id="lists-replace",
        ),
        pytest.param(
            {"a": 1}, {"b": {"c": None, "d": 2}}, {"a": 1, "b": {"d": 2}},
            id="new-value-nulls-pruned",
        ),
        pytest.param({"a": {"b": 1}}, {"a": 5}, {"a": 5}, id="scalar-replaces-map"),
        pytest.param({"a": 1}, {"x": None}, {"a": 1}, id="null-for-missing-key"),
    ],
)
def test_merge_patch(original: dict[str, Any], patch: Any, expected: Any) -> None:
    assert merge_patch(original, patch) == expected


def test_merge_patch_does_not_mutate() -> None:
    original = {"a": {"b": 1}}
    merge_patch(original, {"a": {"b": 2}})
    assert original == {"a": {"b": 1}}


def test_merge_patch_null_body() -> None:
    with pytest.raises(StatusError) as err:
        merge_patch({}, None)
    assert (err.value.code, err.value.message) == (500, "Invalid JSON Patch")


@pytest.mark.parametrize(
    ("original", "operations", "expected"),
    [
        pytest.param(
            SVC, [{"op": "add", "path": "/metadata/labels/c", "value": "d"}],
            {**SVC, "metadata": {"name": "py", "labels": {"a": "b", "c": "d"}}},
            id="add-traced",
        ),
        pytest.param(
            {"l": [1, 2]}, [{"op": "add", "path": "/l/-", "value": 3}], {"l": [1, 2, 3]},
            id="add-append",
        ),
        pytest.param(
            {"l": [1, 2]}, [{"op": "add", "path": "/l/0", "value": 0}], {"l": [0, 1, 2]},
            id="add-insert",
        ),
        pytest.param(
            {"l": [1, 2]}, [{"op": "remove", "path": "/l/-1"}], {"l": [1]},
            id="remove-negative-index",
        ),
        pytest.param(
            {"a": {"x~y/z": 1}}, [{"op": "remove", "path": "/a/x~0y~1z"}], {"a": {}},
            id="remove-escaped",
        ),
        pytest.param({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], {"a": 1, "b": 2},
                     id="replace-missing-key-adds"),
        pytest.param(
            {"a": {"b": 1}}, [{"op": "move", "from": "/a/b", "path": "/c"}], {"a": {}, "c": 1},
            id="move",
        ),
        pytest.param(
            {"a": [1]}, [{"op": "copy", "from": "/a", "path": "/b"}], {"a": [1], "b": [1]},
            id="copy",
        ),
        pytest.param(
            {"a": "x"},
            [{"op": "test", "path": "/a", "value": "x"}, {"op": "add", "path": "/b", "value": 1}],
            {"a": "x", "b": 1},
            id="test-passes",
        ),
    ],
)
def test_json_patch(original: dict[str, Any], operations: list[Any], expected: Any) -> None:
    assert json_patch(original, operations) == expected


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        pytest.param(
            [{"op": "add", "path": "/x/y", "value": 1}],
            'add operation does not apply: doc is missing path: "/x/y": missing value',
            id="add-missing-parent",
        ),
        pytest.param(
            [{"op": "remove", "path": "/nope"}],
            "error in remove for path: '/nope': Unable to remove nonexistent key: nope: "
            "missing value",
            id="remove-missing-key",
        ),
        pytest.param(
            [{"op": "replace", "path": "/l/5", "value": 1}],
            "replace operation does not apply: doc is missing key: /l/5: missing value",
            id="replace-out-of-range",
        ),
        pytest.param(
            [{"op": "add", "path": "/l/9", "value": 1}],
            "error in add for path: '/l/9': Unable to access invalid index: 9: "
            "invalid index referenced",
            id="add-out-of-range",
        ),
        pytest.param(
            [{"op": "test", "path": "/a", "value": "other"}],
            "testing value /a failed: test failed",
            id="test-fails",
        ),
        pytest.param([{"op": "frob", "path": "/a"}], "Unexpected kind: frob", id="unknown-op"),
        pytest.param(
            [{"op": "remove"}], "remove operation failed to decode path: missing value",
            id="missing-path",
        ),
    ],
)
def test_json_patch_failures(operations: list[Any], message: str) -> None:
    with pytest.raises(StatusError) as err:
        json_patch({"a": "x", "l": [1]}, operations)
    assert err.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "code": 422,
        "details": {"causes": [{"reason": "UnexpectedServerResponse", "message": message}]},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"op": "add"}, "json: cannot unmarshal object into Go value of type "
                     "jsonpatch.Patch", id="object-body"),
        pytest.param(["x"], "json: cannot unmarshal string into Go value of type "
                     "jsonpatch.Operation", id="string-operation"),
    ],
)
def test_json_patch_bad_body(body: Any, message: str) -> None:
    with pytest.raises(StatusError) as err:
        json_patch({}, body)
    assert (err.value.code, err.value.reason, err.value.message) == (400, "BadRequest", message)
