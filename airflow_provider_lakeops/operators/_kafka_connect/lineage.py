"""OpenLineage datasets of a Debezium deployment: the captured tables in, the Kafka topics out.

Lineage classes are imported inside the function only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["debezium_lineage"]


def debezium_lineage(carry: Mapping[str, Any] | None) -> OperatorLineage:
    """Inputs: the captured tables (``mysql://`` / ``postgres://``); outputs: the Kafka topics written."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_lakeops.lineage.naming import kafka_dataset, mysql_dataset, postgres_dataset

    if not carry:
        return OperatorLineage()
    inputs, outputs = [], []
    host, port = str(carry.get("db_host") or ""), carry.get("db_port")
    for table in carry.get("tables", []) if host else []:
        first, _, rest = table.partition(".")
        if carry.get("source") == "postgres" and carry.get("db_name"):
            inputs.append(postgres_dataset(host, port, carry["db_name"], first, rest).to_openlineage())
        elif carry.get("source") == "mysql":
            inputs.append(mysql_dataset(host, port, first, rest).to_openlineage())
    if carry.get("bootstrap"):
        topics = carry.get("topics") or carry.get("computed_topics") or []
        outputs = [kafka_dataset(carry["bootstrap"], topic).to_openlineage() for topic in topics]
    return OperatorLineage(inputs=inputs, outputs=outputs)
