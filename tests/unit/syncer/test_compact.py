"""Compactor: shared subtrees and interned strings, without changing what objects say."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.kube.compact import Compactor, typed_kind


def pod(name: str, ip: str = "10.0.0.1", **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                     "labels": {"app": "web"},
                     "managedFields": [{"manager": "kubectl"}],
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                     "keep": "me"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1", "ports": [{"port": 80}]}],
                 "tolerations": [{"key": "a", "operator": "Exists", "tolerationSeconds": 300}]},
        "status": {"phase": "Running", "podIP": ip},
        **extra,
    }


def fresh(obj: dict[str, Any]) -> dict[str, Any]:
    """As json.loads would give it: no object shared with any other."""
    out: dict[str, Any] = json.loads(json.dumps(obj))
    return out


def test_equal_subtrees_are_one_object_and_unique_ones_are_not() -> None:
    c = Compactor()
    a, b = c.compact(fresh(pod("a", "10.0.0.1"))), c.compact(fresh(pod("b", "10.0.0.2")))
    assert a["spec"] is b["spec"]
    assert a["metadata"]["labels"] is b["metadata"]["labels"]
    assert a["metadata"] is not b["metadata"]
    assert a["status"] is not b["status"]


def test_content_is_unchanged_but_for_dropped_fields() -> None:
    want = pod("a")
    del want["metadata"]["managedFields"]
    del want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert Compactor().compact(fresh(pod("a"))) == want


@pytest.mark.parametrize("first, second", [
    ({"v": True}, {"v": 1}),
    ({"v": 1}, {"v": 1.0}),
    ({"v": None}, {"v": "None"}),
    ({"v": "1"}, {"v": 1}),
    ([1, [2]], [1, 2]),
    ({"a": "b"}, ["a", "b"]),
    ({"a": {}}, {"a": []}),
])
def test_equal_in_python_but_different_in_json_is_never_shared(first: Any, second: Any) -> None:
    c = Compactor()
    one = c.compact({"x": fresh({"v": first})})
    two = c.compact({"x": fresh({"v": second})})
    assert json.dumps(two) == json.dumps({"x": {"v": second}})
    assert one["x"] is not two["x"]


def test_short_strings_are_interned() -> None:
    c = Compactor()
    a, b = c.compact(fresh(pod("a"))), c.compact(fresh(pod("b")))
    assert a["status"]["phase"] is b["status"]["phase"]


def test_memo_is_bounded() -> None:
    c = Compactor(memo_size=10)
    for i in range(100):
        c.compact(fresh(pod(f"p{i}", f"10.0.0.{i}")))
    assert len(c) <= 10


def test_check_mode_notices_a_shared_subtree_changed_in_place() -> None:
    c = Compactor(check=True)
    a = c.compact(fresh(pod("a")))
    a["spec"]["tolerations"][0]["tolerationSeconds"] = 5  # breaks the read-only rule
    b = c.compact(fresh(pod("b")))
    assert c.violations == 1
    assert b["spec"]["tolerations"][0]["tolerationSeconds"] == 300


def test_compacted_objects_survive_deepcopy_and_json() -> None:
    c = Compactor()
    a = c.compact(fresh(pod("a")))
    assert json.loads(json.dumps(a)) == copy.deepcopy(a)


def test_secret_and_configmap_payloads_are_neither_shared_nor_remembered() -> None:
    c = Compactor()
    payload = {"password": "hunter2", "nested": "x"}
    a = c.compact(fresh({"kind": "Secret", "metadata": {"name": "a"}, "data": payload}))
    b = c.compact(fresh({"kind": "Secret", "metadata": {"name": "b"}, "data": payload}))
    assert a["data"] == b["data"] == payload
    assert a["data"] is not b["data"]
    assert len(c) == 0


def test_a_new_version_reuses_the_cached_versions_unchanged_parts() -> None:
    c = Compactor()
    cached = c.compact(fresh(pod("a", "10.0.0.1")))
    newer = fresh(pod("a", "10.0.0.9"))
    newer["metadata"]["resourceVersion"] = "2"
    got = c.compact(newer, cached, same_object=True)
    assert got == {**fresh(pod("a", "10.0.0.9")), "metadata": {
        **cached["metadata"], "resourceVersion": "2"}}
    assert got["spec"] is cached["spec"]
    assert got["metadata"]["labels"] is cached["metadata"]["labels"]
    assert got["status"] is not cached["status"]
    assert got["status"]["podIP"] == "10.0.0.9"
    assert "managedFields" not in got["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in got["metadata"]["annotations"]


def test_a_changed_part_of_a_new_version_is_shared_like_any_other() -> None:
    c = Compactor()
    cached = c.compact(fresh(pod("a")))
    changed = fresh(pod("a"))
    changed["spec"]["containers"][0]["image"] = "nginx:2"
    got = c.compact(changed, cached, same_object=True)
    assert got["spec"]["containers"][0]["image"] == "nginx:2"
    assert got["spec"] is not cached["spec"]
    assert got["spec"]["tolerations"] is cached["spec"]["tolerations"]
    assert cached["spec"]["containers"][0]["image"] == "nginx:1"


def test_the_memo_forgets_the_least_recently_used_subtree() -> None:
    c = Compactor(memo_size=2)
    first = c.compact(fresh({"metadata": {"name": "a"}, "spec": {"n": 1}}))
    c.compact(fresh({"metadata": {"name": "b"}, "spec": {"n": 2}}))
    again = c.compact(fresh({"metadata": {"name": "c"}, "spec": {"n": 1}}))  # used: now newest
    c.compact(fresh({"metadata": {"name": "d"}, "spec": {"n": 3}}))  # evicts {"n": 2}
    assert again["spec"] is first["spec"]
    assert c.compact(fresh({"metadata": {"name": "e"}, "spec": {"n": 1}}))["spec"] is first["spec"]
    assert len(c) == 2


def test_a_neighbour_lends_its_equal_parts_and_only_differences_are_walked() -> None:
    c = Compactor(memo_size=1)  # the memo forgets at once: what is shared came from `like`
    first = c.compact(fresh(pod("a", "10.0.0.1")))
    second = fresh(pod("b", "10.0.0.2"))
    second["spec"]["nodeName"] = "n2"
    got = c.compact(second, first)
    assert got["spec"] is not first["spec"]
    assert got["spec"]["containers"] is first["spec"]["containers"]
    assert got["spec"]["tolerations"] is first["spec"]["tolerations"]
    assert got["metadata"]["labels"] is first["metadata"]["labels"]
    assert got["metadata"] is not first["metadata"]
    assert got["status"] is not first["status"]
    expected = fresh(pod("b", "10.0.0.2"))
    expected["spec"]["nodeName"] = "n2"
    del expected["metadata"]["managedFields"]
    del expected["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert json.dumps(got) == json.dumps(expected)


@pytest.mark.parametrize(("first", "second"), [
    (1, True), (1, 1.0), (0, False), ([1], [True]), ({"a": 1}, {"a": 1.0}),
])
def test_a_like_equal_in_python_but_not_in_json_is_not_lent(first: Any, second: Any) -> None:
    c = Compactor()
    like = c.compact({"metadata": {"name": "a"}, "spec": fresh({"v": {"w": first}})})
    got = c.compact({"metadata": {"name": "b"}, "spec": fresh({"v": {"w": second}})}, like)
    assert json.dumps(got["spec"]) == json.dumps({"v": {"w": second}})
    assert got["spec"]["v"] is not like["spec"]["v"]


def test_typed_kinds_are_kubernetes_own_and_lend_equal_parts_without_the_json_check() -> None:
    assert typed_kind("") and typed_kind("apps") and typed_kind("networking.k8s.io")
    for custom in ("edge.fusionvc.io", "fusionvc.io", "apiextensions.k8s.io", "example.com"):
        assert not typed_kind(custom)  # free-form fields: 1, 1.0 and true may meet
    c = Compactor()
    like = c.compact({"metadata": {"name": "a"}, "spec": fresh({"v": {"w": 1}})})
    got = c.compact({"metadata": {"name": "b"}, "spec": fresh({"v": {"w": 1}})}, like,
                    typed=True)
    assert got["spec"] is like["spec"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([1.0, 0.5])
    | st.sampled_from(["a", "b", "x" * 70]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=12)
TOP = st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"name": st.just("n")}),
                             "spec": JSON, "status": st.dictionaries(
                                 st.sampled_from(["a", "b"]), JSON, max_size=2)})


@settings(max_examples=300, deadline=None)
@given(TOP, TOP)
def test_whatever_the_like_the_content_is_unchanged(like: Any, obj: Any) -> None:
    c = Compactor(check=True)
    compacted_like = c.compact(fresh(like))
    got = c.compact(fresh(obj), compacted_like)
    assert json.dumps(got) == json.dumps(obj)
    assert json.dumps(compacted_like) == json.dumps(like)
    assert c.violations == 0
