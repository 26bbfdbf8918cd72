"""The Kubernetes CEL library functions Portico adds to cel-cpp, and cel's extensions."""

from __future__ import annotations

import pytest

from portico.apiserver.apiextensions.cel._env import compile_expression

VARIABLES = (("self", "dyn"),)


def evaluate(source: str, value: object = None) -> object:
    program = compile_expression(source, VARIABLES)
    result, err = program.run(program.activation({"self": value}))
    assert err == ""
    return result


@pytest.mark.parametrize(("source", "want"), [
    pytest.param("isIP('10.0.0.1')", True, id="isIP-v4"),
    pytest.param("isIP('fd00::1')", True, id="isIP-v6"),
    pytest.param("isIP('010.0.0.1')", False, id="isIP-leading-zero"),
    pytest.param("isIP('::ffff:1.2.3.4')", False, id="isIP-v4-in-v6"),
    pytest.param("isIP('fe80::1%eth0')", False, id="isIP-zone"),
    pytest.param("isIP('example.com')", False, id="isIP-name"),
    pytest.param("isCIDR('10.0.0.0/8')", True, id="isCIDR"),
    pytest.param("isCIDR('10.0.0.0')", False, id="isCIDR-no-prefix"),
    pytest.param("isURL('https://example.com/a?b=c')", True, id="isURL"),
    pytest.param("isURL('/relative/path')", True, id="isURL-absolute-path"),
    pytest.param("isURL('example.com')", False, id="isURL-no-scheme"),
    pytest.param("isURL('https://a.example/p#frag')", True, id="isURL-hash-is-path"),
    pytest.param("isURL('https://a b/')", False, id="isURL-space-in-host"),
    pytest.param("isQuantity('1.5Gi')", True, id="isQuantity"),
    pytest.param("isQuantity('1.5GB')", False, id="isQuantity-bad-suffix"),
    pytest.param("'abc 123 def 45'.find('[0-9]+')", "123", id="find"),
    pytest.param("'abc'.find('[0-9]+')", "", id="find-none"),
    pytest.param("'a1b22c333'.findAll('[0-9]+')", ["1", "22", "333"], id="findAll"),
    pytest.param("'a1b22c333'.findAll('[0-9]+', 2)", ["1", "22"], id="findAll-limit"),
    pytest.param("[1, 2, 3].isSorted() && ['b', 'a'].isSorted() == false", True, id="isSorted"),
    pytest.param("[1, 2, 3].sum()", 6, id="sum"),
    pytest.param("[3, 1, 2].min() == 1 && [1.5, 2.5].max() == 2.5", True, id="min-max"),
    pytest.param("['a', 'b', 'a'].indexOf('a') == 0 && ['a', 'b', 'a'].lastIndexOf('a') == 2",
                 True, id="indexOf"),
    pytest.param("sets.contains([1, 2, 3], [3, 1]) && !sets.contains([1], [2])", True,
                 id="sets-contains"),
    pytest.param("sets.equivalent([1, 2, 2], [2, 1]) && sets.intersects(['a'], ['b', 'a'])",
                 True, id="sets-equivalent-intersects"),
    pytest.param("'a/b/c'.split('/')[1]", "b", id="strings-split"),
    pytest.param("'Hello'.lowerAscii() + 'x'.upperAscii()", "helloX", id="strings-case"),
    pytest.param("'abcdef'.substring(2, 4)", "cd", id="strings-substring"),
    pytest.param("self.?missing.orValue('dflt')", "dflt", id="optional-field"),
    pytest.param("cel.bind(x, self.size(), x * x)", 9, id="bind"),
    pytest.param("duration('1m30s') > duration('90s') == false", True, id="duration"),
    pytest.param("self.exists_one(x, x == 'a') && self.filter(x, x != 'a').size() == 2", True,
                 id="macros"),
])
def test_functions(source: str, want: object) -> None:
    value: object = {"present": 1}
    if "self.size()" in source:
        value = "abc"
    if "exists_one" in source:
        value = ["a", "b", "c"]
    assert evaluate(source, value) == want


def test_min_of_empty_list_is_a_runtime_error() -> None:
    program = compile_expression("[].min() == 1", VARIABLES)
    assert program.run(program.activation({"self": None})) == (
        None, "min called on empty list")
