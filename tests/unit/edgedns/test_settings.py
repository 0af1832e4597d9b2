"""Edge DNS settings: values, and errors that name the setting as written."""

from __future__ import annotations

import ipaddress

import pytest

from syncer.edgedns.settings import Listener, load_settings
from syncer.ops.settings import SettingsError

BASE = ["--listen=tenant-a=127.53.1.1:5353,tenant-b=127.53.1.2:5353", "--upstream=127.0.0.1"]


def test_values() -> None:
    s = load_settings([*BASE, "--ttl=30", "--cluster-domain=corp.internal."], {})
    assert s.listeners == (Listener("tenant-a", "127.53.1.1", 5353),
                           Listener("tenant-b", "127.53.1.2", 5353))
    assert s.upstreams == (("127.0.0.1", 53),)
    assert (s.ttl, s.cluster_domain, s.kubeconfig) == (30, "corp.internal", None)
    assert s.trusted_sources == (ipaddress.ip_network("127.0.0.0/8"),
                                 ipaddress.ip_network("::1/128"))


def test_environment_and_flags_precedence() -> None:
    env = {"FUSIONVC_EDGEDNS_LISTEN": "t=[::1]:53", "FUSIONVC_EDGEDNS_TTL": "7",
           "FUSIONVC_EDGEDNS_UPSTREAM": "[fd00::1]:5300,127.0.0.2"}
    s = load_settings(["--ttl=9"], env)
    assert s.listeners == (Listener("t", "::1", 53),)
    assert s.upstreams == (("fd00::1", 5300), ("127.0.0.2", 53))
    assert s.ttl == 9


@pytest.mark.parametrize(("argv", "env", "message"), [
    ([], {}, "--listen (or FUSIONVC_EDGEDNS_LISTEN) is required"),
    (["--listen=127.0.0.1:53"], {}, "--listen: '127.0.0.1:53' is not TENANT=HOST:PORT"),
    (["--listen=a=127.0.0.1"], {}, "--listen: '127.0.0.1' needs HOST:PORT"),
    (["--listen=a=dns.local:53"], {}, "--listen: 'dns.local:53' is not IP:PORT"),
    (["--listen=a=127.0.0.1:53,b=127.0.0.1:53"], {}, "--listen: 127.0.0.1:53 is given twice"),
    ([], {"FUSIONVC_EDGEDNS_LISTEN": "a=127.0.0.1:70000"},
     "FUSIONVC_EDGEDNS_LISTEN: port 70000 is out of range"),
    ([*BASE, "--ttl=0"], {}, "--ttl: must be greater than 0, got '0'"),
    ([*BASE], {"FUSIONVC_EDGEDNS_TRUSTED_SOURCES": "10.0.0.0/33"},
     "FUSIONVC_EDGEDNS_TRUSTED_SOURCES: "),
    ([*BASE, "--log-format=xml"], {}, "--log-format: must be one of json, console; got 'xml'"),
    ([*BASE, "--cluster-domain=."], {}, "--cluster-domain: must not be empty"),
])
def test_errors_name_the_setting(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(argv, env)
    assert str(err.value).startswith(message)
