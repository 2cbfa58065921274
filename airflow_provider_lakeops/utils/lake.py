"""How every engine reaches the lake from one Airflow AWS connection: Spark (S3A + Delta), delta-rs
and PyIceberg.

One place decides the settings, so the PII job, the streaming app, the Delta operators, the GX Spark
engine, the MERGE reader and the Glue read-back all agree on the endpoint, the region and the path
style, and on one rule for secrets: **credentials never reach argv**. For ``spark-submit`` they travel
in the process environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``);
the Spark app copies them into its Hadoop configuration
(:func:`airflow_provider_lakeops.spark_apps.lake_session.apply_s3a_credentials`), which Spark ships
to the executors inside the job, so a standalone or YARN cluster reads S3 without any ``--conf`` secret.

``s3://`` is the lake's one name: Spark maps the ``s3`` scheme to S3A
(``spark.hadoop.fs.s3.impl``), so the same URI is a Spark path, a delta-rs path, a Glue location and
an OpenLineage dataset (``s3://bucket`` + key).

Jars: S3A needs ``hadoop-aws`` and the AWS SDK v2 modules it uses, Delta needs ``delta-spark``. They
are passed as ``spark.jars`` from ``jars`` or ``$LAKEOPS_SPARK_LAKE_JARS`` (the local stack sets it to
what ``make jvm-deps`` copied into ``build/jvm/spark-lake/``); ``""`` means the cluster's classpath
already has them (EMR, Databricks). Nothing here imports boto3, pyspark or deltalake at module level.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DELTA_SPARK_CONF",
    "LAKE_JARS_ENV",
    "TABLE_FORMATS",
    "AwsLakeAccess",
    "SparkLakeSettings",
    "aws_lake_access",
    "delta_storage_options",
    "is_s3_uri",
    "lake_jars",
    "pyiceberg_properties",
    "spark_lake_settings",
    "validate_table_format",
]

#: Comma-separated ``spark.jars`` for S3A and Delta, used when an operator's ``lake_jars`` is not given.
LAKE_JARS_ENV = "LAKEOPS_SPARK_LAKE_JARS"
#: The table formats lakeops' Spark jobs write.
TABLE_FORMATS = ("parquet", "delta")
#: Spark properties that turn on Delta Lake (SQL extension + the catalog that knows Delta tables).
DELTA_SPARK_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
_CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def is_s3_uri(value: object) -> bool:
    """Whether ``value`` is an ``s3://``/``s3a://``/``s3n://`` URI."""
    return str(value or "").strip().lower().startswith(("s3://", "s3a://", "s3n://"))


def validate_table_format(value: object, *, argument: str = "table_format") -> str:
    """``value`` lower-cased when it is one of :data:`TABLE_FORMATS`.

    :raises ValueError: any other value, naming the accepted ones.
    """
    text = str(value or "").strip().lower()
    if text not in TABLE_FORMATS:
        raise ValueError(f"{argument} must be one of {', '.join(TABLE_FORMATS)}, got {value!r}")
    return text


def lake_jars(jars: str | Sequence[str] | None, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """The ``spark.jars`` for S3A/Delta: ``jars`` (a list or a comma-separated string), else
    ``$LAKEOPS_SPARK_LAKE_JARS``; ``""`` (or an empty list) means the cluster already has them.

    :raises ValueError: neither is set (the message says how to get the jars).
    """
    env = os.environ if environ is None else environ
    if jars is None:
        if LAKE_JARS_ENV not in env:
            raise ValueError(
                "s3:// and Delta need hadoop-aws, the AWS SDK v2 and delta-spark on Spark's classpath: "
                f"pass lake_jars=[...] (paths or URIs), set ${LAKE_JARS_ENV} (the local stack does: "
                "'make jvm-deps' copies them to build/jvm/spark-lake/), or lake_jars='' when the "
                "cluster already has them"
            )
        jars = env[LAKE_JARS_ENV]
    items = jars.split(",") if isinstance(jars, str) else list(jars)
    return [j.strip() for j in items if j and j.strip()]


@dataclass(frozen=True)
class AwsLakeAccess:
    """What an engine needs to reach S3 through one AWS connection.

    :param region: the region (``None``: the SDK's default chain).
    :param endpoint_url: a custom endpoint (moto, MinIO), ``None`` on AWS.
    :param access_key: the access key id (``None``: let the engine's default chain find one).
    :param secret_key: the secret key. Never logged (``repr`` hides it).
    :param session_token: the session token of temporary credentials.
    """

    region: str | None = None
    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def path_style(self) -> bool:
        """Path-style requests (``http://host/bucket/key``): what moto and MinIO need."""
        return self.endpoint_url is not None

    def credential_env(self) -> dict[str, str]:
        """The credentials as the standard AWS environment variables (for a child process)."""
        values = (self.access_key, self.secret_key, self.session_token)
        return {k: v for k, v in zip(_CREDENTIAL_ENV, values, strict=True) if v}


def aws_lake_access(aws_conn_id: str | None) -> AwsLakeAccess:
    """Read the region, endpoint and (resolved) credentials of an Airflow AWS connection through the
    amazon provider's ``AwsBaseHook``. ``None``: the default chain everywhere (no connection).

    :raises ImportError: the amazon provider is not installed.
    """
    if aws_conn_id is None:
        return AwsLakeAccess()
    try:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "s3:// locations need the amazon provider: pip install 'airflow-provider-lakeops[amazon]'"
        ) from exc
    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="s3")
    config = hook.conn_config
    endpoint = config.get_service_endpoint_url("s3") if hasattr(config, "get_service_endpoint_url") else None
    endpoint = endpoint or config.endpoint_url
    # None when nothing in boto3's chain has credentials: the engines then try their own default chain
    found = hook.get_session(region_name=hook.region_name).get_credentials()
    credentials = found.get_frozen_credentials() if found is not None else None
    return AwsLakeAccess(
        region=hook.region_name or config.region_name,
        endpoint_url=endpoint or None,
        access_key=getattr(credentials, "access_key", None),
        secret_key=getattr(credentials, "secret_key", None),
        session_token=getattr(credentials, "token", None),
    )


@dataclass(frozen=True)
class SparkLakeSettings:
    """Spark properties (safe for argv: no secret) and environment (credentials) for a Spark job.

    :param conf: Spark properties, ``spark.jars`` included when jars are needed.
    :param env: variables for the ``spark-submit`` process (the credentials); never put them in ``conf``.
    """

    conf: dict[str, str]
    env: dict[str, str] = field(repr=False)


def spark_lake_settings(
    *,
    paths: Iterable[object] = (),
    table_format: str = "parquet",
    aws_conn_id: str | None = "aws_default",
    jars: str | Sequence[str] | None = None,
    access: AwsLakeAccess | None = None,
    environ: Mapping[str, str] | None = None,
) -> SparkLakeSettings:
    """The Spark settings of a job that reads or writes ``paths`` in ``table_format``.

    Nothing is added for a local Parquet job. With an ``s3://`` path: the S3A settings (the ``s3``
    scheme mapped to S3A; the connection's endpoint with path-style access and plain HTTP when the
    endpoint is ``http://``; its region) and the credentials in ``env``. With ``delta``: the Delta SQL
    extension and catalog. Either one needs jars (:func:`lake_jars`).

    :param paths: every location the job touches.
    :param table_format: ``parquet`` or ``delta``.
    :param aws_conn_id: the Airflow AWS connection of the lake.
    :param jars: ``spark.jars`` for S3A/Delta; default ``$LAKEOPS_SPARK_LAKE_JARS``.
    :param access: the resolved connection (tests; default read with :func:`aws_lake_access`).
    :raises ValueError: a bad table format or missing jars.
    """
    table_format = validate_table_format(table_format)
    uses_s3 = any(is_s3_uri(p) for p in paths)
    conf: dict[str, str] = {}
    env: dict[str, str] = {}
    if uses_s3:
        access = access if access is not None else aws_lake_access(aws_conn_id)
        conf.update(_s3a_conf(access))
        env.update(access.credential_env())
    if table_format == "delta":
        conf.update(DELTA_SPARK_CONF)
    if uses_s3 or table_format == "delta":
        chosen = lake_jars(jars, environ=environ)
        if chosen:
            conf["spark.jars"] = ",".join(chosen)
    return SparkLakeSettings(conf=conf, env=env)


def _s3a_conf(access: AwsLakeAccess) -> dict[str, str]:
    prefix = "spark.hadoop.fs.s3a."
    conf = {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
    }
    if access.region:
        conf[prefix + "endpoint.region"] = access.region
    if access.endpoint_url:
        conf[prefix + "endpoint"] = access.endpoint_url
        conf[prefix + "path.style.access"] = "true"
        conf[prefix + "connection.ssl.enabled"] = str(access.endpoint_url.startswith("https://")).lower()
    return conf


def delta_storage_options(access: AwsLakeAccess) -> dict[str, str]:
    """delta-rs ``storage_options`` for S3 (region, endpoint, credentials, single-writer renames).

    delta-rs has no S3 locking here: lakeops writes each Delta table from one writer at a time (one
    Airflow task), which is the case ``AWS_S3_ALLOW_UNSAFE_RENAME`` is for.
    """
    options: dict[str, str] = {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    if access.region:
        options["AWS_REGION"] = access.region
    if access.endpoint_url:
        options["AWS_ENDPOINT_URL"] = access.endpoint_url
        options["AWS_ALLOW_HTTP"] = str(access.endpoint_url.startswith("http://")).lower()
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
    options.update(access.credential_env())
    return options


def pyiceberg_properties(access: AwsLakeAccess) -> dict[str, Any]:
    """PyIceberg catalog properties for the Glue catalog and S3 FileIO of one connection."""
    props: dict[str, Any] = {}
    if access.region:
        props["glue.region"] = props["s3.region"] = access.region
    if access.endpoint_url:
        props["glue.endpoint"] = props["s3.endpoint"] = access.endpoint_url
        props["s3.force-virtual-addressing"] = False
    if access.access_key:
        props["glue.access-key-id"] = props["s3.access-key-id"] = access.access_key
    if access.secret_key:
        props["glue.secret-access-key"] = props["s3.secret-access-key"] = access.secret_key
    if access.session_token:
        props["glue.session-token"] = props["s3.session-token"] = access.session_token
    return props
