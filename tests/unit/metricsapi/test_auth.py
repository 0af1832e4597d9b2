"""Front-proxy identity per tenant, users from headers, review bodies."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict, CIMultiDictProxy

from syncer.metricsapi.auth import (
    Attributes,
    UserInfo,
    access_review,
    parse_auth_configmap,
    tenants_for_certificate,
    user_from_headers,
)

NOW = dt.datetime.now(dt.UTC)


def _cert(cn: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(minutes=1))
            .not_valid_after(NOW + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(signer, hashes.SHA256()))


def front_proxy(name: str = "front-proxy-ca") -> tuple[x509.Certificate, x509.Certificate]:
    """(CA, client cert) of one tenant; every CA has the same subject, like kubeadm's."""
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = _cert(name, ca_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
               ca_key, True)
    return ca, _cert("front-proxy-client", leaf_key, ca.subject, ca_key, False)


def configmap(*cas: x509.Certificate, allowed: list[str] | None = None) -> dict[str, object]:
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in cas)
    return {"data": {"requestheader-client-ca-file": pem,
                     "requestheader-allowed-names": json.dumps(allowed or ["front-proxy-client"]),
                     "requestheader-username-headers": '["X-Remote-User"]',
                     "requestheader-group-headers": '["X-Remote-Group"]',
                     "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]'}}


def test_the_issuing_tenant_is_identified_even_when_ca_subjects_are_equal() -> None:
    ca_a, leaf_a = front_proxy()
    ca_b, leaf_b = front_proxy()
    configs = {"a": parse_auth_configmap(configmap(ca_a)),
               "b": parse_auth_configmap(configmap(ca_b))}
    assert all(configs.values())
    typed = {k: v for k, v in configs.items() if v is not None}
    assert tenants_for_certificate(leaf_a, typed) == ["a"]
    assert tenants_for_certificate(leaf_b, typed) == ["b"]
    _, stranger = front_proxy()
    assert tenants_for_certificate(stranger, typed) == []


def test_a_name_outside_allowed_names_is_refused() -> None:
    ca, leaf = front_proxy()
    cfg = parse_auth_configmap(configmap(ca, allowed=["aggregator"]))
    assert cfg is not None
    assert tenants_for_certificate(leaf, {"a": cfg}) == []


def test_a_configmap_without_requestheader_settings_gives_none() -> None:
    assert parse_auth_configmap({"data": {"client-ca-file": "x"}}) is None


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_user_groups_and_extra_come_from_the_configured_headers() -> None:
    ca, _ = front_proxy()
    cfg = parse_auth_configmap(configmap(ca))
    assert cfg is not None
    user = user_from_headers(headers(("X-Remote-User", "alice"), ("X-Remote-Group", "dev"),
                                     ("X-Remote-Group", "system:authenticated"),
                                     ("X-Remote-Extra-Scopes%2fA", "s1")), cfg)
    assert user == UserInfo("alice", ("dev", "system:authenticated"), (("scopes/a", ("s1",)),))
    assert user_from_headers(headers(("X-Remote-Group", "dev")), cfg) is None


@pytest.mark.parametrize(("attrs", "expected"), [
    (Attributes("list", "pods", "web"), {"verb": "list", "resource": "pods", "namespace": "web",
                                         "name": "", "subresource": ""}),
    (Attributes("get", "nodes", "", "vn-1"), {"verb": "get", "resource": "nodes",
                                              "namespace": "", "name": "vn-1",
                                              "subresource": ""}),
    (Attributes("get", "pods", "web", "*", "custom.metrics.k8s.io", "v1beta2", "rps"),
     {"verb": "get", "resource": "pods", "namespace": "web", "name": "*", "subresource": "rps",
      "group": "custom.metrics.k8s.io", "version": "v1beta2"}),
])
def test_access_review(attrs: Attributes, expected: dict[str, str]) -> None:
    review = access_review(UserInfo("bob", ("g",)), attrs)
    assert review["spec"]["user"] == "bob" and review["spec"]["groups"] == ["g"]
    assert review["spec"]["resourceAttributes"] == {"group": "metrics.k8s.io",
                                                    "version": "v1beta1", **expected}
