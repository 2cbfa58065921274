"""Register a table in the AWS Glue Data Catalog from the data itself, and evolve it safely.

The amazon provider's ``GlueCatalogCreate*`` operators only create or skip, and crawlers are slow
and guess types. :class:`GlueRegisterTableOperator` reads the schema from the table's own metadata
(a Delta log, an Iceberg metadata file) or from the files (Parquet footers, or a sample of CSV /
JSON lines), creates or updates the table under an evolution policy, never writes a new table
version when nothing changed, and registers the hive partitions of file tables in batches of 100
(or sets up Athena partition projection instead). Delta tables are registered in the native form
Athena, Spark and Trino read through the log; Iceberg tables the way PyIceberg's Glue catalog does.

Underneath: lakeops' ``LakeopsGlueCatalogHook`` (the amazon provider's ``GlueCatalogHook`` with
create-or-update and batched partitions) and ``S3Hook`` (S3) on the
``aws_default`` connection, with botocore's ``standard`` retry mode unless the connection says
otherwise.

.. seealso:: ``docs/operators/glue.md``
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_lakeops.operators._glue.schema import (
    Column,
    Evolution,
    arrow_schema_to_columns,
    columns_from_glue,
    evolve,
    format_diff,
    merge_file_schemas,
)
from airflow_provider_lakeops.operators._glue.spec import (
    RegistrationSpec,
    check_open_table_spec,
    retry_config,
    validate_spec,
)
from airflow_provider_lakeops.operators._glue.storage import (
    DataFile,
    Location,
    PartitionLayout,
    discover_partitions,
    list_files,
    read_schemas,
    sample_files,
    sync_to_s3,
)
from airflow_provider_lakeops.operators._glue.table_formats import (
    DELTA,
    HIVE,
    ICEBERG,
    TABLE_TYPES,
    detect_table_format,
)

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_lakeops.hooks.glue_catalog import LakeopsGlueCatalogHook

__all__ = ["GlueRegisterTableOperator"]

_POLICIES = ("additive", "strict", "replace")
_PARTITION_MODES = ("register", "projection")


@dataclass
class _Plan:
    """What one run of :class:`GlueRegisterTableOperator` will write, decided before any write."""

    name: str
    existing: dict[str, Any] | None
    remote: list[DataFile]
    layout: Any
    keys: list[Column]
    params: dict[str, str]
    evolution: Evolution = field(default_factory=lambda: Evolution([], [], []))
    desired: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    table_format: str = HIVE
    fmt: str = "parquet"
    source: dict[str, Any] = field(default_factory=dict)


class GlueRegisterTableOperator(BaseOperator):
    """Create or evolve a Glue table from the data at ``location`` and register its partitions.

    ``location`` holds a Delta table (``_delta_log/``), an Iceberg table (``metadata/*.metadata.json``)
    or data files (Parquet, CSV, JSON lines in hive partition folders). A Delta table is registered
    natively from its log (``table_type=DELTA``, ``spark.sql.sources.provider=delta``, columns and
    partition keys from the log, no Glue partitions); an Iceberg table is registered at its newest
    metadata file (``table_type=ICEBERG``, ``metadata_location``), and moved to a newer one on rerun.

    Idempotent: a rerun over the same data makes no write at all (no ``UpdateTable``, so the
    table version does not move, and only missing partitions are created).

    :param database: Glue database; created when missing (templated).
    :param table: Glue table name: lowercase letters, digits, underscores (templated).
    :param location: ``s3://bucket/prefix/`` or, on the local stack, a local folder (templated).
    :param table_format: ``None`` (default: detect from the location, or keep the registered table's
        format), ``delta``, ``iceberg`` or ``hive`` (data files in ``file_format``). A Delta or Iceberg
        table whose log or metadata is missing fails, before any write (templated).
    :param file_format: for data files: ``parquet`` (default), ``csv`` (with a header line) or
        ``json`` (JSON lines) (templated).
    :param columns: explicit schema instead of inference: ``[{"name": ..., "type": ..., "comment": ...}]``
        or ``{name: type}`` (templated).
    :param type_overrides: ``{column: glue type}`` applied to the inferred schema, e.g. for
        all-null columns or ISO timestamps in text files (templated).
    :param partition_keys: partition keys, as names (type ``string``) or ``{"name", "type"}`` dicts;
        default: the ``key=value`` folders found, typed as the existing table has them (templated).
    :param partition_mode: ``register`` (``BatchCreatePartition`` for missing partitions) or
        ``projection`` (Athena partition projection parameters, no partitions registered).
    :param projection: per-key projection settings, e.g. ``{"dt": {"type": "date", "range":
        "2025-01-01,NOW", "format": "yyyy-MM-dd"}}``; date keys are inferred when left out (templated).
    :param evolution_policy: ``additive`` (new columns appended, anything else fails), ``strict``
        (any schema difference fails) or ``replace`` (the new schema is taken as it is).
    :param description: table description (templated); ``None`` leaves the catalog's as it is.
    :param table_parameters: extra table parameters, e.g. ``{"owner_team": "growth"}`` (templated).
    :param skip_archive: ``UpdateTable(SkipArchive=True)``: do not keep the previous version.
    :param source_path: only if you need to stage local files for your own reasons: a local folder
        uploaded to the S3 ``location`` first; only missing or changed files are uploaded, nothing is
        deleted, and the files are validated before upload. Data files only (templated).
    :param require_data: fail when the location holds no data files (default); with ``False`` an
        empty location is allowed when ``columns`` are given.
    :param max_schema_files: read the schema of at most this many files, spread over the
        location (``None``: every file).
    :param csv_delimiter: the CSV field delimiter.
    :param aws_conn_id: the AWS connection (the amazon provider's ``aws`` type).
    :param region_name: AWS region; default: the connection's.
    :param botocore_config: botocore ``Config`` options merged over the connection's.
    :param aws_account_id: account id for the lineage dataset name; default: STS ``GetCallerIdentity``
        (templated).
    :return: ``{action, changed, table_type, table_format, table_version, columns_added,
        partitions_added, schema_diff, ...}`` (XCom).
    :raises ValueError: bad names, types, format, location, conflicting file schemas, an unreadable
        Delta log or Iceberg metadata (before any write).
    :raises FileNotFoundError: the location does not exist or holds no data files; a Delta/Iceberg
        table without its log/metadata.
    :raises SchemaEvolutionError: the change is not allowed by ``evolution_policy`` (``diff`` attached).
    :raises PartitionRegistrationError: some partitions failed (the others are registered).

    .. seealso:: ``docs/operators/glue.md``
    """

    template_fields: Sequence[str] = (
        "database",
        "table",
        "location",
        "table_format",
        "file_format",
        "columns",
        "type_overrides",
        "partition_keys",
        "projection",
        "description",
        "table_parameters",
        "source_path",
        "aws_account_id",
    )
    template_fields_renderers = {
        "columns": "json",
        "type_overrides": "json",
        "partition_keys": "json",
        "projection": "json",
        "table_parameters": "json",
    }
    ui_color = "#f5d7a1"

    def __init__(
        self,
        *,
        database: str,
        table: str,
        location: str,
        table_format: str | None = None,
        file_format: str = "parquet",
        columns: list[dict[str, Any]] | dict[str, str] | None = None,
        type_overrides: dict[str, str] | None = None,
        partition_keys: list[str | dict[str, Any]] | None = None,
        partition_mode: str = "register",
        projection: dict[str, dict[str, Any]] | None = None,
        evolution_policy: str = "additive",
        description: str | None = None,
        table_parameters: dict[str, Any] | None = None,
        skip_archive: bool = False,
        source_path: str | None = None,
        require_data: bool = True,
        max_schema_files: int | None = 100,
        csv_delimiter: str = ",",
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        botocore_config: dict[str, Any] | None = None,
        aws_account_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if evolution_policy not in _POLICIES:
            raise ValueError(f"evolution_policy must be one of {_POLICIES}, got {evolution_policy!r}")
        if partition_mode not in _PARTITION_MODES:
            raise ValueError(f"partition_mode must be one of {_PARTITION_MODES}, got {partition_mode!r}")
        if max_schema_files is not None and max_schema_files < 1:
            raise ValueError(f"max_schema_files must be >= 1 or None, got {max_schema_files!r}")
        if len(csv_delimiter) != 1:
            raise ValueError(f"csv_delimiter must be one character, got {csv_delimiter!r}")
        if columns is not None and type_overrides:
            raise ValueError("type_overrides applies to inferred schemas; put the types in columns instead")
        if projection and partition_mode != "projection":
            raise ValueError("projection settings need partition_mode='projection'")
        self.database = database
        self.table = table
        self.location = location
        self.table_format = table_format
        self.file_format = file_format
        self.columns = columns
        self.type_overrides = type_overrides
        self.partition_keys = partition_keys
        self.partition_mode = partition_mode
        self.projection = projection
        self.evolution_policy = evolution_policy
        self.description = description
        self.table_parameters = table_parameters
        self.skip_archive = skip_archive
        self.source_path = source_path
        self.require_data = require_data
        self.max_schema_files = max_schema_files
        self.csv_delimiter = csv_delimiter
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.botocore_config = botocore_config
        self.aws_account_id = aws_account_id
        self._api_calls: Counter[str] = Counter()
        self._lineage: dict[str, Any] | None = None

    # ------------------------------------------------------------------ hooks
    @cached_property
    def hook(self) -> LakeopsGlueCatalogHook:
        """lakeops' Glue catalog hook (a ``GlueCatalogHook``), with ``standard`` retries; API calls
        counted."""
        from airflow_provider_lakeops.hooks.glue_catalog import LakeopsGlueCatalogHook

        probe = LakeopsGlueCatalogHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        config = retry_config(probe.conn_config.botocore_config, self.botocore_config)
        hook = LakeopsGlueCatalogHook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=config
        )
        self._counted(hook.conn)
        return hook

    @cached_property
    def glue(self) -> Any:
        """The hook's boto3 Glue client (its calls are counted)."""
        return self.hook.conn

    @cached_property
    def s3(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=self.hook.config)
        return self._counted(hook.conn)

    def _counted(self, client: Any) -> Any:
        def count(model: Any, **_: Any) -> None:
            self._api_calls[f"{model.service_model.service_name}:{model.name}"] += 1

        client.meta.events.register("before-call", count)
        return client

    # ------------------------------------------------------------- validation
    def _validated(self) -> RegistrationSpec:
        spec = validate_spec(
            database=self.database,
            table=self.table,
            location=self.location,
            file_format=self.file_format,
            columns=self.columns,
            type_overrides=self.type_overrides,
            partition_keys=self.partition_keys,
            projection=self.projection,
            description=self.description,
            table_parameters=self.table_parameters,
            source_path=self.source_path,
            table_format=self.table_format,
        )
        if spec.table_format in (DELTA, ICEBERG):
            check_open_table_spec(spec, spec.table_format, partition_mode=self.partition_mode)
        return spec

    def _infer_columns(
        self, spec: RegistrationSpec, entries: Sequence[tuple[Location, DataFile]]
    ) -> list[Column]:
        picked = sample_files(entries, self.max_schema_files)
        text = spec.fmt != "parquet"
        per_file = [
            (
                where,
                arrow_schema_to_columns(
                    schema, source=where, text_format=text, type_overrides=spec.type_overrides
                ),
            )
            for where, schema in read_schemas(
                picked,
                spec.fmt,
                self.s3 if spec.location.is_s3 else None,
                options={"delimiter": self.csv_delimiter},
            )
        ]
        if spec.fmt == "csv":
            headers = {tuple(c.name for c in cols): where for where, cols in per_file}
            if len(headers) > 1:
                shown = "\n".join(f"  {', '.join(h)}  (e.g. {w})" for h, w in headers.items())
                raise ValueError(
                    f"CSV files in one location have different headers (CSV is positional):\n{shown}"
                )
        self.log.info("Read the schema of %s of %s file(s)", len(picked), len(entries))
        unused = set(spec.type_overrides) - {c.name for _, cols in per_file for c in cols}
        if unused:
            self.log.warning("type_overrides name columns not in the data: %s", sorted(unused))
        return merge_file_schemas(per_file, text_format=text)

    # ---------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        spec = self._validated()
        plan = self._plan(spec)  # reads the data and the catalog; nothing is written before this returns
        if spec.source is not None:
            synced = sync_to_s3(spec.source, spec.location, self.s3, plan.remote)
            self.log.info(
                "Staged %s file(s) from %s to %s (%s unchanged)",
                len(synced.uploaded),
                spec.source.uri,
                spec.location.uri,
                synced.unchanged,
            )
        action, current = self._write_table(spec, plan)
        if plan.table_format == ICEBERG:
            self._check_iceberg_readable(spec, plan)
        version = str(current.get("VersionId", ""))
        self.log.info(
            "Glue table %s %s (version %s; columns added: %s)",
            plan.name,
            action,
            version,
            plan.evolution.columns_added or "none",
        )
        report, missing = self._register_partitions(spec, plan, current)
        self._remember_lineage(spec, plan, current)
        return self._finish(context, plan, action, version, report, missing, started)

    def _plan(self, spec: RegistrationSpec) -> _Plan:
        """Everything the run will write, decided from the files and the current table."""
        from airflow_provider_lakeops.operators._glue import catalog

        name = f"{spec.database}.{spec.table}"
        existing = self._get_table(spec)
        kind = detect_table_format(
            spec.location, self.s3 if spec.location.is_s3 else None, spec.table_format, existing
        )
        if kind != HIVE:
            check_open_table_spec(spec, kind, partition_mode=self.partition_mode)
            return self._plan_open_table(spec, kind, existing)
        remote = list_files(spec.location, self.s3 if spec.location.is_s3 else None)
        entries = {f.relative: (spec.location, f) for f in remote}
        if spec.source is not None:
            entries.update({f.relative: (spec.source, f) for f in list_files(spec.source)})
        ordered = [entries[k] for k in sorted(entries)]
        if not ordered and (self.require_data or spec.columns is None):
            raise FileNotFoundError(
                f"no data files under {spec.location.uri}"
                + (f" or {spec.source.uri}" if spec.source else "")
                + "; write the data first (hidden _*/.* files are ignored)"
            )
        layout = discover_partitions([f for _, f in ordered], spec.location)
        keys = self._partition_keys(spec, layout.keys, existing)
        catalog.validate_partition_values(keys, layout.partitions)
        columns = self._data_columns(spec, ordered, keys, name)
        params = dict(spec.parameters)
        if self.partition_mode == "projection":
            params = {
                **catalog.projection_parameters(spec.location.uri, keys, layout.partitions, spec.projection),
                **params,
            }
        plan = _Plan(
            name=name, existing=existing, remote=remote, layout=layout, keys=keys, params=params, fmt=spec.fmt
        )
        if existing is None:
            plan.evolution = Evolution(list(columns), [c.name for c in columns], [])
            plan.desired = self._table_input(spec, plan, columns)
            return plan
        catalog.check_partition_keys(existing, keys, name)
        plan.evolution = evolve(
            columns_from_glue(existing.get("StorageDescriptor", {}).get("Columns", [])),
            columns,
            policy=self.evolution_policy,  # type: ignore[arg-type]  # checked in __init__
            positional=catalog.FORMATS[spec.fmt]["positional"],
            table=name,
        )
        plan.desired = self._table_input(spec, plan, plan.evolution.columns)
        plan.update, plan.changes = catalog.plan_update(
            existing,
            plan.desired,
            columns_changed=plan.evolution.changed,
            policy=self.evolution_policy,
            name=name,
        )
        if plan.update is not None:
            self.log.info("Updating %s:\n%s", name, format_diff(plan.evolution.diff + plan.changes))
        return plan

    def _plan_open_table(self, spec: RegistrationSpec, kind: str, existing: dict[str, Any] | None) -> _Plan:
        """The plan for a Delta or Iceberg table: schema (and Delta partition columns) from its own
        metadata, the evolution policy over the registered columns, no Glue partitions."""
        from airflow_provider_lakeops.operators._glue import catalog, table_formats

        snapshot: Any
        if kind == DELTA:
            snapshot = table_formats.read_delta(spec.location, self._lake_properties(spec, DELTA))
            keys, columns = list(snapshot.partition_keys), list(snapshot.columns)
            source: dict[str, Any] = {"delta_version": snapshot.version}
            self.log.info("Delta log of %s: version %s", spec.location.uri, snapshot.version)
        else:
            snapshot = self._iceberg_snapshot(spec, existing)
            keys, columns = [], list(snapshot.columns)
            source = {"metadata_location": snapshot.metadata_location}
            self.log.info("Iceberg metadata of %s: %s", spec.location.uri, snapshot.metadata_location)
        if not columns:
            raise ValueError(
                f"{spec.name}: the {kind} table has no data columns besides its partition columns"
            )
        plan = _Plan(
            name=spec.name,
            existing=existing,
            remote=[],
            layout=PartitionLayout(),
            keys=keys,
            params=dict(spec.parameters),
            table_format=kind,
            fmt=kind,
            source=source,
        )

        def table_input(cols: Sequence[Column]) -> dict[str, Any]:
            if kind == DELTA:
                return table_formats.delta_table_input(
                    name=spec.table,
                    location=spec.location.uri,
                    columns=cols,
                    partition_keys=keys,
                    parameters=plan.params,
                    description=spec.description,
                )
            return table_formats.iceberg_table_input(
                name=spec.table,
                snapshot=snapshot,
                columns=cols,
                existing=existing,
                parameters=plan.params,
                description=spec.description,
            )

        if existing is None:
            plan.evolution = Evolution(list(columns), [c.name for c in columns], [])
            plan.desired = table_input(columns)
            return plan
        # another format or location is refused first (clearer than a partition-key or column diff)
        catalog.plan_update(
            existing,
            table_input(columns),
            columns_changed=False,
            policy=self.evolution_policy,
            name=spec.name,
        )
        catalog.check_partition_keys(existing, keys, spec.name)
        registered = [  # PyIceberg also lists columns of older schemas, marked not current
            c
            for c in existing.get("StorageDescriptor", {}).get("Columns", [])
            if (c.get("Parameters") or {}).get("iceberg.field.current") != "false"
        ]
        plan.evolution = evolve(
            columns_from_glue(registered),
            columns,
            policy=self.evolution_policy,  # type: ignore[arg-type]  # checked in __init__
            positional=False,
            table=spec.name,
        )
        plan.desired = table_input(plan.evolution.columns)
        plan.update, plan.changes = catalog.plan_update(
            existing,
            plan.desired,
            columns_changed=plan.evolution.changed,
            policy=self.evolution_policy,
            name=spec.name,
        )
        if plan.update is not None:
            self.log.info("Updating %s:\n%s", spec.name, format_diff(plan.evolution.diff + plan.changes))
        return plan

    def _lake_properties(self, spec: RegistrationSpec, kind: str) -> dict[str, Any]:
        """delta-rs storage options or PyIceberg properties of the connection (secrets: never logged)."""
        from airflow_provider_lakeops.operators._glue import table_formats

        return table_formats.engine_options(kind, self.aws_conn_id, self.region_name, s3=spec.location.is_s3)

    def _iceberg_snapshot(self, spec: RegistrationSpec, existing: Mapping[str, Any] | None) -> Any:
        from airflow_provider_lakeops.operators._glue import table_formats

        return table_formats.iceberg_snapshot(
            spec.location,
            self.s3 if spec.location.is_s3 else None,
            self._lake_properties(spec, ICEBERG),
            existing,
            name=spec.name,
        )

    def _check_iceberg_readable(self, spec: RegistrationSpec, plan: _Plan) -> None:
        from airflow_provider_lakeops.operators._glue import table_formats

        table_formats.check_iceberg_loadable(
            self.glue,
            spec.database,
            spec.table,
            self._lake_properties(spec, ICEBERG),
            expected=plan.source["metadata_location"],
        )

    def _data_columns(
        self,
        spec: RegistrationSpec,
        ordered: list[tuple[Location, DataFile]],
        keys: Sequence[Column],
        name: str,
    ) -> list[Column]:
        """The table's data columns: declared or read from the files, without the partition keys."""
        columns = list(spec.columns) if spec.columns is not None else self._infer_columns(spec, ordered)
        key_names = {k.name for k in keys}
        if key_names & {c.name for c in columns}:
            self.log.info(
                "Columns %s are partition keys: kept as keys only",
                sorted(key_names & {c.name for c in columns}),
            )
            columns = [c for c in columns if c.name not in key_names]
        if not columns:
            raise ValueError(f"{name}: no data columns besides the partition keys")
        return columns

    def _table_input(self, spec: RegistrationSpec, plan: _Plan, columns: Sequence[Column]) -> dict[str, Any]:
        from airflow_provider_lakeops.operators._glue import catalog

        return catalog.build_table_input(
            name=spec.table,
            fmt=spec.fmt,
            location=spec.location.uri,
            columns=columns,
            partition_keys=plan.keys,
            parameters=plan.params,
            description=spec.description,
            csv_delimiter=self.csv_delimiter,
        )

    def _write_table(self, spec: RegistrationSpec, plan: _Plan) -> tuple[str, dict[str, Any]]:
        """Create or update the table when the plan says so; return the action and the table now."""
        action = "unchanged"
        if plan.existing is None or plan.update is not None:
            action = self.hook.create_or_update_table(
                spec.database,
                plan.desired if plan.update is None else plan.update,
                existing=plan.existing,
                skip_archive=self.skip_archive,
                log=self.log,
            )
        current = (
            plan.existing
            if plan.existing is not None and action == "unchanged"
            else self.hook.get_table_or_none(spec.database, spec.table)
        )
        if current is None:
            raise RuntimeError(f"{plan.name} was {action} but GetTable does not find it")
        return action, current

    def _register_partitions(
        self, spec: RegistrationSpec, plan: _Plan, current: Mapping[str, Any]
    ) -> tuple[Any, list[Any]]:
        """Register the partitions the catalog lacks (``partition_mode="register"``)."""
        from airflow_provider_lakeops.operators._glue import catalog

        report = catalog.PartitionReport()
        missing: list[Any] = []
        partitions = plan.layout.partitions
        if not (plan.keys and self.partition_mode == "register" and partitions):
            return report, missing
        registered = (
            set()
            if plan.existing is None
            else catalog.existing_partition_values(self.hook, spec.database, spec.table)
        )
        missing = [v for v in partitions if v not in registered]
        inputs = catalog.partition_inputs(
            current["StorageDescriptor"], spec.location.uri, partitions, missing
        )
        report = catalog.register_partitions(self.hook, spec.database, spec.table, inputs, log=self.log)
        self.log.info(
            "Partitions: %s found, %s registered before, %s added in %s batch(es), %s failed",
            len(partitions),
            len(registered) + report.already_present,
            report.added,
            report.batches,
            len(report.failed),
        )
        return report, missing

    def _finish(
        self,
        context: Context,
        plan: _Plan,
        action: str,
        version: str,
        report: Any,
        missing: list[Any],
        started: float,
    ) -> dict[str, Any]:
        """The XCom, the metrics, and the error when partitions failed."""
        columns_added = plan.evolution.columns_added
        result: dict[str, Any] = {
            "action": action,
            "changed": action != "unchanged" or report.added > 0,
            "table": plan.name,
            "table_type": TABLE_TYPES[plan.table_format],
            "table_format": plan.fmt,
            **plan.source,
            "table_version": version,
            "columns_added": columns_added,
            "partitions_added": report.added,
            "partitions_found": len(plan.layout.partitions),
            "schema_diff": plan.evolution.diff,
            "metadata_changes": plan.changes,
            "api_calls": dict(sorted(self._api_calls.items())),
        }
        self.log.info("API calls: %s", result["api_calls"])
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        emit_operator_metrics(
            self,
            context,
            {
                "partitions_added": report.added,
                "partitions_failed": len(report.failed),
                "columns_added": len(columns_added),
                "glue_api_calls": sum(n for k, n in self._api_calls.items() if k.startswith("glue:")),
                "duration_seconds": time.monotonic() - started,
            },
        )
        if report.failed:
            from airflow_provider_lakeops.exceptions import PartitionRegistrationError

            shown = "\n".join(
                f"  {'/'.join(f['values'])}: {f['code']}: {f['message']}" for f in report.failed[:20]
            )
            raise PartitionRegistrationError(
                f"{len(report.failed)} of {len(missing)} partition(s) of {plan.name} could not be registered "
                f"({report.added} added); a rerun retries only the missing ones:\n{shown}",
                failed=report.failed,
                added=report.added,
            )
        return result

    # ----------------------------------------------------------------- helpers
    def _get_table(self, spec: RegistrationSpec) -> dict[str, Any] | None:
        return self.hook.get_table_or_none(spec.database, spec.table)

    def _partition_keys(
        self, spec: RegistrationSpec, found: tuple[str, ...], existing: Mapping[str, Any] | None
    ) -> list[Column]:
        if spec.partition_keys is not None:
            names = tuple(k.name for k in spec.partition_keys)
            if found and names != found:
                raise ValueError(
                    f"partition_keys {list(names)} do not match the folders under "
                    f"{spec.location.uri}: {list(found)}"
                )
            return list(spec.partition_keys)
        known = {c.name: c.type for c in columns_from_glue((existing or {}).get("PartitionKeys", []))}
        return [Column(k, known.get(k, "string")) for k in found]

    # ----------------------------------------------------------------- lineage
    def _remember_lineage(self, spec: RegistrationSpec, plan: _Plan, table: Mapping[str, Any]) -> None:
        account = self.aws_account_id
        if not account:
            try:
                account = self.hook.account_id
            except Exception as exc:  # lineage must never fail the task
                self.log.warning("No AWS account id for lineage (STS failed: %s); set aws_account_id", exc)
        location = spec.location.uri
        if plan.table_format == ICEBERG:  # the table root its metadata names
            location = str(table.get("StorageDescriptor", {}).get("Location") or location)
        self._lineage = {
            "region": self.hook.conn_region_name,
            "account": account,
            "database": spec.database,
            "table": spec.table,
            "location": location,
            "columns": [
                {k: v for k, v in c.items() if k in ("Name", "Type", "Comment")}
                for c in table.get("StorageDescriptor", {}).get("Columns", [])
                + table.get("PartitionKeys", [])
            ],
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """Input and output: the table's storage location (``s3://bucket`` + the table root, as every
        lakeops writer and reader names it), so the table's producer, this registration and its
        consumers meet at one dataset. The output carries the schema (as registered) and a
        ``symlinks`` facet naming the Glue table (``arn:aws:glue:{region}:{account}``,
        ``table/{db}/{table}``); without an account id or region the symlink is left out."""
        from airflow.providers.common.compat.openlineage.facet import (
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_lakeops.lineage.naming import glue_dataset, location_dataset, symlinks_facet

        state = self._lineage
        if not state:
            return OperatorLineage()
        storage = location_dataset(state["location"])
        schema = SchemaDatasetFacet(
            fields=[
                SchemaDatasetFacetFields(name=c["Name"], type=c["Type"], description=c.get("Comment"))
                for c in state["columns"]
            ]
        )
        facets: dict[str, Any] = {"schema": schema}
        if state["account"] and state["region"]:
            facets.update(
                symlinks_facet(
                    glue_dataset(state["region"], state["account"], state["database"], state["table"])
                )
            )
        return OperatorLineage(inputs=[storage.to_openlineage()], outputs=[storage.to_openlineage(facets)])

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """The same datasets when the table was registered before a partition failure."""
        return self.get_openlineage_facets_on_complete(task_instance)
