"""PodAddresses (edgedns/pod_ips.py): pod IP -> tenant kept from pod events."""

from __future__ import annotations

import pytest

from syncer.edgedns.pod_ips import PodAddresses, pod_addresses
from tests.unit.edgedns.factories import pod

OWNERS = {"fvc-a-web": ("tenant-a", "web"), "fvc-b-web": ("tenant-b", "web")}


@pytest.mark.parametrize(("obj", "expected"), [
    (pod("fvc-a-web", "p", "tenant-a", "10.1.0.5"), ("tenant-a", ("10.1.0.5",))),
    (pod("fvc-a-web", "p", "tenant-b", "10.1.0.5"), None),  # marked for another tenant
    (pod("kube-system", "p", "tenant-a", "10.1.0.5"), None),  # not fusionvc's namespace
    ({"metadata": {"namespace": "fvc-a-web", "name": "p"}, "status": {"podIP": "10.1.0.5"}},
     None),  # not fusionvc's pod
    ({**pod("fvc-a-web", "p", "tenant-a", "x"), "status": {}}, ("tenant-a", ())),  # no IP yet
    ({**pod("fvc-a-web", "p", "tenant-a", "x"),
      "status": {"podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}]}},
     ("tenant-a", ("10.1.0.5", "fd00::5"))),  # dual stack
])
def test_pod_addresses(obj: dict[str, object], expected: object) -> None:
    assert pod_addresses(OWNERS, obj) == expected


def test_events_add_move_and_remove_addresses() -> None:
    pods = PodAddresses()
    first = pod("fvc-a-web", "p1", "tenant-a", "10.1.0.5")
    pods.changed(OWNERS, None, {**first, "status": {}})  # created, no IP yet
    assert pods.tenant_of == {}
    pods.changed(OWNERS, {**first, "status": {}}, first)
    assert pods.tenant_of == {"10.1.0.5": "tenant-a"}
    moved = pod("fvc-a-web", "p1", "tenant-a", "10.1.0.6")
    pods.changed(OWNERS, first, moved)
    assert pods.tenant_of == {"10.1.0.6": "tenant-a"}
    pods.changed(OWNERS, moved, None)
    assert pods.tenant_of == {}


def test_a_reused_ip_belongs_to_the_newer_pod_until_that_one_goes() -> None:
    pods = PodAddresses()
    old = pod("fvc-a-web", "old", "tenant-a", "10.1.0.5")
    new = pod("fvc-b-web", "new", "tenant-b", "10.1.0.5")
    pods.changed(OWNERS, None, old)
    pods.changed(OWNERS, None, new)  # the old pod's delete event comes later
    pods.changed(OWNERS, old, None)
    assert pods.tenant_of == {"10.1.0.5": "tenant-b"}
    pods.changed(OWNERS, new, None)
    assert pods.tenant_of == {}


def test_rebuild_follows_new_owners() -> None:
    pods = PodAddresses()
    listed = [pod("fvc-a-web", "p1", "tenant-a", "10.1.0.5"),
              pod("fvc-c-web", "p2", "tenant-c", "10.1.0.7")]
    pods.rebuild(OWNERS, listed)
    assert pods.tenant_of == {"10.1.0.5": "tenant-a"}
    pods.rebuild({**OWNERS, "fvc-c-web": ("tenant-c", "web")}, listed)
    assert pods.tenant_of == {"10.1.0.5": "tenant-a", "10.1.0.7": "tenant-c"}
    pods.rebuild({}, listed)
    assert pods.tenant_of == {}
    pods.changed({}, listed[0], None)  # nothing held: no error
