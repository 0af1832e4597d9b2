"""The Service and APIService fusionvc wants in every tenant."""

from __future__ import annotations

import base64

from syncer.metricsapi.registration import desired_objects, needs_write


def test_apiservice_points_at_the_external_name_service_and_pins_the_ca() -> None:
    service, apiservice = desired_objects("localhost", 8443, b"PEM")
    assert service["spec"] == {"type": "ExternalName", "externalName": "localhost",
                               "ports": [{"name": "https", "port": 8443, "protocol": "TCP",
                                          "targetPort": 8443}]}
    spec = apiservice["spec"]
    assert apiservice["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert spec["service"] == {"namespace": "kube-system", "name": "fusionvc-metrics-api",
                               "port": 8443}
    assert base64.b64decode(spec["caBundle"]) == b"PEM" and "insecureSkipTLSVerify" not in spec


def test_without_a_ca_tls_verification_is_skipped() -> None:
    _, apiservice = desired_objects("syncer.example", 443, None)
    assert apiservice["spec"]["insecureSkipTLSVerify"] is True


def test_only_fusionvc_objects_that_drifted_are_rewritten() -> None:
    _, want = desired_objects("localhost", 8443, None)
    assert needs_write(None, want)
    assert not needs_write(want, want)
    drifted = {**want, "spec": {**want["spec"], "service": {"name": "other"}}}
    assert needs_write(drifted, want)
    foreign = {**drifted, "metadata": {"name": want["metadata"]["name"]}}
    assert not needs_write(foreign, want)


def test_a_service_as_the_api_server_stores_it_is_not_rewritten() -> None:
    """The API server adds defaults (sessionAffinity, targetPort): not a drift."""
    want, _ = desired_objects("localhost", 8443, None)
    stored = {**want, "spec": {**want["spec"], "sessionAffinity": "None",
                               "ports": [{"name": "https", "port": 8443, "protocol": "TCP",
                                          "targetPort": 8443}]}}
    assert not needs_write(stored, want)
