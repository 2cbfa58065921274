"""OpenLineage facets of :class:`~airflow_provider_lakeops.operators.snowflake.SnowflakeMergeOperator`.

Imported only from ``get_openlineage_facets_on_*`` (the OpenLineage classes load here, never at
DAG parse). Datasets follow the naming spec: ``snowflake://{account}`` + ``DB.SCHEMA.TABLE`` for
tables, ``s3://bucket`` or ``file`` for staged Parquet files and Delta tables (the table's root, with
a ``version`` facet naming the Delta version read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.lineage.naming import DatasetName, location_dataset, snowflake_dataset
from airflow_provider_lakeops.operators._snowflake.identifiers import TableName, data_identifier

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["build_lineage", "query_tables"]


def query_tables(query: str, default_database: str | None, default_schema: str | None) -> list[TableName]:
    """The tables a source query reads, by the OpenLineage SQL parser (empty when it cannot tell)."""
    try:
        from openlineage_sql import parse

        meta = parse([query], dialect="snowflake")
    except Exception:
        return []
    tables = []
    for table in meta.in_tables:
        # the parser drops quotes: a name written "quoted" in the query keeps its case
        parts = [
            p if f'"{p}"' in query else data_identifier(p, "table name")
            for p in (table.database, table.schema, table.name)
            if p
        ]
        filled = [data_identifier(d, "default") if d else None for d in (default_database, default_schema)]
        full = [*filled[: 3 - len(parts)], *parts]
        if len(full) == 3 and all(full):
            tables.append(TableName(*full))  # type: ignore[arg-type]
    return tables


def build_lineage(operator: Any, state: dict[str, Any] | None, *, complete: bool) -> OperatorLineage:
    """Inputs, the output with schema / column lineage / statistics, from what ``execute`` recorded."""
    from airflow.providers.common.compat.openlineage.facet import (
        ColumnLineageDatasetFacet,
        Fields,
        InputField,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    if not state or not state.get("account") or state.get("target") is None:
        return OperatorLineage()

    def table_dataset(table: TableName) -> DatasetName:
        return snowflake_dataset(
            state["account"], table.database, table.schema, table.name, state.get("region")
        )

    plan = state.get("plan")
    originals: dict[str, str] = state.get("parquet_columns") or {}
    source: DatasetName | None = None
    inputs: list[Any] = []
    if operator.source_parquet is not None:
        source = location_dataset(str(operator.source_parquet))
    elif getattr(operator, "source_delta", None) is not None:
        source = location_dataset(str(operator.source_delta))
    elif state.get("source_table") is not None:
        source = table_dataset(state["source_table"])
    elif state.get("query"):
        defaults = state.get("defaults") or {}
        for table in query_tables(
            state["query"], defaults.get("default_database"), defaults.get("default_schema")
        ):
            name = table_dataset(table)
            inputs.append(InputDataset(namespace=name.namespace, name=name.name, facets={}))
    if source is not None:
        facets: dict[str, Any] = {}
        if state.get("delta_version") is not None:
            from openlineage.client.facet_v2 import dataset_version_dataset

            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(state["delta_version"])
            )
        if plan is not None:
            facets["schema"] = SchemaDatasetFacet(
                fields=[
                    SchemaDatasetFacetFields(name=originals.get(name, name), type=sf_type)
                    for name, sf_type in plan.source_types.items()
                ]
            )
        inputs.append(InputDataset(namespace=source.namespace, name=source.name, facets=facets))

    target = table_dataset(state["target"])
    out_facets: dict[str, Any] = {}
    if state.get("target_columns"):
        out_facets["schema"] = SchemaDatasetFacet(
            fields=[
                SchemaDatasetFacetFields(name=name, type=sf_type) for name, sf_type in state["target_columns"]
            ]
        )
    if plan is not None and source is not None:
        out_facets["columnLineage"] = ColumnLineageDatasetFacet(
            fields={
                tgt: Fields(
                    inputFields=[
                        InputField(
                            namespace=source.namespace, name=source.name, field=originals.get(src, src)
                        )
                    ],
                    transformationType="IDENTITY",
                    transformationDescription="identical" if src == tgt else f"renamed from {src}",
                )
                for src, tgt in plan.pairs
            }
        )
    output_facets: dict[str, Any] = {}
    counts = state.get("counts")
    if complete and counts:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=int(counts["inserted"]) + int(counts["updated"])
        )
    output = OutputDataset(
        namespace=target.namespace, name=target.name, facets=out_facets, outputFacets=output_facets
    )
    return OperatorLineage(inputs=inputs, outputs=[output])
