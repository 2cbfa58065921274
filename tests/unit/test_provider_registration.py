"""Airflow sees the provider; the OpenLineage provider is active and the legacy package absent."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_lakeops import __version__
from airflow_provider_lakeops.get_provider_info import get_provider_info


def test_provider_info_matches_distribution():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-lakeops"
    assert info["versions"][0] == __version__ == importlib.metadata.version("airflow-provider-lakeops")


def test_provider_info_validates_against_airflow_schema():
    import json

    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_providers_manager_registers_lakeops_and_its_classes():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-lakeops" in pm.providers
    info = get_provider_info()
    for conn in info.get("connection-types", []):
        assert conn["connection-type"] in pm.hooks, conn
    for notifier in info.get("notifications", []):
        assert notifier in pm.notification, notifier  # type: ignore[attr-defined]


def test_airflow_providers_list_shows_lakeops():
    airflow = Path(sys.executable).parent / "airflow"
    out = subprocess.run(
        [str(airflow), "providers", "list", "-o", "plain"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "airflow-provider-lakeops" in out.stdout


def test_legacy_openlineage_airflow_is_absent():
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("openlineage-airflow")


def test_openlineage_provider_is_active():
    from airflow.providers.openlineage.conf import is_disabled, transport

    assert not is_disabled()
    assert transport()["type"] == "file"
