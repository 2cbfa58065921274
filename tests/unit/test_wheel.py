"""The built wheel: the Spark apps inside the package, the public local stack, the typing marker and
the entry points; no repository tooling (``tools/``), no tests.

Builds the wheel once per module with ``uv build --wheel`` (under a second; hatchling comes from uv's
cache or index), so it is marked ``wheel``: ``-m "not wheel"`` skips it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "airflow_provider_lakeops" / "spark_apps"

pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        pytest.fail("uv is not installed in the environment (make install puts it there)")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheels = list(out.glob("airflow_provider_lakeops-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def names(wheel: Path) -> set[str]:
    return set(zipfile.ZipFile(wheel).namelist())


def test_wheel_contains_the_spark_apps_inside_the_package(names: set[str]):
    repo_apps = {
        f"airflow_provider_lakeops/spark_apps/{p.relative_to(APPS).as_posix()}"
        for p in APPS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert "airflow_provider_lakeops/spark_apps/pii_masking_job.py" in repo_apps
    assert "airflow_provider_lakeops/spark_apps/kafka_customer_events.py" in repo_apps
    assert "airflow_provider_lakeops/spark_apps/schemas/customer_event.json" in repo_apps
    shipped = {n for n in names if n.startswith("airflow_provider_lakeops/spark_apps/")}
    assert shipped == repo_apps
    assert not any(n.startswith("spark_apps/") for n in names)  # one identity only


def test_wheel_contains_the_local_stack_but_no_repository_tooling(names: set[str]):
    for module in ("stack", "_servers", "pytest_plugin", "cli"):
        assert f"airflow_provider_lakeops/testing/{module}.py" in names, module
    for absent in (
        "airflow_provider_lakeops/testing/demo.py",
        "airflow_provider_lakeops/testing/browser.py",
        "tools/demo.py",
    ):
        assert absent not in names, absent
    assert not any(n.startswith(("tests/", "tools/", "benchmarks/", "example_dags/")) for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "airflow_provider_lakeops/py.typed" in names
    assert "airflow_provider_lakeops/get_provider_info.py" in names


def test_wheel_declares_provider_and_pytest_entry_points(wheel: Path):
    zf = zipfile.ZipFile(wheel)
    entry_points = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = zf.read(entry_points).decode()
    assert "[apache_airflow_provider]" in text
    assert "provider_info = airflow_provider_lakeops.get_provider_info:get_provider_info" in text
    assert "[pytest11]" in text
    metadata = zf.read(entry_points.replace("entry_points.txt", "METADATA")).decode()
    assert "Name: airflow-provider-lakeops" in metadata
    for extra in (
        "amazon",
        "snowflake",
        "spark",
        "gx",
        "cosmos",
        "kafka-connect",
        "slack",
        "datadog",
        "testing",
        "all",
    ):
        assert f"Provides-Extra: {extra}" in metadata, extra
