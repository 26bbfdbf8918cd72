"""`compare` skips subtrees that did not change, and still tells 1 from 1.0 and true."""

from __future__ import annotations

import copy

from portico.apiserver.patch._managed import definitions
from portico.apiserver.patch._typed import root_info
from portico.apiserver.patch._walk import compare
from portico.model.kinds import POD

INFO = root_info(definitions(), POD.gvk)
POD_OBJ = {"metadata": {"name": "p", "labels": {"a": "b"}},
           "spec": {"containers": [{"name": "c", "image": "i", "ports": [
               {"containerPort": 80, "protocol": "TCP"}]}]},
           "status": {"phase": "Pending"}}


def test_a_status_change_reports_only_the_status() -> None:
    new = copy.deepcopy(POD_OBJ)
    new["status"] = {"phase": "Running", "podIP": "10.0.0.5"}
    found = compare(POD_OBJ, new, INFO)
    assert found.modified == {("f:status", "f:phase")}
    assert found.added == {("f:status", "f:podIP")} and not found.removed


def test_identical_objects_compare_empty() -> None:
    found = compare(POD_OBJ, copy.deepcopy(POD_OBJ), INFO)
    assert not (found.added or found.removed or found.modified)


def test_a_number_that_changes_type_is_still_modified() -> None:
    old = {**POD_OBJ, "spec": {**POD_OBJ["spec"], "terminationGracePeriodSeconds": 30}}
    new = copy.deepcopy(old)
    new["spec"]["terminationGracePeriodSeconds"] = 30.0
    assert new == old  # Python's equality cannot see it
    found = compare(old, new, INFO)
    assert found.modified == {("f:spec", "f:terminationGracePeriodSeconds")}
