"""Mask PII by policy on Spark: ``PiiMaskingOperator`` and the EMR Serverless job-driver builder.

The masking itself is the Spark job ``airflow_provider_lakeops/spark_apps/pii_masking_job.py``
(native Spark expressions, keyed HMAC-SHA256, leak guard). This module validates the policy in the
Airflow worker with the pure-Python :mod:`airflow_provider_lakeops.spark_apps.pii_policy`, then submits the
job with the official ``SparkSubmitHook`` (built in ``execute``; the ``SparkSubmitOperator`` module is not
imported, it would add ~480 ms to every DAG parse). ``s3://`` locations and Delta output get their Spark
settings from :func:`airflow_provider_lakeops.utils.lake.spark_lake_settings` (credentials in the
``spark-submit`` environment, never argv).

:func:`spark_submit_hook` and :func:`read_run_report` are shared with the other lakeops operators that
submit a lakeops Spark app (``DeltaMaintenanceOperator``).

.. seealso:: ``docs/operators/pii_masking.md``
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_lakeops.exceptions import PiiLeakError
from airflow_provider_lakeops.spark_apps import app_path, apps_dir, build_py_files_zip, pii_policy
from airflow_provider_lakeops.utils.lake import DELTA_SPARK_CONF, spark_lake_settings, validate_table_format

if TYPE_CHECKING:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_lakeops.lineage.naming import DatasetName
    from airflow_provider_lakeops.utils.lake import SparkLakeSettings

__all__ = [
    "HMAC_KEY_ENV_VAR",
    "LOCAL_MASTER",
    "PiiLeakFailure",
    "PiiMaskingOperator",
    "build_spark_apps_zip",
    "emr_serverless_job_driver",
    "pii_job_arguments",
    "read_run_report",
    "spark_apps_dir",
    "spark_submit_hook",
]

#: The environment variable through which the HMAC key reaches the Spark driver.
HMAC_KEY_ENV_VAR = "LAKEOPS_PII_HMAC_KEY"
#: The master used when no Spark connection is given.
LOCAL_MASTER = "local[*]"
INPUT_FORMATS = ("parquet", "json", "csv")
_JOB_FILE = "pii_masking_job.py"


class PiiLeakFailure(PiiLeakError, AirflowFailException):
    """The leak guard found PII in unmasked columns: a :class:`PiiLeakError` that also fails the
    task without retries (the same data would fail the same way)."""


# ------------------------------------------------------------------------ job packaging
def spark_apps_dir() -> Path:
    """Deprecated: use :func:`airflow_provider_lakeops.spark_apps.apps_dir` (or ``app_path``)."""
    warnings.warn(
        "spark_apps_dir() is deprecated: use airflow_provider_lakeops.spark_apps.apps_dir()",
        DeprecationWarning,
        stacklevel=2,
    )
    return apps_dir()


def build_spark_apps_zip(dest_dir: str | os.PathLike[str]) -> Path:
    """Deprecated: use :func:`airflow_provider_lakeops.spark_apps.build_py_files_zip` (the same zip)."""
    warnings.warn(
        "build_spark_apps_zip() is deprecated: use airflow_provider_lakeops.spark_apps.build_py_files_zip()",
        DeprecationWarning,
        stacklevel=2,
    )
    return build_py_files_zip(dest_dir)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def pii_job_arguments(
    policy: pii_policy.PiiPolicy,
    *,
    input_path: str,
    output_path: str,
    input_format: str = "parquet",
    input_options: Mapping[str, Any] | None = None,
    partition_by: str | Sequence[str] | None = None,
    derive_columns: Mapping[str, str] | None = None,
    partition_values: Mapping[str, Any] | None = None,
    report_path: str | None = None,
    report_uri: str | None = None,
    key_source: str | None = None,
    table_format: str = "parquet",
) -> list[str]:
    """The command-line arguments of ``pii_masking_job.py`` (no secret is ever part of them).

    :raises ValueError: an argument is empty or malformed.
    """
    problems = []
    if not str(input_path).strip():
        problems.append("input_path is empty: give the folder or file pattern to read")
    if not str(output_path).strip():
        problems.append("output_path is empty: give the folder to write Parquet to")
    if input_format not in INPUT_FORMATS:
        problems.append(f"input_format must be one of {', '.join(INPUT_FORMATS)}, got {input_format!r}")
    try:
        table_format = validate_table_format(table_format)
    except ValueError as exc:
        problems.append(str(exc))
    if str(input_path).rstrip("/") == str(output_path).rstrip("/"):
        problems.append("output_path must differ from input_path")
    for new, source in (derive_columns or {}).items():
        if not str(new).strip() or not str(source).strip():
            problems.append(f"derive_columns needs non-empty names, got {new!r}: {source!r}")
    for name, value in (partition_values or {}).items():
        if not str(name).strip() or not str(value).strip():
            problems.append(f"partition_values needs a non-empty name and value, got {name!r}: {value!r}")
    if problems:
        raise ValueError("; ".join(problems))
    args = ["--input", str(input_path), "--input-format", input_format, "--output", str(output_path)]
    args += ["--table-format", table_format, "--policy-json", policy.to_json()]
    for key, value in (input_options or {}).items():
        args += ["--input-option", f"{key}={value}"]
    for column in _as_list(partition_by):
        args += ["--partition-by", column]
    for new, source in (derive_columns or {}).items():
        args += ["--derive", f"{new}={source}"]
    for name, value in (partition_values or {}).items():
        args += ["--partition-value", f"{name}={value}"]
    if report_path:
        args += ["--report", report_path]
    if report_uri:
        args += ["--report-uri", report_uri]
    if key_source:
        args += ["--key-source", key_source]
    return args


def emr_serverless_job_driver(
    *,
    entry_point: str,
    py_files: str,
    policy: pii_policy.PiiPolicy | Mapping[str, Any] | str,
    input_path: str,
    output_path: str,
    key_secret_id: str | None = None,
    input_format: str = "parquet",
    input_options: Mapping[str, Any] | None = None,
    partition_by: str | Sequence[str] | None = None,
    derive_columns: Mapping[str, str] | None = None,
    partition_values: Mapping[str, Any] | None = None,
    report_uri: str | None = None,
    spark_conf: Mapping[str, Any] | None = None,
    table_format: str = "parquet",
) -> dict[str, Any]:
    """Build the ``job_driver`` of the amazon provider's ``EmrServerlessStartJobOperator``.

    The same job runs on EMR Serverless (Spark >= 3.5): upload ``pii_masking_job.py``
    (:func:`~airflow_provider_lakeops.spark_apps.app_path`) and the zip from
    :func:`~airflow_provider_lakeops.spark_apps.build_py_files_zip` to S3. The HMAC key is read by
    the driver from AWS Secrets Manager (``key_secret_id``, through boto3 and the job's execution
    role): it is never part of the job configuration. Lineage and the run report's XCom push are not
    available on this route; the report is written to ``report_uri``.

    :param entry_point: ``s3://`` URI of ``pii_masking_job.py``.
    :param py_files: ``s3://`` URI of the ``--py-files`` zip (``build_py_files_zip``).
    :param policy: the policy (dict, YAML/JSON text or
        :class:`~airflow_provider_lakeops.spark_apps.pii_policy.PiiPolicy`).
    :param key_secret_id: Secrets Manager secret id or ARN of the HMAC key (required when the
        policy uses ``hmac``).
    :param table_format: ``parquet`` or ``delta`` (adds Delta's SQL extension and catalog; the
        delta-spark jar must be on the application's classpath, e.g. ``spark.jars`` in ``spark_conf``).
    :raises ValueError: bad policy or arguments (raised when the DAG is parsed).
    """
    parsed = pii_policy.parse_policy(policy)
    for name, uri in (("entry_point", entry_point), ("py_files", py_files)):
        if not str(uri).startswith("s3://"):
            raise ValueError(f"{name} must be an s3:// URI that EMR Serverless can read, got {uri!r}")
    if parsed.uses_hmac and not key_secret_id:
        raise ValueError("the policy uses 'hmac': give key_secret_id (the Secrets Manager secret of the key)")
    args = pii_job_arguments(
        parsed,
        input_path=input_path,
        output_path=output_path,
        input_format=input_format,
        input_options=input_options,
        partition_by=partition_by,
        derive_columns=derive_columns,
        partition_values=partition_values,
        report_uri=report_uri,
        key_source=f"aws-secretsmanager:{key_secret_id}" if parsed.uses_hmac else None,
        table_format=table_format,
    )
    conf = {
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.session.timeZone": "UTC",
        **(DELTA_SPARK_CONF if validate_table_format(table_format) == "delta" else {}),
        **dict(spark_conf or {}),
    }
    params = " ".join([f"--py-files {py_files}", *(f"--conf {k}={v}" for k, v in conf.items())])
    return {
        "sparkSubmit": {
            "entryPoint": entry_point,
            "entryPointArguments": args,
            "sparkSubmitParameters": params,
        }
    }


# ---------------------------------------------------------------------------- the operator
def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_template(v) for v in value)
    return False


def _dataset_path(path: str) -> str:
    """A folder or file pattern -> the folder that names the dataset (``.../dt=2025-10-31/part-*.jsonl``
    -> ``.../dt=2025-10-31``), matching the name the landing step gives its output."""
    parts = str(path).rstrip("/").split("/")
    while len(parts) > 1 and any(c in parts[-1] for c in "*?[{"):
        parts.pop()
    return "/".join(parts) or "/"


class PiiMaskingOperator(BaseOperator):
    """Mask the PII columns of a dataset by policy with a Spark job and write Parquet or Delta.

    Every column gets a strategy from the policy (``hmac``, ``email``, ``phone``, ``ssn``,
    ``name``, ``ip``, ``redact``, ``truncate_date``, ``keep``), applied as native Spark
    expressions. A leak guard scans a sample of the unmasked output columns for PII patterns
    before anything is written. The output is Parquet or a Delta table (``table_format``), and only
    the partitions this run writes are replaced (a rerun replaces, never duplicates; with Delta in one
    atomic commit, ``replaceWhere`` on ``partition_values``). The run report (rows in/out, strategies,
    leak-guard result, key fingerprint; never a value or the key) is returned, so it goes to XCom.

    The policy is validated before Spark starts. The HMAC key (the password of
    ``hmac_key_conn_id``, at least 32 bytes) is masked in logs and reaches the Spark driver only
    through the environment of the ``spark-submit`` process: it is never in argv, XCom, lineage
    or the report. Because of that the driver must run where ``spark-submit`` runs (client
    deploy mode: ``local[*]``, a standalone master, YARN or Kubernetes in client mode). For EMR
    Serverless use :func:`emr_serverless_job_driver`.

    ``s3://`` locations work the same on AWS and on the local stack's moto: the S3A and Delta settings
    come from the AWS connection ``aws_conn_id``
    (:func:`~airflow_provider_lakeops.utils.lake.spark_lake_settings`); its credentials reach the
    driver through the ``spark-submit`` environment like the key, and the executors through the
    job's Hadoop configuration.

    Built on the official ``SparkSubmitHook`` (apache-spark provider).

    :param input_path: folder or pattern to read, e.g. ``/lake/landing/events/dt={{ ds }}/`` (templated).
    :param output_path: the dataset to write, e.g. ``s3://lake/silver/events`` (templated).
    :param policy: a dict, YAML/JSON text, or the path of a ``.yaml``/``.yml``/``.json`` policy
        file, relative to the DAG file's folder or absolute (templated).
    :param input_format: ``parquet``, ``json`` (JSON lines) or ``csv`` (templated).
    :param input_options: Spark reader options, e.g. ``{"header": "true"}`` (templated).
    :param partition_by: output partition column(s) (templated).
    :param partition_values: constant columns added after masking, e.g. ``{"dt": "{{ ds }}"}``: the
        run's own partition, so a rerun replaces exactly what the run wrote (templated).
    :param derive_columns: new column -> existing output column to copy, applied after masking,
        e.g. ``{"dt": "event_date"}`` (templated). With dynamic overwrite, a partition derived from
        the data is *replaced* by whatever rows of this run fall into it (late events included):
        prefer ``partition_values`` when one run writes one partition.
    :param report_uri: also write the run report to this Hadoop FS URI or path (templated).
    :param table_format: ``parquet`` (default) or ``delta`` (templated). A Delta output must be a
        Delta table partitioned by ``partition_by`` (or not exist yet); a Parquet output must not be
        a Delta table: anything else fails before anything is written.
    :param aws_conn_id: the Airflow AWS connection of ``s3://`` locations (endpoint, region,
        credentials).
    :param lake_jars: ``spark.jars`` for S3A and Delta (list or comma-separated); default
        ``$LAKEOPS_SPARK_LAKE_JARS``; ``""`` when the cluster has them (templated).
    :param spark_conn_id: the Spark connection naming the master; ``None`` runs on ``local[*]``.
    :param hmac_key_conn_id: the connection whose password is the HMAC key (used only when the
        policy has an ``hmac`` column).
    :param spark_conf: extra Spark configuration (templated); it wins over the lake settings. Never
        put secrets here: it is argv.
    :param driver_memory: e.g. ``2g``.
    :param executor_memory: e.g. ``4g``.
    :param application_name: the Spark application name (default ``lakeops-pii-<dag>-<task>``).
    """

    template_fields: Sequence[str] = (
        "input_path",
        "output_path",
        "policy",
        "input_format",
        "input_options",
        "partition_by",
        "derive_columns",
        "partition_values",
        "report_uri",
        "spark_conf",
        "table_format",
        "lake_jars",
    )
    template_fields_renderers = {
        "policy": "yaml",
        "input_options": "json",
        "spark_conf": "json",
        "derive_columns": "json",
        "partition_values": "json",
    }
    ui_color = "#ffe8d6"

    def __init__(
        self,
        *,
        input_path: str,
        output_path: str,
        policy: Mapping[str, Any] | str,
        input_format: str = "parquet",
        input_options: dict[str, Any] | None = None,
        partition_by: str | list[str] | None = None,
        derive_columns: dict[str, str] | None = None,
        partition_values: dict[str, str] | None = None,
        report_uri: str | None = None,
        spark_conn_id: str | None = None,
        hmac_key_conn_id: str = "lakeops_pii_key",
        spark_conf: dict[str, Any] | None = None,
        driver_memory: str | None = None,
        executor_memory: str | None = None,
        application_name: str | None = None,
        table_format: str = "parquet",
        aws_conn_id: str | None = "aws_default",
        lake_jars: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(policy, (str, Mapping)):
            raise ValueError(f"policy must be a dict, YAML text or a file path, got {type(policy).__name__}")
        if isinstance(policy, Mapping) and not _has_template(policy):
            pii_policy.parse_policy(policy)  # PolicyError is a ValueError naming every problem
        if not _has_template(input_format) and input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {', '.join(INPUT_FORMATS)}, got {input_format!r}")
        if not _has_template(table_format):
            validate_table_format(table_format)
        if not hmac_key_conn_id:
            raise ValueError("hmac_key_conn_id is empty: name the connection that holds the HMAC key")
        self.input_path = input_path
        self.output_path = output_path
        self.policy = policy
        self.input_format = input_format
        self.input_options = input_options or {}
        self.partition_by = partition_by
        self.derive_columns = derive_columns or {}
        self.partition_values = partition_values or {}
        self.report_uri = report_uri
        self.spark_conn_id = spark_conn_id
        self.hmac_key_conn_id = hmac_key_conn_id
        self.spark_conf = spark_conf or {}
        self.driver_memory = driver_memory
        self.executor_memory = executor_memory
        self.application_name = application_name
        self.table_format = table_format
        self.aws_conn_id = aws_conn_id
        self.lake_jars = lake_jars
        self._hook: SparkSubmitHook | None = None
        self._report: dict[str, Any] | None = None

    # ---------------------------------------------------------------- validation
    def _resolve_policy(self) -> pii_policy.PiiPolicy:
        policy = self.policy
        try:
            if (
                isinstance(policy, str)
                and "\n" not in policy
                and policy.strip().endswith((".yaml", ".yml", ".json"))
            ):
                path = Path(policy.strip())
                if not path.is_absolute():
                    fileloc = getattr(self.dag, "fileloc", None) if self.has_dag() else None
                    path = (Path(fileloc).parent if fileloc else Path.cwd()) / path
                return pii_policy.load_policy(str(path))
            return pii_policy.parse_policy(policy)
        except pii_policy.PolicyError as exc:
            raise AirflowFailException(str(exc)) from exc

    def _hmac_key(self) -> str:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
        from airflow.sdk.log import mask_secret

        try:
            conn = BaseHook.get_connection(self.hmac_key_conn_id)
        except AirflowNotFoundException:
            raise AirflowFailException(
                f"the HMAC key connection {self.hmac_key_conn_id!r} does not exist: create a connection "
                "whose password is a random key of at least 32 bytes"
            ) from None
        key = conn.password or ""
        if key:
            mask_secret(key)
        try:
            pii_policy.check_hmac_key(key)
        except pii_policy.HmacKeyError as exc:
            raise AirflowFailException(f"connection {self.hmac_key_conn_id!r}: {exc}") from None
        return key

    def _spark_hook(
        self,
        application_args: list[str],
        py_files: str,
        context: Context,
        lake_conf: Mapping[str, str] | None = None,
    ) -> SparkSubmitHook:
        name = self.application_name or f"lakeops-pii-{context['ti'].dag_id}-{context['ti'].task_id}"
        return spark_submit_hook(
            self.spark_conn_id,
            conf={"spark.sql.session.timeZone": "UTC", **dict(lake_conf or {}), **self.spark_conf},
            py_files=py_files,
            application_args=application_args,
            name=name,
            driver_memory=self.driver_memory,
            executor_memory=self.executor_memory,
            env_secrets="the HMAC key and the AWS credentials reach",
            cluster_hint="or use emr_serverless_job_driver with a Secrets Manager key",
        )

    # ------------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        policy = self._resolve_policy()
        try:
            table_format = validate_table_format(self.table_format)
            partition_by = _as_list(self.partition_by)
            base_args = pii_job_arguments(
                policy,
                input_path=self.input_path,
                output_path=self.output_path,
                input_format=self.input_format,
                input_options=self.input_options,
                partition_by=partition_by,
                derive_columns=self.derive_columns,
                partition_values=self.partition_values,
                report_uri=self.report_uri,
                key_source=f"env:{HMAC_KEY_ENV_VAR}" if policy.uses_hmac else None,
                table_format=table_format,
            )
            lake = lake_settings(
                [self.input_path, self.output_path, self.report_uri],
                table_format=table_format,
                aws_conn_id=self.aws_conn_id,
                jars=self.lake_jars,
            )
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        key = self._hmac_key() if policy.uses_hmac else None
        job = app_path(_JOB_FILE)
        self.log.info(
            "Masking %s (%s) -> %s (%s): %d columns masked (%s), mode %s",
            self.input_path,
            self.input_format,
            self.output_path,
            table_format,
            len(policy.masked_columns),
            ", ".join(f"{c}={s}" for c, s in policy.masked_columns.items()) or "none",
            policy.mode,
        )
        with tempfile.TemporaryDirectory(prefix="lakeops-pii-") as tmp:
            report_file = Path(tmp) / "report.json"
            py_files = build_py_files_zip(tmp)
            self._hook = self._spark_hook(
                [*base_args, "--report", str(report_file)], str(py_files), context, lake.conf
            )
            env = dict(os.environ)
            env.pop(HMAC_KEY_ENV_VAR, None)
            env.update(lake.env)  # AWS credentials: the child's environment only, never argv
            if key is not None:
                env[HMAC_KEY_ENV_VAR] = key
            try:
                self._hook.submit(str(job), env=env)
            except Exception as exc:
                self._raise_job_failure(read_run_report(report_file), exc)
            del env, key
            report = read_run_report(report_file)
        if report is None or report.get("status") != "ok":
            raise AirflowFailException(
                "the PII masking job finished without an ok run "
                f"report (got {report and report.get('status')!r})"
            )
        self._report = report
        self.log.info(
            "Masked %s rows into %s (%s%s, partitions: %s); leak guard %s on %s sampled rows; key %s",
            report["rows_out"],
            self.output_path,
            report.get("table_format", table_format),
            f" version {report['version']}" if report.get("version") is not None else "",
            ", ".join(report["partitions_written"][:10]) or "-",
            report["leak_guard"]["status"],
            report["leak_guard"]["sampled_rows"],
            report.get("key_fingerprint") or "not used",
        )
        self._emit_metrics(context, report)
        return report

    def _raise_job_failure(self, report: dict[str, Any] | None, exc: Exception) -> NoReturn:
        status = (report or {}).get("status")
        if status == "leak_detected":
            guard = report.get("leak_guard", {}) if report else {}
            raise PiiLeakFailure(
                str(report.get("error") if report else ""), findings=guard.get("findings", [])
            ) from exc
        if status in ("policy_error", "key_error", "input_error", "output_error"):
            raise AirflowFailException(
                f"PII masking job: {status}: {report.get('error') if report else ''}"
            ) from exc
        raise exc

    def _emit_metrics(self, context: Context, report: dict[str, Any]) -> None:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(
            self,
            context,
            {
                "rows_in": report["rows_in"],
                "rows_out": report["rows_out"],
                "columns_masked": sum(len(v) for v in report["masked_columns"].values()),
                "partitions_written": report["partitions_written_count"],
                "duration_seconds": report["duration_seconds"],
            },
        )

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.on_kill()

    # ------------------------------------------------------------------- lineage
    def _datasets(self) -> tuple[DatasetName, DatasetName]:
        from airflow_provider_lakeops.lineage.naming import location_dataset

        # the table root (partition folders stripped), as every producer and consumer names it
        return location_dataset(_dataset_path(self.input_path)), location_dataset(
            _dataset_path(self.output_path)
        )

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        source, target = self._datasets()
        return OperatorLineage(inputs=[source.to_openlineage()], outputs=[target.to_openlineage()])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Input and output datasets; the output carries its schema and a column-lineage facet in
        which every masked column's transformation has ``masking: true``."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset

        source, target = self._datasets()
        report = self._report
        if not report:
            return self.get_openlineage_facets_on_start()
        fields = {}
        for column, info in report["columns"].items():
            if info.get("source") is None:  # a constant column has no input field
                continue
            strategy = info["strategy"]
            masking = strategy not in ("keep", "passthrough")
            transformation = column_lineage_dataset.Transformation(
                type="DIRECT",
                subtype="TRANSFORMATION" if masking else "IDENTITY",
                description=f"lakeops PII {strategy}" if masking else "copied unchanged",
                masking=masking,
            )
            fields[column] = column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=source.namespace,
                        name=source.name,
                        field=info["source"],
                        transformations=[transformation],
                    )
                ],
                transformationType="MASKED" if masking else "IDENTITY",
                transformationDescription=transformation.description,
            )
        schema = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"])
                for f in report["schema"]
            ]
        )
        output = target.to_openlineage(
            {
                "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields),
                "schema": schema,
            }
        )
        return OperatorLineage(inputs=[source.to_openlineage()], outputs=[output])


def lake_settings(
    paths: Sequence[str | None],
    *,
    table_format: str,
    aws_conn_id: str | None,
    jars: str | Sequence[str] | None,
) -> SparkLakeSettings:
    """:func:`~airflow_provider_lakeops.utils.lake.spark_lake_settings` of a job, with its secrets
    masked in the task log.

    :raises ValueError: bad table format or missing jars.
    :raises AirflowFailException: the AWS connection cannot be read.
    """
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        settings = spark_lake_settings(
            paths=[p for p in paths if p], table_format=table_format, aws_conn_id=aws_conn_id, jars=jars
        )
    except AirflowNotFoundException:
        raise AirflowFailException(f"the AWS connection {aws_conn_id!r} does not exist") from None
    for name, value in settings.env.items():
        if name != "AWS_ACCESS_KEY_ID":
            mask_secret(value)
    return settings


def spark_submit_hook(
    spark_conn_id: str | None,
    *,
    env_secrets: str = "the AWS credentials reach",
    cluster_hint: str = "",
    **kwargs: Any,
) -> SparkSubmitHook:
    """The official ``SparkSubmitHook`` of a lakeops Spark app: ``local[*]`` without a connection,
    else the connection's master in client deploy mode.

    :param spark_conn_id: the Spark connection; ``None`` runs on ``local[*]`` (no connection needed).
    :param env_secrets: what travels in the ``spark-submit`` environment (for the error message).
    :param cluster_hint: an alternative named in the cluster-mode error.
    :param kwargs: passed to ``SparkSubmitHook`` (``conf``, ``py_files``, ``application_args``, ...).
    :raises AirflowFailException: the connection does not exist or uses deploy-mode cluster.
    """
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    kwargs["conf"] = {k: str(v) for k, v in dict(kwargs.get("conf") or {}).items()}
    if spark_conn_id is None:
        return _local_spark_submit_hook(**kwargs)
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = SparkSubmitHook.get_connection(spark_conn_id)
    except AirflowNotFoundException:
        raise AirflowFailException(
            f"the Spark connection {spark_conn_id!r} does not exist (spark_conn_id=None runs on "
            f"{LOCAL_MASTER})"
        ) from None
    if (conn.extra_dejson or {}).get("deploy-mode") == "cluster":
        raise AirflowFailException(
            f"Spark connection {spark_conn_id!r} uses deploy-mode cluster: {env_secrets} "
            "the driver through the spark-submit environment, so the driver must run in client mode"
            + (f" ({cluster_hint})" if cluster_hint else "")
        )
    return SparkSubmitHook(conn_id=spark_conn_id, **kwargs)


def read_run_report(path: Path) -> dict[str, Any] | None:
    """The JSON run report a lakeops Spark app wrote to ``path`` (``None``: missing or unreadable)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _local_spark_submit_hook(**kwargs: Any) -> SparkSubmitHook:
    """A ``SparkSubmitHook`` whose master is ``local[*]``, without any Airflow connection."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
    from airflow.sdk import Connection

    class LocalSparkSubmitHook(SparkSubmitHook):
        @classmethod
        def get_connection(cls, conn_id: str) -> Connection:
            return Connection(
                conn_id=conn_id,
                conn_type="spark",
                host=LOCAL_MASTER,
                extra=json.dumps({"deploy-mode": "client"}),
            )

    return LocalSparkSubmitHook(conn_id="lakeops_spark_local", **kwargs)
