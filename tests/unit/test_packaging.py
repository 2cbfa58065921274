"""The built wheel carries the Spark applications, the typing marker and the entry points."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.fail("uv is not installed in the environment (make install puts it there)")
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(REPO)], check=True,
                   capture_output=True, timeout=300)
    wheels = list(out.glob("airflow_provider_lakeops-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contains_spark_apps_and_marker(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    spark_apps = sorted(n for n in names if n.startswith("airflow_provider_lakeops/spark_apps/"))
    repo_apps = sorted(p.name for p in (REPO / "spark_apps").glob("*.py"))
    assert repo_apps, "the repository has no Spark applications"
    assert {Path(n).name for n in spark_apps} >= set(repo_apps)
    assert "airflow_provider_lakeops/py.typed" in names
    assert "airflow_provider_lakeops/get_provider_info.py" in names
    assert not any(n.startswith(("tests/", "example_dags/")) for n in names)


def test_wheel_declares_provider_and_pytest_entry_points(wheel: Path):
    zf = zipfile.ZipFile(wheel)
    entry_points = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = zf.read(entry_points).decode()
    assert "[apache_airflow_provider]" in text
    assert "provider_info = airflow_provider_lakeops.get_provider_info:get_provider_info" in text
    assert "[pytest11]" in text
    metadata = zf.read(entry_points.replace("entry_points.txt", "METADATA")).decode()
    assert "Name: airflow-provider-lakeops" in metadata
    for extra in ("amazon", "snowflake", "spark", "gx", "cosmos", "kafka-connect", "slack", "datadog",
                  "testing", "all"):
        assert f"Provides-Extra: {extra}" in metadata, extra
