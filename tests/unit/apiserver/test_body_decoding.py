"""Request bodies decoded under go-yaml's and Go's JSON bounds (`portico.apiserver._decode`)."""

from __future__ import annotations

import time

import orjson
import pytest

from portico.apiserver._decode import (
    BodyError,
    ExpandsTooLarge,
    TooDeep,
    allowed_alias_ratio,
    duplicate_fields,
    load_json,
    load_yaml,
    nesting_exceeds,
    summarize,
)


def laughs(levels: int, fanout: int = 9) -> bytes:
    """A "billion laughs" document: each level lists `fanout` aliases of the one before."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fanout) + "]")
    return "\n".join(lines).encode() + b"\n"


def test_billion_laughs_fail_at_once_as_go_yaml_fails_them():
    start = time.monotonic()
    with pytest.raises(BodyError, match=r"^yaml: document contains excessive aliasing$"):
        load_yaml(laughs(9))
    assert time.monotonic() - start < 0.5


def test_a_little_aliasing_is_expanded_into_independent_copies():
    doc = load_yaml(laughs(2, fanout=3))
    assert doc["l2"] == [[["lol"] * 3] * 3] * 3
    doc["l2"][0][0].append("more")
    assert doc["l2"][1][0] == ["lol"] * 3 and doc["l1"][0] == ["lol"] * 3


def test_alias_ratio_falls_from_99_to_10_percent():
    assert allowed_alias_ratio(1000) == 0.99
    assert allowed_alias_ratio(400_000) == 0.99
    assert allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert allowed_alias_ratio(4_000_000) == 0.10


def test_an_expansion_larger_than_any_storable_object_is_refused():
    body = b'a: &a "' + b"x" * 200_000 + b'"\nb: [' + b", ".join([b"*a"] * 20) + b"]\n"
    with pytest.raises(ExpandsTooLarge):
        load_yaml(body)


@pytest.mark.parametrize(("body", "message"), [
    pytest.param(b"a: 1\nb: *nope\n", "yaml: unknown anchor 'nope' referenced", id="unknown"),
    pytest.param(b"a: &x {b: *x}\n", "yaml: anchor 'x' value contains itself", id="itself"),
    pytest.param(b"a: 1\nb:\n  <<: 5\n",
                 "yaml: map merge requires map or sequence of maps as the value", id="merge"),
])
def test_alias_errors(body: bytes, message: str):
    with pytest.raises(BodyError) as caught:
        load_yaml(body)
    assert str(caught.value) == message


def test_yaml_becomes_json_values():
    doc = load_yaml(b"base: &b {a: 1, b: [1, 2]}\nm:\n  <<: *b\n  a: 2\n"
                    b"d: 2024-01-01\nn: ~\n1: yes\n---\nsecond: document\n")
    assert doc == {"base": {"a": 1, "b": [1, 2]}, "m": {"a": 2, "b": [1, 2]},
                   "d": "2024-01-01", "n": None, "1": True}


@pytest.mark.parametrize("style", ["flow", "block"])
def test_yaml_nesting_is_limited_at_10000(style: str):
    def nested(depth: int) -> bytes:
        if style == "flow":
            return b"a: " + b"[" * depth + b"]" * depth + b"\n"
        return b"".join(b" " * i + b"- \n" for i in range(depth))

    load_yaml(nested(5000))
    with pytest.raises(TooDeep) as caught:
        load_yaml(nested(10_001))
    assert str(caught.value).endswith("exceeded max depth of 10000")


def test_json_nesting_beyond_orjson_is_parsed_up_to_10000():
    body = b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    value = load_json(body)["a"]
    for _ in range(1999):
        value = value[0]
    assert value == []
    with pytest.raises(TooDeep, match=r"^invalid character '\[' exceeded max depth$"):
        load_json(b"[" * 10_001 + b"]" * 10_001)


def test_many_deep_nests_are_refused_without_a_long_stall():
    start = time.monotonic()
    with pytest.raises(TooDeep):
        load_yaml((b"- " + b"[" * 9000 + b"]" * 9000 + b"\n") * 40)
    assert time.monotonic() - start < 3


def test_duplicate_fields_are_found_with_their_paths():
    body = b'{"metadata":{"name":"a","name":"b"},"spec":{"ports":[{"port":1,"port":2}]}}'
    assert duplicate_fields(body, load_json(body)) == ["metadata.name", "spec.ports[0].port"]
    spaced = b'{"metadata": {"name" : "a", "name" : "b"}}'
    assert duplicate_fields(spaced, load_json(spaced)) == ["metadata.name"]
    unique = b'{"metadata":{"name":"a"},"data":{"k":"\\":x"}}'
    assert duplicate_fields(unique, load_json(unique)) == []
    deep = b'{"a":' + b"[" * 1000 + b"]" * 1000 + b',"a":1}'
    assert duplicate_fields(deep, load_json(deep)) == []  # past the slow parse's recursion


def test_bodies_without_repeated_keys_skip_the_slow_parse():
    ports = [{"port": 1 + i, "name": f"p{i}"} for i in range(60_000)]
    body = orjson.dumps({"metadata": {"name": "x"}, "spec": {"ports": ports}})
    start = time.monotonic()
    assert duplicate_fields(body, load_json(body)) == []
    assert time.monotonic() - start < 0.5


def test_summaries_as_apiserver_writes_them():
    assert summarize(b"") == "<empty>"
    assert summarize(b'{"a":1}') == '{"a":1}'
    assert summarize(b"kind: ConfigMap") == b"kind: ConfigMap".hex()
    assert summarize(b"x" * 40) == (b"x" * 30).hex() + " ..."


def test_nesting_is_measured_without_recursion():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert nesting_exceeds({"a": deep}, 200)
    assert not nesting_exceeds({"a": [[{"b": 1}]]}, 4)  # four levels of containers
    assert nesting_exceeds({"a": [[{"b": {}}]]}, 4)
