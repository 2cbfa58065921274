"""airflow_provider_lakeops.spark_apps: the one way to find an app and to build the ``--py-files`` zip."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import airflow_provider_lakeops
from airflow_provider_lakeops.spark_apps import (
    PY_FILES_ZIP,
    SHARED_MODULES,
    app_path,
    apps_dir,
    build_py_files_zip,
)

PACKAGE = Path(airflow_provider_lakeops.__file__).resolve().parent
APPS = ("pii_masking_job", "kafka_customer_events")


@pytest.mark.parametrize("name", [*APPS, *(f"{a}.py" for a in APPS)])
def test_app_path_is_inside_the_package(name):
    path = app_path(name)
    assert path.is_file()
    assert path.parent == apps_dir() == PACKAGE / "spark_apps"


def test_unknown_app_says_what_is_missing():
    with pytest.raises(FileNotFoundError, match=r"no Spark app nope\.py .*reinstall"):
        app_path("nope")


def test_zip_has_one_layout_and_is_reproducible(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build_py_files_zip(tmp_path / "a")
    second = build_py_files_zip(tmp_path / "b")
    assert first.name == second.name == PY_FILES_ZIP
    assert first.read_bytes() == second.read_bytes()  # same sources, same bytes
    names = zipfile.ZipFile(first).namelist()
    assert names[0] == "airflow_provider_lakeops/__init__.py"
    expected = sorted(
        f"airflow_provider_lakeops/spark_apps/{p.relative_to(apps_dir()).as_posix()}"
        for p in apps_dir().rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    assert names[1:] == [
        *expected,
        "airflow_provider_lakeops/utils/__init__.py",
        "airflow_provider_lakeops/utils/redaction.py",
    ]
    assert [f"airflow_provider_lakeops/{m}" for m in SHARED_MODULES] == names[-len(SHARED_MODULES) :]
    assert not any(
        n.startswith("airflow_provider_lakeops/utils/")
        and n.removeprefix("airflow_provider_lakeops/") not in SHARED_MODULES
        for n in names
    )  # not the Airflow-side storage layer
    assert "airflow_provider_lakeops/spark_apps/schemas/customer_event.json" in names
    assert {f"airflow_provider_lakeops/spark_apps/{a}.py" for a in APPS} <= set(names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert all(n.startswith("airflow_provider_lakeops/") for n in names)


def test_zip_alone_imports_the_apps_without_airflow(tmp_path):
    """What a Spark driver does: only the stdlib and the zip on the path (``-I -S``: no site-packages)."""
    archive = build_py_files_zip(tmp_path)
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r}); "
        "import airflow_provider_lakeops.spark_apps.pii_policy as p, "
        "airflow_provider_lakeops.spark_apps.streaming_options as s, "
        "airflow_provider_lakeops.spark_apps.pii_masking_job as j, "
        "airflow_provider_lakeops.utils.redaction as r; "
        "print(p.__file__, s.__file__, j.__file__, r.__file__); "
        "print(s.is_secret_option('kafka.sasl.jaas.config'), "
        "r.redact_registered('password=x'), r.scrub_text('password=x')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'pyspark', 'py4j', 'yaml')))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    files, redaction, loaded = out.stdout.strip().splitlines()
    assert files.count(PY_FILES_ZIP) == 4
    assert (
        redaction == "True password=x password=***"
    )  # no Airflow on a Spark driver: the masker is a no-op, the rules work
    assert loaded == "[]"
