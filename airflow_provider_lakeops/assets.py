"""Airflow 3 Assets for what the lakeops pipeline writes, shared by producer and consumer DAGs.

The daily DAG declares these as ``outlets`` and other DAGs use them as ``schedule``: both sides
must build them the same way, so import them from here.

URI rules that Airflow 3.3 applies when an ``Asset`` is built (checked on 3.3.2):

* ``snowflake://`` is normalised by the Snowflake provider: ``snowflake://{account}/{database}/{schema}/{table}``
  (three path segments). ``snowflake://acct/DB.SCHEMA.TABLE`` is **rejected** with ``ValueError``.
* ``s3://`` (amazon provider) needs a bucket, ``file://`` (common-io provider) a path.
* Schemes without a registered handler (``duckdb://``) are accepted as given; ``airflow://`` is reserved.
* Trailing slashes and fragments are dropped, query parameters sorted.

The providers' converters turn ``snowflake://``, ``s3://`` and ``file://`` Assets into OpenLineage
datasets with the same names our operators emit (``snowflake://{account}`` +
``DATABASE.SCHEMA.TABLE``; ``file`` + absolute path), so outlets also draw the right lineage.

Building the first Asset with a URI makes Airflow load every provider's URI handler (the amazon
one imports boto3): that cost falls on the DAG file that builds it, not on importing this module,
which builds its constants on first access (module ``__getattr__``).

The Snowflake account in the URIs is ``$LAKEOPS_SNOWFLAKE_ACCOUNT`` (default ``lakeops``, the local
stack's account).

.. seealso:: ``docs/dbt.md`` (section Assets)
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Asset

__all__ = [
    "CUSTOMER_BEHAVIOR_TABLE",
    "DIM_CUSTOMER",
    "FCT_CUSTOMER_ENGAGEMENT",
    "LAKE_URI",
    "SNOWFLAKE_ACCOUNT_ENV",
    "lake_asset",
    "mart_assets",
    "silver_asset",
    "snowflake_table_asset",
]

LAKE_URI = "s3://lakeops-lake"
SNOWFLAKE_ACCOUNT_ENV = "LAKEOPS_SNOWFLAKE_ACCOUNT"
DEFAULT_SNOWFLAKE_ACCOUNT = "lakeops"
MART_TABLES: tuple[str, ...] = ("dim_customer", "fct_customer_engagement")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def snowflake_table_asset(database: str, schema: str, table: str, *, account: str | None = None) -> Asset:
    """``snowflake://{account}/{DATABASE}/{SCHEMA}/{TABLE}`` (upper-cased, Snowflake's unquoted form).

    :param account: the Snowflake account identifier (default ``$LAKEOPS_SNOWFLAKE_ACCOUNT`` or ``lakeops``).
    :raises ValueError: for an empty or non-identifier part.
    """
    from airflow.sdk import Asset

    acct = (
        account if account is not None else os.environ.get(SNOWFLAKE_ACCOUNT_ENV) or DEFAULT_SNOWFLAKE_ACCOUNT
    )
    if not _ACCOUNT.match(acct):
        raise ValueError(f"account must be a Snowflake account identifier like 'org-account', got {acct!r}")
    for what, value in (("database", database), ("schema", schema), ("table", table)):
        if not value or not _IDENTIFIER.match(value):
            raise ValueError(f"{what} must be an unquoted Snowflake identifier, got {value!r}")
    return Asset(uri=f"snowflake://{acct.lower()}/{database.upper()}/{schema.upper()}/{table.upper()}")


def lake_asset(path: str, *, lake: str | None = None) -> Asset:
    """A folder of the lake: ``s3://bucket/...`` for an S3 lake, ``file:///...`` for a local one.

    :param path: the folder inside the lake, e.g. ``silver/customer_behavior``.
    :param lake: the lake root, an S3 URI or an absolute local path (default ``$LAKEOPS_LAKE_DIR``,
        else ``s3://lakeops-lake``).
    :raises ValueError: for an empty path, ``..`` or a relative local lake.
    """
    from airflow.sdk import Asset

    clean = path.strip("/")
    if not clean or ".." in clean.split("/"):
        raise ValueError(
            f"path must be a folder inside the lake like 'silver/customer_behavior', got {path!r}"
        )
    root = lake if lake is not None else os.environ.get("LAKEOPS_LAKE_DIR") or LAKE_URI
    if root.startswith(("s3://", "file://")):
        return Asset(uri=f"{root.rstrip('/')}/{clean}")
    if not root.startswith("/"):
        raise ValueError(f"lake must be an S3 URI or an absolute path, got {root!r}")
    return Asset(uri=f"file://{root.rstrip('/')}/{clean}")


def silver_asset(lake: str | None = None) -> Asset:
    """The masked silver table (Delta): ``{lake}/silver/customer_behavior`` (see :func:`lake_asset`); an
    S3 lake gives ``s3://bucket/silver/customer_behavior``, the name its lineage datasets have."""
    return lake_asset("silver/customer_behavior", lake=lake)


def mart_assets(target: str | None = None, *, account: str | None = None) -> tuple[Asset, ...]:
    """The dbt marts (``dim_customer``, ``fct_customer_engagement``) of a dbt target.

    ``snowflake``: ``snowflake://{account}/LAKEOPS/ANALYTICS/{TABLE}``; ``local``: the duckdb
    warehouse of the local lake, ``duckdb://lakeops/main/{table}`` (database ``lakeops``, schema
    ``main``). Default target: ``$LAKEOPS_DBT_TARGET`` or ``local``.
    """
    from airflow_provider_lakeops.dbt import resolve_target

    if resolve_target(target) == "snowflake":
        return tuple(snowflake_table_asset("LAKEOPS", "ANALYTICS", t, account=account) for t in MART_TABLES)
    from airflow.sdk import Asset

    return tuple(Asset(uri=f"duckdb://lakeops/main/{t}") for t in MART_TABLES)


@cache
def _build(name: str) -> Any:
    if name == "CUSTOMER_BEHAVIOR_TABLE":
        return snowflake_table_asset("LAKEOPS", "PUBLIC", "CUSTOMER_BEHAVIOR")
    if name == "DIM_CUSTOMER":
        return snowflake_table_asset("LAKEOPS", "ANALYTICS", "DIM_CUSTOMER")
    if name == "FCT_CUSTOMER_ENGAGEMENT":
        return snowflake_table_asset("LAKEOPS", "ANALYTICS", "FCT_CUSTOMER_ENGAGEMENT")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    """Build the shared Snowflake Assets on first access (keeps importing this module cheap)."""
    if name in {"CUSTOMER_BEHAVIOR_TABLE", "DIM_CUSTOMER", "FCT_CUSTOMER_ENGAGEMENT"}:
        return _build(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    CUSTOMER_BEHAVIOR_TABLE: Asset
    DIM_CUSTOMER: Asset
    FCT_CUSTOMER_ENGAGEMENT: Asset
