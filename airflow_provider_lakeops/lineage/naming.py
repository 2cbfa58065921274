"""Dataset namespaces and names that follow the OpenLineage naming spec.

See https://openlineage.io/docs/spec/naming. Each helper returns a :class:`DatasetName`
(namespace, name); :meth:`DatasetName.to_openlineage` builds the client's ``Dataset`` lazily, so
this module imports nothing heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from openlineage.client.event_v2 import Dataset

__all__ = [
    "DatasetName",
    "file_dataset",
    "glue_dataset",
    "kafka_dataset",
    "location_dataset",
    "mysql_dataset",
    "postgres_dataset",
    "s3_dataset",
    "snowflake_dataset",
    "symlinks_facet",
    "table_root",
]


@dataclass(frozen=True)
class DatasetName:
    """An OpenLineage dataset identity."""

    namespace: str
    name: str

    def to_openlineage(self, facets: dict[str, Any] | None = None) -> Dataset:
        """Return an ``openlineage.client.event_v2.Dataset`` with optional facets."""
        from openlineage.client.event_v2 import Dataset

        return Dataset(namespace=self.namespace, name=self.name, facets=facets or {})

    @property
    def uri(self) -> str:
        return f"{self.namespace}/{self.name.lstrip('/')}" if "://" in self.namespace else self.name


def s3_dataset(uri: str) -> DatasetName:
    """``s3://bucket/key`` -> namespace ``s3://bucket``, name ``key`` (no leading or trailing slash)."""
    parsed = urlparse(uri)
    if parsed.scheme not in {"s3", "s3a", "s3n"} or not parsed.netloc:
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    key = parsed.path.strip("/")
    return DatasetName(f"s3://{parsed.netloc}", key or "/")


def file_dataset(path: str, host: str = "") -> DatasetName:
    """A local file or folder -> namespace ``file`` (or ``file://host``), name = absolute path."""
    if path.startswith("file://"):
        parsed = urlparse(path)
        host = host or parsed.netloc
        path = parsed.path
    absolute = str(PurePosixPath(path))
    if not absolute.startswith("/"):
        from pathlib import Path

        absolute = str(Path(path).resolve())
    absolute = absolute.rstrip("/") or "/"
    return DatasetName(f"file://{host}" if host else "file", absolute)


_PARTITION_SEGMENT = re.compile(r"^[^=/]+=[^/]*$")


def table_root(location: str) -> str:
    """``location`` without its trailing Hive partition folders (``.../table/dt=2025-10-01/`` ->
    ``.../table``): a partition is part of its table, not a dataset of its own."""
    text = location.rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    parts = rest.split("/")
    while len(parts) > 2 and _PARTITION_SEGMENT.match(parts[-1]):
        parts.pop()
    joined = "/".join(parts)
    return f"{scheme}://{joined}" if sep else joined


def location_dataset(location: str) -> DatasetName:
    """The dataset of an S3 URI or a local path: the table a partition folder belongs to (see
    :func:`table_root`), so every task that reads or writes any partition of one table names the
    same dataset. ``s3a://``/``s3n://`` are named ``s3://``."""
    root = table_root(location)
    return s3_dataset(root) if root.startswith(("s3://", "s3a://", "s3n://")) else file_dataset(root)


def symlinks_facet(*names: DatasetName, type_: str = "TABLE") -> dict[str, Any]:
    """A ``symlinks`` dataset facet listing other names of one dataset (e.g. its Glue table)."""
    from openlineage.client.facet_v2 import symlinks_dataset

    identifiers = [symlinks_dataset.Identifier(namespace=n.namespace, name=n.name, type=type_) for n in names]
    return {"symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=identifiers)}


def _snowflake_account(account: str, region: str | None = None) -> str:
    """Normalise a Snowflake account identifier the way the OpenLineage spec asks.

    ``org-account`` stays as it is (lower-cased); a legacy locator gets its region appended
    when given (``xy12345.us-east-1``), as the Snowflake provider's own lineage does.
    """
    account = account.strip().lower()
    if not account:
        raise ValueError("a Snowflake account identifier is required for lineage")
    if region and "." not in account and "-" not in account:
        account = f"{account}.{region.lower()}"
    return account


def snowflake_dataset(
    account: str, database: str, schema: str, table: str, region: str | None = None
) -> DatasetName:
    """namespace ``snowflake://{org-account}``, name ``{database}.{schema}.{table}``."""
    parts = [p for p in (database, schema, table) if not p]
    if parts:
        raise ValueError("database, schema and table are all required for a Snowflake dataset name")
    return DatasetName(f"snowflake://{_snowflake_account(account, region)}", f"{database}.{schema}.{table}")


def kafka_dataset(bootstrap_servers: str, topic: str) -> DatasetName:
    """namespace ``kafka://{first bootstrap host:port}``, name = topic."""
    first = bootstrap_servers.split(",")[0].strip()
    first = re.sub(r"^[A-Za-z_]+://", "", first)  # PLAINTEXT://host:9092 -> host:9092
    if not first or not topic:
        raise ValueError("a bootstrap server and a topic are required for a Kafka dataset name")
    return DatasetName(f"kafka://{first}", topic)


def mysql_dataset(host: str, port: int | str | None, database: str, table: str) -> DatasetName:
    """namespace ``mysql://{host}:{port}``, name ``{database}.{table}``."""
    if not host or not database or not table:
        raise ValueError("host, database and table are required for a MySQL dataset name")
    return DatasetName(f"mysql://{host}:{port or 3306}", f"{database}.{table}")


def postgres_dataset(
    host: str, port: int | str | None, database: str, schema: str, table: str
) -> DatasetName:
    """namespace ``postgres://{host}:{port}``, name ``{database}.{schema}.{table}``."""
    if not host or not database or not schema or not table:
        raise ValueError("host, database, schema and table are required for a PostgreSQL dataset name")
    return DatasetName(f"postgres://{host}:{port or 5432}", f"{database}.{schema}.{table}")


def glue_dataset(region: str, account_id: str, database: str, table: str) -> DatasetName:
    """namespace ``arn:aws:glue:{region}:{account}``, name ``table/{database}/{table}``."""
    if not region or not account_id or not database or not table:
        raise ValueError("region, account id, database and table are required for a Glue dataset name")
    return DatasetName(f"arn:aws:glue:{region}:{account_id}", f"table/{database}/{table}")
