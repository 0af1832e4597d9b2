"""Settings: precedence of flags > env > file > defaults, and every bad-setting message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from syncer.ops.settings import Settings, SettingsError, build_arg_parser, load_settings


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_defaults() -> None:
    settings = load_settings([], {})
    assert settings.management.kubeconfig is None
    assert settings.management.namespace == "fusionvc-system"
    assert settings.sync.workers == 16
    assert (settings.sync.write_qps, settings.sync.write_burst) == (1000.0, 2000)
    assert settings.sync.queue_qps == 0.0  # no cap per key: writes are capped
    assert settings.sync.queue_max == 200_000
    assert settings.leader.lease_namespace == "fusionvc-system"
    assert settings.leader.identity
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 8080)
    assert (settings.logging.format, settings.logging.level) == ("json", "info")
    assert settings.shutdown.grace_s == 20.0


def test_settings_are_frozen() -> None:
    settings = load_settings([], {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.sync.workers = 3  # type: ignore[misc]


def test_precedence_flags_over_env_over_file_over_defaults(tmp_path: Path) -> None:
    config = write(tmp_path, "sync: {workers: 2, queue_max: 50, queue_burst: 7}\n"
                             "logging: {format: console}\n")
    env = {"FUSIONVC_WORKERS": "3", "FUSIONVC_QUEUE_MAX": "60"}
    settings = load_settings(["--config", config, "--workers", "4"], env)
    assert settings.sync.workers == 4  # flag
    assert settings.sync.queue_max == 60  # env
    assert settings.sync.queue_burst == 7  # file
    assert settings.logging.format == "console"  # file
    assert settings.sync.write_qps == 1000.0  # default


def test_zero_turns_the_write_and_queue_caps_off() -> None:
    settings = load_settings(["--write-qps", "0"], {"FUSIONVC_QUEUE_QPS": "0"})
    assert (settings.sync.write_qps, settings.sync.queue_qps) == (0.0, 0.0)
    with pytest.raises(SettingsError, match="--request-timeout: must be greater than 0, got"):
        load_settings(["--request-timeout", "0"], {})  # elsewhere 0 is still refused


def test_config_file_from_env(tmp_path: Path) -> None:
    config = write(tmp_path, "http: {port: 9090}\n")
    assert load_settings([], {"FUSIONVC_CONFIG": config}).http.port == 9090


def test_lease_namespace_follows_namespace_unless_set() -> None:
    assert load_settings(["--namespace", "ops"], {}).leader.lease_namespace == "ops"
    settings = load_settings(["--namespace", "ops", "--leader-lease-namespace", "l"], {})
    assert settings.leader.lease_namespace == "l"


def test_types_and_units() -> None:
    env = {"FUSIONVC_LEADER_ELECT": "false", "FUSIONVC_DRIFT_SCAN_INTERVAL": "2m",
           "FUSIONVC_LOG_LEVEL": "DEBUG", "FUSIONVC_KUBECONFIG": "/k/config"}
    settings = load_settings(["--leader-renew-deadline", "1500ms", "--leader-retry-period",
                              "1"], env)
    assert settings.leader.enabled is False
    assert settings.sync.drift_scan_interval_s == 120.0
    assert settings.leader.renew_deadline_s == 1.5
    assert settings.logging.level == "debug"
    assert settings.management.kubeconfig == "/k/config"
    assert load_settings(["--no-leader-elect"], {"FUSIONVC_LEADER_ELECT": "true"}).leader.enabled \
        is False


def test_extra_kinds_from_flag_env_or_file(tmp_path: Path) -> None:
    assert load_settings([], {}).sync.extra_kinds == ()
    flag = load_settings(["--extra-kinds", "toy.kind:ToySyncer, more:Other"], {})
    assert flag.sync.extra_kinds == ("toy.kind:ToySyncer", "more:Other")
    env = load_settings([], {"FUSIONVC_EXTRA_KINDS": "toy.kind:ToySyncer"})
    assert env.sync.extra_kinds == ("toy.kind:ToySyncer",)
    path = tmp_path / "s.yaml"
    path.write_text("sync: {extra_kinds: [toy.kind:ToySyncer]}\n")
    assert load_settings(["--config", str(path)], {}).sync.extra_kinds == ("toy.kind:ToySyncer",)


def test_help_names_every_flag_env_and_key() -> None:
    text = build_arg_parser().format_help()
    for needle in ("--workers", "FUSIONVC_WORKERS", "sync.workers", "--log-format",
                   "FUSIONVC_LOG_FORMAT", "leader election", "--shutdown-grace"):
        assert needle in text


@pytest.mark.parametrize(
    ("argv", "env", "file", "message"),
    [
        (["--workers", "eight"], {}, None, "--workers: expected an integer, got 'eight'"),
        ([], {"FUSIONVC_WORKERS": "0"}, None, "FUSIONVC_WORKERS: must be at least 1"),
        ([], {}, "sync: {workers: 2.5}\n", "sync.workers in {file}: expected an integer"),
        ([], {}, "sync: {wrokers: 2}\n", "sync.wrokers in {file}: unknown key"),
        ([], {}, "snyc: {workers: 2}\n", "snyc in {file}: unknown key"),
        ([], {}, "sync: 3\n", "sync in {file}: expected a mapping"),
        ([], {}, "- a\n", "{file}: the top level must be a mapping"),
        ([], {}, "sync: {workers: [\n", "--config: '{file}' is not valid YAML"),
        (["--drift-scan-interval=-5"], {}, None, "--drift-scan-interval: must be greater than 0"),
        (["--extra-kinds", "toy.kind"], {}, None, "--extra-kinds: expected module:Class, got"),
        ([], {}, "sync: {extra_kinds: 3}\n", "sync.extra_kinds in {file}: expected module:Class"),
        ([], {"FUSIONVC_SHUTDOWN_GRACE": "-1s"}, None, "FUSIONVC_SHUTDOWN_GRACE: must be greater"),
        ([], {}, "sync: {drift_scan_interval_s: soon}\n",
         "sync.drift_scan_interval_s in {file}: expected a duration, got 'soon'"),
        ([], {}, "leader: {enabled: maybe}\n",
         "leader.enabled in {file}: expected true or false, got 'maybe'"),
        (["--leader-renew-deadline", "20"], {}, None,
         "--leader-renew-deadline: renew deadline (20s) must be shorter than the lease "
         "duration (15s, from default of leader.lease_duration_s)"),
        ([], {"FUSIONVC_LEADER_LEASE_DURATION": "5"}, None,
         "default of leader.renew_deadline_s: renew deadline (10s) must be shorter than the "
         "lease duration (5s, from FUSIONVC_LEADER_LEASE_DURATION)"),
        (["--leader-retry-period", "10"], {}, None,
         "--leader-retry-period: retry period (10s) must be shorter than the renew deadline"),
        ([], {"FUSIONVC_LOG_FORMAT": "xml"}, None,
         "FUSIONVC_LOG_FORMAT: must be one of json, console; got 'xml'"),
        ([], {}, "logging: {level: 3}\n", "logging.level in {file}: expected a string"),
        (["--http-port", "70000"], {}, None, "--http-port: must be at most 65535"),
        (["--namespace", ""], {}, None, "--namespace: must not be empty"),
        (["--queue-qps", "nan"], {}, None, "--queue-qps: expected a finite number"),
        (["--write-qps", "-1"], {}, None, "--write-qps: must be greater than 0 (or 0: off)"),
        ([], {"FUSIONVC_WRITE_BURST": "0"}, None, "FUSIONVC_WRITE_BURST: must be at least 1"),
        (["--bogus"], {}, None, "unrecognized arguments: --bogus"),
        ([], {}, "http: {port: }\n", "http.port in {file}: has no value"),
    ],
)
def test_bad_settings_name_the_setting(
    tmp_path: Path, argv: list[str], env: dict[str, str], file: str | None, message: str
) -> None:
    if file is not None:
        path = write(tmp_path, file)
        argv = [*argv, "--config", path]
        message = message.format(file=path)
    with pytest.raises(SettingsError) as caught:
        load_settings(argv, env)
    assert message in str(caught.value)


def test_missing_config_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(SettingsError, match=r"^--config: file .*nope.yaml' does not exist"):
        load_settings(["--config", missing], {})
    with pytest.raises(SettingsError, match=r"^FUSIONVC_CONFIG: file .* does not exist"):
        load_settings([], {"FUSIONVC_CONFIG": missing})


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(["--config", write(tmp_path, "")], {}).sync == Settings().sync


def test_null_optional_string_in_file_means_unset(tmp_path: Path) -> None:
    config = write(tmp_path, "management: {kubeconfig: ~, namespace: ops}\n")
    settings = load_settings(["--config", config], {})
    assert settings.management.kubeconfig is None
    assert settings.leader.lease_namespace == "ops"


KUBELET_FILES = ["--kubelet-cert-file=c.crt", "--kubelet-key-file=c.key",
                 "--kubelet-client-ca-file=ca.crt"]


def test_kubelet_endpoint_is_off_until_its_files_are_given() -> None:
    assert not load_settings([], {}).kubelet.enabled
    s = load_settings([*KUBELET_FILES, "--kubelet-host=127.0.0.1"], {})
    assert s.kubelet.enabled and s.kubelet.advertise_address == "127.0.0.1"
    assert (s.kubelet.port, s.kubelet.advertise_port) == (10250, 0)


@pytest.mark.parametrize(("argv", "where"), [
    (KUBELET_FILES[:2], "--kubelet-cert-file"),  # no client CA
    (KUBELET_FILES, "default of kubelet.host"),  # 0.0.0.0 and nothing to advertise
    ([*KUBELET_FILES, "--kubelet-host=::"], "--kubelet-host"),
    (["--kubelet-port=70000"], "--kubelet-port"),
])
def test_kubelet_endpoint_errors_name_the_setting(argv: list[str], where: str) -> None:
    with pytest.raises(SettingsError, match=where):
        load_settings(argv, {})
