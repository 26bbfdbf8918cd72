"""Label selectors: parsing, matching and upstream's exact error messages."""

from __future__ import annotations

import pytest

from portico.apiserver.errors import StatusError
from portico.apiserver.selectors import parse_label_selector
from portico.model.selectors import (
    SelectorError,
    selector_from_label_selector_object,
    selector_from_set,
)

QNAME = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
         "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
         "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
         "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
         "or 'my_value',  or '12345', regex used for validation is "
         "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
OPS = "in, notin, =, ==, !=, gt, lt"

WEB = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(("text", "labels", "expected"), [
    pytest.param("", WEB, True, id="empty-everything"),
    pytest.param("app=web", WEB, True, id="equals"),
    pytest.param("app==web", WEB, True, id="double-equals"),
    pytest.param("app=db", WEB, False, id="equals-other"),
    pytest.param("app!=db", WEB, True, id="not-equals"),
    pytest.param("missing!=db", WEB, True, id="not-equals-absent-key"),
    pytest.param("app in (db,web)", WEB, True, id="in"),
    pytest.param("missing in (db,web)", WEB, False, id="in-absent-key"),
    pytest.param("app notin (db,web)", WEB, False, id="notin"),
    pytest.param("missing notin (x)", WEB, True, id="notin-absent-key"),
    pytest.param("app", WEB, True, id="exists"),
    pytest.param("!app", WEB, False, id="does-not-exist"),
    pytest.param("!missing", WEB, True, id="does-not-exist-absent"),
    pytest.param("n>4", WEB, True, id="gt"),
    pytest.param("n>5", WEB, False, id="gt-equal"),
    pytest.param("n<6", WEB, True, id="lt"),
    pytest.param("app>1", WEB, False, id="gt-non-integer-label"),
    pytest.param("missing<9", WEB, False, id="lt-absent-key"),
    pytest.param("app=web,tier=front", WEB, True, id="and"),
    pytest.param("app=web,tier=back", WEB, False, id="and-one-fails"),
    pytest.param("  app = web ,\ttier\n", WEB, True, id="whitespace"),
    pytest.param("app=", {"app": ""}, True, id="empty-value"),
    pytest.param("app=", WEB, False, id="empty-value-mismatch"),
    pytest.param("app in ()", {"app": ""}, True, id="in-empty-parens"),
    pytest.param("x in (in,notin)", {"x": "notin"}, True, id="keywords-as-values"),
    pytest.param("example.com/app=web", {"example.com/app": "web"}, True, id="prefixed-key"),
])
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(("text", "rendered"), [
    pytest.param("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()", id="doc-example"),
    pytest.param("b=1,a!=2,!c", "a!=2,b=1,!c", id="sorted-by-key"),
    pytest.param("a==b,n>3,m<2", "a==b,m<2,n>3", id="operators"),
])
def test_string_form(text: str, rendered: str) -> None:
    assert str(parse_label_selector(text)) == rendered


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("a===", "unable to parse requirement: found '=', expected: identifier",
                 id="triple-equals"),
    pytest.param("===", "found '==', expected: !, identifier, or 'end of string'",
                 id="operator-first"),
    pytest.param(",a", "found ',', expected: !, identifier, or 'end of string'",
                 id="leading-comma"),
    pytest.param("a,", "found '', expected: identifier after ','", id="trailing-comma"),
    pytest.param("a=b=c", "found '=', expected: ',' or 'end of string'", id="two-equals"),
    pytest.param("!a=b", "found '=', expected: ',' or 'end of string'", id="not-with-value"),
    pytest.param("a b", f"unable to parse requirement: found 'b', expected: {OPS}",
                 id="missing-operator"),
    pytest.param("a in b", "unable to parse requirement: found 'b' expected: '('",
                 id="in-without-parens"),
    pytest.param("a in (b", "unable to parse requirement: found '', expected: ',' or ')'",
                 id="unclosed-parens"),
    pytest.param("a in (=)",
                 "unable to parse requirement: found '=', expected: ',', ')' or identifier",
                 id="operator-in-set"),
    pytest.param("a in (b,=)",
                 "unable to parse requirement: found '=', expected: ',', or identifier",
                 id="operator-in-list"),
    pytest.param("-a", "unable to parse requirement: <nil>: Invalid value: "
                 f'"-a": name part {QNAME}', id="bad-key"),
    pytest.param("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": '
                 "prefix part must be non-empty", id="empty-prefix"),
    pytest.param("a/b/c", 'unable to parse requirement: <nil>: Invalid value: "a/b/c": '
                 f"a qualified name {QNAME} with an optional DNS subdomain prefix and '/' "
                 "(e.g. 'example.com/MyName')", id="two-slashes"),
    pytest.param("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE}',
                 id="bad-value"),
    pytest.param("a>x", 'unable to parse requirement: values[0]: Invalid value: "x": '
                 "for 'Gt', 'Lt' operators, the value must be an integer", id="gt-not-integer"),
    pytest.param("a>-x", "unable to parse requirement: [values[0]: Invalid value: \"-x\": "
                 "for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: "
                 f'Invalid value: "-x": {VALUE}]', id="aggregated"),
    pytest.param("a=" + "v" * 64, "unable to parse requirement: values[0][a]: Invalid value: "
                 f'"{"v" * 64}": must be no more than 63 characters', id="value-too-long"),
])
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(StatusError) as caught:
        parse_label_selector(text)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400, "BadRequest", message)


@pytest.mark.parametrize(("obj", "labels", "expected"), [
    pytest.param(None, {}, False, id="nil-selects-nothing"),
    pytest.param(None, WEB, False, id="nil-selects-nothing-labelled"),
    pytest.param({}, WEB, True, id="empty-selects-everything"),
    pytest.param({"matchLabels": {"app": "web"}}, WEB, True, id="match-labels"),
    pytest.param({"matchLabels": {"app": "db"}}, WEB, False, id="match-labels-miss"),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "In",
                                        "values": ["front", "x"]}]}, WEB, True, id="in"),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                        "values": ["front"]}]}, WEB, False, id="notin"),
    pytest.param({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, WEB, False,
                 id="exists"),
    pytest.param({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, WEB, True,
                 id="does-not-exist"),
    pytest.param({"matchLabels": {"app": "web"},
                  "matchExpressions": [{"key": "n", "operator": "Exists"}]}, WEB, True,
                 id="both"),
])
def test_label_selector_object(obj: dict | None, labels: dict[str, str], expected: bool) -> None:
    assert selector_from_label_selector_object(obj).matches(labels) is expected


def test_nil_and_empty_differ() -> None:
    assert (selector_from_label_selector_object(None).empty(),
            selector_from_label_selector_object({}).empty()) == (False, True)


@pytest.mark.parametrize(("obj", "message"), [
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Foo"}]},
                 '"Foo" is not a valid label selector operator', id="operator"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "In"}]},
                 "values: Invalid value: []string(nil): for 'in', 'notin' operators, "
                 "values set can't be empty", id="in-without-values"),
    pytest.param({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
                 'values: Invalid value: []string{"x"}: values set must be empty for exists '
                 "and does not exist", id="exists-with-values"),
    pytest.param({"matchLabels": {"-a": "b"}}, f'key: Invalid value: "-a": name part {QNAME}',
                 id="bad-key"),
])
def test_label_selector_object_invalid(obj: dict, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        selector_from_label_selector_object(obj)
    assert str(caught.value) == message


@pytest.mark.parametrize(("labels", "candidate", "expected"), [
    pytest.param({"app": "web"}, {"app": "web", "x": "y"}, True, id="subset"),
    pytest.param({"app": "web"}, {"app": "db"}, False, id="differs"),
    pytest.param({}, {"app": "db"}, True, id="empty-everything"),
])
def test_selector_from_set(labels: dict, candidate: dict, expected: bool) -> None:
    assert selector_from_set(labels).matches(candidate) is expected


@pytest.mark.parametrize(("text", "label", "value"), [
    pytest.param("app=web,x", "app", "web", id="equals"),
    pytest.param("app in (web)", "app", "web", id="in-single"),
    pytest.param("app in (a,b)", "app", None, id="in-many"),
    pytest.param("app!=web", "app", None, id="not-equals"),
    pytest.param("x=y", "app", None, id="absent"),
])
def test_requires_exact_match(text: str, label: str, value: str | None) -> None:
    assert parse_label_selector(text).requires_exact_match(label) == value
