"""The Spark job's ``aws-secretsmanager:`` key source (the EMR Serverless route) against moto."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.spark_apps.pii_masking_job import load_hmac_key
from airflow_provider_lakeops.spark_apps.pii_policy import HmacKeyError

pytestmark = pytest.mark.integration

KEY = "secrets-manager-hmac-key-0123456789-abcdefghijkl"


@pytest.fixture
def secrets(lakeops_stack, monkeypatch):
    import boto3

    conn = json.loads(lakeops_stack.env()["AIRFLOW_CONN_AWS_DEFAULT"])
    # boto3 on an EMR driver finds its endpoint, region and credentials the same way
    monkeypatch.setenv("AWS_ENDPOINT_URL", conn["extra"]["endpoint_url"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", conn["extra"]["region_name"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", conn["login"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", conn["password"])
    client = boto3.client("secretsmanager")
    names = []

    def create(name: str, **value) -> str:
        arn = client.create_secret(Name=name, **value)["ARN"]
        names.append(name)
        return arn

    yield create
    for name in names:
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_key_from_secrets_manager_by_name_and_arn(secrets):
    arn = secrets("lakeops/pii-key-it", SecretString=KEY)
    assert load_hmac_key("aws-secretsmanager:lakeops/pii-key-it") == KEY.encode()
    assert load_hmac_key(f"aws-secretsmanager:{arn}") == KEY.encode()


def test_binary_secret(secrets):
    secrets("lakeops/pii-key-bin", SecretBinary=b"\x01" * 40)
    assert load_hmac_key("aws-secretsmanager:lakeops/pii-key-bin") == b"\x01" * 40


def test_short_or_missing_secret_is_a_key_error_without_the_value(secrets):
    secrets("lakeops/pii-key-short", SecretString="short-secret")
    with pytest.raises(HmacKeyError) as excinfo:
        load_hmac_key("aws-secretsmanager:lakeops/pii-key-short")
    assert "at least 32" in str(excinfo.value)
    assert "short-secret" not in str(excinfo.value)
    with pytest.raises(
        HmacKeyError, match="cannot read the HMAC key secret lakeops/missing: ResourceNotFoundException"
    ):
        load_hmac_key("aws-secretsmanager:lakeops/missing")
