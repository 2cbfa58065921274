from __future__ import annotations

import pytest

from airflow_provider_lakeops.notifications.config import DEFAULTS, LakeopsSettings, get_option


def test_defaults_when_nothing_is_configured(monkeypatch):
    for key in DEFAULTS:
        monkeypatch.delenv(f"AIRFLOW__LAKEOPS__{key.upper()}", raising=False)
    settings = LakeopsSettings.load()
    assert settings == LakeopsSettings()
    assert settings.metrics_backend == "none"
    assert settings.metrics_namespace == "Lakeops"
    assert settings.metrics_timeout == 5.0
    assert settings.notifier_timeout == 10.0


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_BACKEND", "CloudWatch")
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_NAMESPACE", "Lake/Dev")
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_TIMEOUT", "2.5")
    monkeypatch.setenv("AIRFLOW__LAKEOPS__METRICS_AWS_CONN_ID", "aws_metrics")
    settings = LakeopsSettings.load()
    assert settings.metrics_backend == "cloudwatch"
    assert settings.metrics_namespace == "Lake/Dev"
    assert settings.metrics_timeout == 2.5
    assert settings.metrics_aws_conn_id == "aws_metrics"
    assert get_option("metrics_datadog_conn_id") == "datadog_default"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("METRICS_BACKEND", "prometheus"),
        ("METRICS_TIMEOUT", "soon"),
        ("METRICS_TIMEOUT", "0"),
        ("NOTIFIER_TIMEOUT", "100000"),
    ],
    ids=["unknown-backend", "timeout-not-a-number", "timeout-zero", "timeout-too-long"],
)
def test_bad_values_fall_back_to_defaults_with_a_warning(monkeypatch, logs, key, value):
    monkeypatch.setenv(f"AIRFLOW__LAKEOPS__{key}", value)
    settings = LakeopsSettings.load()
    assert settings.metrics_backend == "none"
    assert settings.metrics_timeout == 5.0
    assert settings.notifier_timeout == 10.0
    assert f"{key.lower()}=" in logs()
