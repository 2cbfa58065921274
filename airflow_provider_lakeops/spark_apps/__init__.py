"""PySpark applications that lakeops operators submit with ``spark-submit``, and how they are shipped.

Nothing here imports Airflow: these modules run on Spark drivers and executors, where they are
imported as ``airflow_provider_lakeops.spark_apps.<module>`` (the package root only holds
``__version__``, so importing it is cheap). Operators find an app's main file with
:func:`app_path` and ship the package to Spark with ``--py-files`` from :func:`build_py_files_zip`,
so the same imports work on ``local[*]``, a standalone cluster or EMR.

* :mod:`~airflow_provider_lakeops.spark_apps.pii_policy` - PII policy parsing and validation
  (pure Python, no pyspark).
* :mod:`~airflow_provider_lakeops.spark_apps.masking` - one native Spark ``Column`` expression per
  masking strategy.
* :mod:`~airflow_provider_lakeops.spark_apps.leak_guard` - scans masked output for PII patterns the
  policy left behind.
* :mod:`~airflow_provider_lakeops.spark_apps.pii_masking_job` - the ``spark-submit`` entry point of
  ``PiiMaskingOperator``.
* :mod:`~airflow_provider_lakeops.spark_apps.streaming_options` - options, schema and checkpoint
  rules shared by ``KafkaStreamingSubmitOperator`` and its app (pure Python, no pyspark).
* :mod:`~airflow_provider_lakeops.spark_apps.kafka_customer_events` - the ``spark-submit`` entry
  point of ``KafkaStreamingSubmitOperator``.
* :mod:`~airflow_provider_lakeops.spark_apps.delta_merge_job` - the entry point of ``DeltaMergeOperator``.
* :mod:`~airflow_provider_lakeops.spark_apps.delta_maintenance_job` - the entry point of
  ``DeltaMaintenanceOperator``.
* :mod:`~airflow_provider_lakeops.spark_apps.lake_session` - S3A credentials into the Hadoop
  configuration, lake paths and table readers, shared by the apps.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PY_FILES_ZIP", "SHARED_MODULES", "app_path", "apps_dir", "build_py_files_zip"]

#: The file name of the ``--py-files`` archive written by :func:`build_py_files_zip`.
PY_FILES_ZIP = "lakeops_spark_apps.zip"
#: Stdlib-only modules outside ``spark_apps/`` that the apps import (paths relative to the package):
#: the one redaction module decides what a secret Kafka option is, on the driver as in Airflow.
SHARED_MODULES = ("utils/__init__.py", "utils/redaction.py")
#: Fixed timestamp of every zip entry, so the same sources always give the same bytes.
_ZIP_DATE_TIME = (2020, 1, 1, 0, 0, 0)


def apps_dir() -> Path:
    """The folder of the Spark apps (this package), e.g. for the data files beside them."""
    return Path(__file__).resolve().parent


def app_path(name: str) -> Path:
    """The main file of the app ``name`` (``"pii_masking_job"`` or ``"pii_masking_job.py"``).

    :raises FileNotFoundError: there is no such app in the installed package.
    """
    path = apps_dir() / (name if name.endswith(".py") else f"{name}.py")
    if not path.is_file():
        raise FileNotFoundError(
            f"no Spark app {path.name} in {path.parent}: reinstall airflow-provider-lakeops"
        )
    return path


def build_py_files_zip(dest_dir: str | os.PathLike[str]) -> Path:
    """Write the ``--py-files`` archive into ``dest_dir`` and return its path.

    The archive holds ``airflow_provider_lakeops/__init__.py``, everything under
    ``airflow_provider_lakeops/spark_apps/`` (no ``__pycache__``) and the stdlib-only shared modules
    of :data:`SHARED_MODULES` (``utils/redaction.py``; not the rest of ``utils/``), so every app
    and its modules import as they do here. Entries are sorted and carry a fixed timestamp and mode: the same
    sources give the same bytes (upload it once per release to run the jobs on EMR Serverless).
    """
    import zipfile

    apps = apps_dir()
    package = apps.parent
    files = (
        [package / "__init__.py"]
        + sorted(
            p
            for p in apps.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
        )
        + [package / name for name in SHARED_MODULES]
    )
    target = Path(dest_dir) / PY_FILES_ZIP
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(
                f"{package.name}/{path.relative_to(package).as_posix()}", date_time=_ZIP_DATE_TIME
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return target
