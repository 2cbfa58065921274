"""Run the lakeops dbt project from Airflow through astronomer-cosmos (cheap to import).

:func:`lakeops_dbt_task_group` returns a Cosmos ``DbtTaskGroup`` wired the way the provider's DAGs
need it:

* ``ExecutionMode.LOCAL`` (dbt in the worker's environment) and ``LoadMode.DBT_MANIFEST`` with the
  manifest that ``python -m airflow_provider_lakeops.dbt parse`` writes (``dbt/target/manifest.json``
  plus ``cosmos_manifest.json``, the same without dbt's macros): parsing the DAG runs no dbt command;
* ``TestBehavior.AFTER_EACH``: every model's tests run right after the model, a failing test fails
  its task and stops everything downstream; ``TestIndirectSelection.BUILDABLE`` runs a test that
  spans several models (``relationships``) after the last of them;
* the profile: the ``local`` target reads ``dbt/profiles.yml`` (dbt-duckdb, a local warehouse file,
  no credentials); the ``snowflake`` target is built by Cosmos'
  ``SnowflakeUserPasswordProfileMapping`` from an Airflow connection, so the password only travels
  as an environment variable of the dbt process, never in a file, argv or the DAG;
* lake sources: on the ``local`` target a source with meta ``plugin: delta`` is read from the lake
  (``s3://...`` or a local folder) through its Delta log by dbt-duckdb's ``delta`` plugin (delta-rs).
  With ``aws_conn_id`` a Cosmos interceptor gives each dbt process the connection's ``AWS_*``
  variables at run time (through ``get_env``, never through the templated ``env``); before a model
  that reads such a source runs, the source's location is rendered with the dbt process' environment,
  checked (an S3 URI or an absolute path) and looked up (a missing Delta table fails the task with
  its path, before dbt builds anything).

Cosmos emits the OpenLineage events of the dbt models (inputs and outputs per model) through the
Airflow OpenLineage listener, so they land in the same event stream as the provider's operators. A
model that reads a lake source also gets the source's lake dataset as an input (``s3://bucket`` +
key, the name every writer of that table uses), so the graph runs from the lake into the marts.

Cosmos is imported inside the functions: importing this module stays cheap (DAG files import
Cosmos themselves when they build the group).

.. seealso:: ``docs/dbt.md``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_lakeops.lineage.naming import DatasetName, location_dataset
from airflow_provider_lakeops.utils.lake import aws_lake_access, delta_storage_options, is_s3_uri

if TYPE_CHECKING:
    from cosmos import DbtTaskGroup, ProfileConfig
    from cosmos.profiles import BaseProfileMapping

__all__ = [
    "DBT_TARGETS",
    "PARSE_COMMAND",
    "PROFILE_NAME",
    "PROJECT_DIR_ENV",
    "TARGET_ENV",
    "LakeSource",
    "lake_sources",
    "lakeops_dbt_task_group",
    "lakeops_profile_config",
    "ensure_manifest",
    "main",
    "manifest_is_stale",
    "record_dbt_results",
    "summarize_run_results",
    "manifest_path",
    "parse_project",
    "write_render_manifest",
    "resolve_project_dir",
    "resolve_target",
]

PROFILE_NAME = "lakeops"
DBT_TARGETS: tuple[str, ...] = ("local", "snowflake")
PROJECT_DIR_ENV = "LAKEOPS_DBT_PROJECT_DIR"
TARGET_ENV = "LAKEOPS_DBT_TARGET"
PARSE_COMMAND = "python -m airflow_provider_lakeops.dbt parse"
RENDER_MANIFEST = "cosmos_manifest.json"
# what Cosmos reads from a manifest; the macros (~85 % of the file) and docs are left out
_RENDER_KEYS = ("metadata", "nodes", "sources", "exposures", "selectors", "parent_map", "child_map")
RESULTS_XCOM_KEY = "dbt_results"
RESULTS_CALLBACK = "airflow_provider_lakeops.dbt.record_dbt_results"
_MAX_NODES = 200
_INVOCATION_MODES = ("dbt_runner", "subprocess")
#: ``meta.plugin`` of the sources dbt-duckdb reads from the lake through delta-rs
DELTA_PLUGIN = "delta"

log = logging.getLogger(__name__)
# the checkout's dbt/ folder (an editable install or running from the repository)
_REPO_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt"


def resolve_project_dir(project_dir: str | os.PathLike[str] | None = None) -> Path:
    """The dbt project folder: ``project_dir``, else ``$LAKEOPS_DBT_PROJECT_DIR``, else the checkout's
    ``dbt/``.

    :raises ValueError: when none of them holds a ``dbt_project.yml``.
    """
    if project_dir is not None:
        source, path = "project_dir", Path(project_dir)
    elif os.environ.get(PROJECT_DIR_ENV):
        source, path = PROJECT_DIR_ENV, Path(os.environ[PROJECT_DIR_ENV])
    else:
        source, path = "the repository's dbt/ folder", _REPO_PROJECT_DIR
    path = path.expanduser().resolve()
    if not (path / "dbt_project.yml").is_file():
        raise ValueError(
            f"no dbt_project.yml in {path} (from {source}): pass project_dir= or set {PROJECT_DIR_ENV} "
            "to the lakeops dbt project folder"
        )
    return path


def resolve_target(target: str | None = None) -> str:
    """``target``, else ``$LAKEOPS_DBT_TARGET``, else ``local``; checked against :data:`DBT_TARGETS`."""
    value = target if target is not None else os.environ.get(TARGET_ENV) or "local"
    if value not in DBT_TARGETS:
        raise ValueError(f"target must be one of {', '.join(DBT_TARGETS)}, got {value!r}")
    return value


def manifest_path(project_dir: str | os.PathLike[str] | None = None) -> Path:
    """The manifest Cosmos renders from: ``target/cosmos_manifest.json`` (the slim copy that
    :func:`parse_project` writes), else dbt's own ``target/manifest.json``."""
    target = resolve_project_dir(project_dir) / "target"
    slim = target / RENDER_MANIFEST
    return slim if slim.is_file() else target / "manifest.json"


@dataclass(frozen=True)
class LakeSource:
    """A dbt source that dbt-duckdb reads from the lake through its ``delta`` plugin.

    :param unique_id: the source's dbt unique id (``source.lakeops.lakeops.customer_behavior``).
    :param name: ``{source_name}.{table}`` (``lakeops.customer_behavior``).
    :param manifest_path: ``meta.delta_table_path`` as the manifest has it (rendered at parse time).
    :param expression: the unrendered ``delta_table_path`` of the source's YAML file, rendered again at
        run time with the dbt process' environment (``None``: not found, the manifest's value is used).
    """

    unique_id: str
    name: str
    manifest_path: str
    expression: str | None = None

    def location(self, environ: Mapping[str, str]) -> str:
        """The location dbt will read, rendered with ``environ``; checked (see :func:`_checked_location`).

        :raises ValueError: a variable the expression needs is missing or empty, or the location is
            neither an S3 URI nor an absolute path.
        """
        what = f"delta_table_path of source {self.name}"
        try:
            value = self.manifest_path if self.expression is None else _render_env(self.expression, environ)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from exc
        return _checked_location(value, what)


def lake_sources(
    project_dir: str | os.PathLike[str] | None = None, *, manifest: Mapping[str, Any] | None = None
) -> dict[str, LakeSource]:
    """The sources of the project's manifest that the ``local`` target reads through the ``delta``
    plugin (meta ``plugin: delta`` and ``delta_table_path``), by unique id. Reads JSON and YAML, runs no dbt.

    :param manifest: the manifest's content (default: read :func:`manifest_path`).
    """
    project = resolve_project_dir(project_dir)
    if manifest is None:
        manifest = json.loads(manifest_path(project).read_text(encoding="utf-8"))
    found: dict[str, LakeSource] = {}
    for unique_id, source in (manifest.get("sources") or {}).items():
        meta = {**(source.get("source_meta") or {}), **(source.get("meta") or {})}
        if meta.get("plugin") != DELTA_PLUGIN or not meta.get("delta_table_path"):
            continue
        found[unique_id] = LakeSource(
            unique_id=unique_id,
            name=f"{source.get('source_name')}.{source.get('name')}",
            manifest_path=str(meta["delta_table_path"]).strip(),
            expression=_raw_delta_path(project, source),
        )
    return found


def _raw_delta_path(project: Path, source: Mapping[str, Any]) -> str | None:
    """The unrendered ``delta_table_path`` of a source, from the YAML file that declares it."""
    import yaml

    try:
        doc = yaml.safe_load((project / str(source.get("original_file_path"))).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    for declared in (doc or {}).get("sources") or []:
        if declared.get("name") != source.get("source_name"):
            continue
        tables = [t for t in declared.get("tables") or [] if t.get("name") == source.get("name")]
        for holder in (*tables, declared):
            for meta in (holder.get("meta"), (holder.get("config") or {}).get("meta")):
                if isinstance(meta, dict) and meta.get("delta_table_path"):
                    return str(meta["delta_table_path"])
    return None


def _render_env(expression: str, environ: Mapping[str, str]) -> str:
    """Render a YAML value that uses dbt's ``env_var(name, default)`` the way dbt will, stricter:
    a variable that is set but empty is an error, not an empty string."""
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    def env_var(name: str, default: str | None = None) -> str:
        value = environ.get(name)
        if value is not None and not value.strip():
            raise ValueError(f"environment variable {name} is set but empty")
        if value is None:
            if default is None:
                raise ValueError(f"environment variable {name} is not set")
            return default
        return value

    try:
        rendered = (
            SandboxedEnvironment(undefined=StrictUndefined).from_string(expression).render(env_var=env_var)
        )
    except TemplateError as exc:
        raise ValueError(
            f"cannot render {expression.strip()!r} outside dbt ({exc}): only env_var() is supported"
        ) from exc
    return rendered.strip()


def _checked_location(value: str, what: str) -> str:
    """``value`` when it is an S3 URI or an absolute local path (``file://`` dropped)."""
    text = value.strip()
    if text.startswith("file://"):
        text = text[len("file://") :]
    if is_s3_uri(text) or (text.startswith("/") and text.rstrip("/")):
        return text
    raise ValueError(
        f"{what} must be an s3:// URI or an absolute path, got {value!r}: dbt runs in a temporary copy "
        "of the project, so a relative path would point into it (set LAKEOPS_SILVER_URI or LAKEOPS_LAKE_URI)"
    )


def _source_datasets(
    given: Mapping[str, str] | None, manifest_sources: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """``source_datasets`` keyed by unique id; a key may be ``{source_name}.{table}``."""
    by_name = {f"{s.get('source_name')}.{s.get('name')}": uid for uid, s in manifest_sources.items()}
    out: dict[str, str] = {}
    for key, uri in (given or {}).items():
        unique_id = key if key in manifest_sources else by_name.get(key)
        if unique_id is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise ValueError(f"source_datasets: no dbt source {key!r} in the manifest (sources: {known})")
        out[unique_id] = _checked_location(str(uri), f"source_datasets[{key!r}]")
        location_dataset(out[unique_id])  # an invalid S3 URI fails here, at parse time
    return out


@dataclass(frozen=True)
class _LakeAccessInterceptor:
    """Cosmos interceptor (``(context, operator)``, run in ``execute`` before the dbt command is built).

    * ``aws_conn_id``: the dbt process gets the connection's ``AWS_*`` variables
      (:func:`~airflow_provider_lakeops.utils.lake.delta_storage_options`), added by the operator's
      ``get_env``: the templated ``env`` never holds them (Cosmos re-sends rendered fields after the
      run), the secrets are masked, and they are kept out of the environment Cosmos copies into
      ``os.environ`` for its OpenLineage processor.
    * a task that builds a model reading a lake source: the source's location is rendered, checked and
      looked up before dbt runs; its lake dataset is added to the task's OpenLineage inputs.
    """

    aws_conn_id: str | None
    sources: Mapping[str, LakeSource] = field(default_factory=dict)
    datasets: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, context: Any, operator: Any) -> None:
        aws_env = self._aws_env()
        if aws_env:
            _add_env(operator, aws_env)
        node = (getattr(operator, "extra_context", None) or {}).get("dbt_node_config") or {}
        reads = [u for u in node.get("depends_on") or () if u in self.sources or u in self.datasets]
        if not reads or list(getattr(operator, "base_cmd", None) or ())[:1] == ["test"]:
            return  # tests read the models, not the lake
        environ = {**os.environ, **operator.get_env(context)}
        names: list[DatasetName] = []
        for unique_id in reads:
            source = self.sources.get(unique_id)
            if source is not None:
                try:
                    location = source.location(environ)
                except ValueError as exc:
                    from airflow_provider_lakeops._compat import AirflowFailException

                    raise AirflowFailException(str(exc)) from exc
                _require_delta_table(source.name, location, aws_env if is_s3_uri(location) else None)
            else:
                location = self.datasets[unique_id]
            names.append(location_dataset(self.datasets.get(unique_id, location)))
        operator.log.info("Lake sources of %s: %s", node.get("unique_id"), ", ".join(n.uri for n in names))
        _add_lineage_inputs(operator, names)

    def _aws_env(self) -> dict[str, str]:
        if self.aws_conn_id is None:
            return {}
        access = aws_lake_access(self.aws_conn_id)
        from airflow.sdk.log import mask_secret

        for secret in (access.secret_key, access.session_token):
            if secret:
                mask_secret(secret)
        return delta_storage_options(access)


def _add_env(operator: Any, extra: Mapping[str, str]) -> None:
    """Give the dbt process ``extra`` without touching the templated ``env``."""
    cls = type(operator)

    def get_env(context: Any) -> dict[str, Any]:
        return {**cls.get_env(operator, context), **extra}

    operator.get_env = get_env
    calculate: Callable[..., Any] | None = getattr(cls, "calculate_openlineage_events_completes", None)
    if calculate is not None:  # Cosmos copies this env into os.environ: leave the AWS_* variables out

        def calculate_without(env: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
            kept = {k: v for k, v in env.items() if k not in extra}
            return calculate(operator, kept, *args, **kwargs)

        operator.calculate_openlineage_events_completes = calculate_without


def _require_delta_table(name: str, location: str, storage_options: Mapping[str, str] | None) -> None:
    """Fail before dbt runs when ``location`` holds no Delta table (delta-rs' own error has no path)."""
    try:
        from deltalake import DeltaTable
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lake sources need delta-rs: pip install 'airflow-provider-lakeops[delta]'"
        ) from exc
    try:
        found = DeltaTable.is_deltatable(location, storage_options=dict(storage_options or {}) or None)
    except Exception as exc:  # delta-rs raises its own OSError/DeltaError kinds
        raise FileNotFoundError(
            f"dbt source {name}: cannot read the Delta table at {location}: {exc}"
        ) from exc
    if not found:
        raise FileNotFoundError(
            f"dbt source {name}: no Delta table at {location} (no _delta_log): write the silver table "
            "first, or point LAKEOPS_SILVER_URI / LAKEOPS_LAKE_URI at it"
        )


def _add_lineage_inputs(operator: Any, names: Sequence[DatasetName]) -> None:
    """Extend the operator's OpenLineage inputs (Cosmos' ``get_openlineage_facets_on_complete``)."""
    cls = type(operator)
    complete = getattr(cls, "get_openlineage_facets_on_complete", None)
    if complete is None or not names:
        return

    def with_lake_inputs(task_instance: Any) -> Any:
        lineage = complete(operator, task_instance)
        seen = {(d.namespace, d.name) for d in lineage.inputs}
        extra = [n.to_openlineage() for n in names if (n.namespace, n.name) not in seen]
        lineage.inputs = [*lineage.inputs, *extra]
        return lineage

    operator.get_openlineage_facets_on_complete = with_lake_inputs


def lakeops_profile_config(
    target: str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    snowflake_conn_id: str = "snowflake_default",
    snowflake_database: str | None = None,
    snowflake_schema: str = "ANALYTICS",
    profile_mapping: BaseProfileMapping | None = None,
) -> ProfileConfig:
    """The Cosmos ``ProfileConfig`` for a target, without touching any connection (parse-safe).

    :param target: ``local`` (dbt-duckdb through ``dbt/profiles.yml``) or ``snowflake`` (a Cosmos
        profile mapping from ``snowflake_conn_id``); default ``$LAKEOPS_DBT_TARGET`` or ``local``.
    :param project_dir: the dbt project (for ``profiles.yml``); see :func:`resolve_project_dir`.
    :param snowflake_conn_id: the Airflow Snowflake connection the dbt profile is built from.
    :param snowflake_database: database of the dbt models (default: the connection's database).
    :param snowflake_schema: schema of the dbt models on Snowflake.
    :param profile_mapping: another Cosmos profile mapping for the ``snowflake`` target (e.g.
        ``SnowflakePrivateKeyPemProfileMapping`` for key-pair auth); replaces the user/password one.
    """
    from cosmos import ProfileConfig

    resolved = resolve_target(target)
    if resolved == "local":
        if profile_mapping is not None:
            raise ValueError(
                "profile_mapping applies to the 'snowflake' target only; 'local' uses profiles.yml"
            )
        return ProfileConfig(
            profile_name=PROFILE_NAME,
            target_name="local",
            profiles_yml_filepath=resolve_project_dir(project_dir) / "profiles.yml",
        )
    if not snowflake_conn_id:
        raise ValueError("snowflake_conn_id must name an Airflow Snowflake connection")
    if profile_mapping is None:
        from cosmos.profiles import SnowflakeUserPasswordProfileMapping

        profile_args: dict[str, Any] = {"schema": snowflake_schema}
        if snowflake_database:
            profile_args["database"] = snowflake_database
        profile_mapping = SnowflakeUserPasswordProfileMapping(
            conn_id=snowflake_conn_id, profile_args=profile_args
        )
    return ProfileConfig(profile_name=PROFILE_NAME, target_name="snowflake", profile_mapping=profile_mapping)


def lakeops_dbt_task_group(
    *,
    group_id: str = "dbt",
    project_dir: str | os.PathLike[str] | None = None,
    target: str | None = None,
    snowflake_conn_id: str = "snowflake_default",
    snowflake_database: str | None = None,
    snowflake_schema: str = "ANALYTICS",
    profile_mapping: BaseProfileMapping | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    dbt_vars: Mapping[str, Any] | None = None,
    operator_args: Mapping[str, Any] | None = None,
    invocation_mode: str | None = None,
    aws_conn_id: str | None = None,
    source_datasets: Mapping[str, str] | None = None,
    **task_group_kwargs: Any,
) -> DbtTaskGroup:
    """A Cosmos ``DbtTaskGroup`` over the lakeops dbt project (call it inside a ``DAG`` context).

    :param group_id: the task group id.
    :param project_dir: the dbt project folder; see :func:`resolve_project_dir`.
    :param target: ``local`` or ``snowflake``; see :func:`lakeops_profile_config`.
    :param snowflake_conn_id: Airflow connection for the ``snowflake`` target.
    :param snowflake_database: database of the dbt models on Snowflake (default: the connection's).
    :param snowflake_schema: schema of the dbt models on Snowflake.
    :param profile_mapping: a Cosmos profile mapping replacing the Snowflake user/password one.
    :param select: dbt selectors of the models to render (default: all).
    :param exclude: dbt selectors to leave out.
    :param dbt_vars: dbt ``--vars`` (e.g. ``{"lakeops_lookback_days": 3}``).
    :param operator_args: extra arguments for every Cosmos operator (``retries``, ``pool``, ...).
        Unless it names a ``callback``, :func:`record_dbt_results` is the callback: each task pushes
        a small summary of dbt's ``run_results.json`` to XCom (key ``dbt_results``) and emits metrics.
    :param invocation_mode: ``"dbt_runner"`` (in-process, Cosmos' default when dbt is importable) or
        ``"subprocess"``.
    :param aws_conn_id: an Airflow AWS connection whose region, endpoint and credentials each dbt
        process gets as ``AWS_*`` variables at run time, for the lake sources on S3 (delta-rs reads
        them). ``None``: the worker's own environment (an instance role, exported variables).
    :param source_datasets: the lake dataset of each dbt source, for lineage: ``{"lakeops.customer_behavior":
        "s3://lakeops-lake/silver/customer_behavior"}`` (a key may also be the source's unique id).
        Default: the location dbt reads, the source's ``delta_table_path`` rendered at run time.
    :param task_group_kwargs: passed to ``DbtTaskGroup`` (``dag``, ``default_args``, ...).
    :raises FileNotFoundError: when the manifest is missing (run
        ``python -m airflow_provider_lakeops.dbt parse``).
    :raises ValueError: for an unknown target, invocation mode, project folder or ``source_datasets`` key.

    At run time, a task whose model reads a lake source fails before dbt runs when the source's
    location is relative, needs an unset or empty environment variable (``AirflowFailException``), or
    holds no Delta table (``FileNotFoundError``, naming the location).
    """
    if invocation_mode not in (None, *_INVOCATION_MODES):
        raise ValueError(
            f"invocation_mode must be one of {', '.join(_INVOCATION_MODES)}, got {invocation_mode!r}"
        )
    project = resolve_project_dir(project_dir)
    manifest = manifest_path(project)
    if not manifest.is_file():
        raise FileNotFoundError(
            f"dbt manifest not found at {manifest}: run `{PARSE_COMMAND} --project-dir {project}` "
            "(make install does) so that DAG parsing needs no dbt command"
        )
    profile_config = lakeops_profile_config(
        target,
        project_dir=project,
        snowflake_conn_id=snowflake_conn_id,
        snowflake_database=snowflake_database,
        snowflake_schema=snowflake_schema,
        profile_mapping=profile_mapping,
    )
    manifest_sources = json.loads(manifest.read_text(encoding="utf-8")).get("sources") or {}
    interceptor = _LakeAccessInterceptor(
        aws_conn_id=aws_conn_id,
        # only dbt-duckdb reads `plugin: delta` sources; on Snowflake the source is a table
        sources=lake_sources(project, manifest={"sources": manifest_sources})
        if profile_config.target_name == "local"
        else {},
        datasets=_source_datasets(source_datasets, manifest_sources),
    )
    extra_args = dict(operator_args or {})
    if interceptor.aws_conn_id or interceptor.sources or interceptor.datasets:
        extra_args["interceptors"] = [interceptor, *(extra_args.get("interceptors") or ())]

    import airflow  # noqa: F401 - cosmos.constants needs airflow imported first (circular import)
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    modes = {"dbt_runner": InvocationMode.DBT_RUNNER, "subprocess": InvocationMode.SUBPROCESS}
    project_config = ProjectConfig(
        dbt_project_path=project,
        manifest_path=manifest,
        project_name=PROFILE_NAME,
        install_dbt_deps=False,
        dbt_vars=dict(dbt_vars) if dbt_vars else None,
    )
    # Cosmos wraps the manifest in an ObjectStoragePath, whose first open discovers every provider's
    # filesystems (~0.5 s of DAG parsing); a local manifest needs none of it (the attribute is typed
    # ``Path | ObjectStoragePath``).
    project_config.manifest_path = manifest
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=modes[invocation_mode] if invocation_mode else None,
        dbt_executable_path=_dbt_executable(),
        # a test on several models (relationships fct -> dim) runs with the last of them to be built,
        # not with the first, where the other table does not exist yet
        test_indirect_selection=TestIndirectSelection.BUILDABLE,
    )
    from cosmos.dbt.executable import get_system_dbt

    render_config = RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        # RenderConfig's default is computed once, when Cosmos is imported; Cosmos then rejects it if
        # PATH changed since (e.g. a venv's bin/ added). Resolve it now, as Cosmos' check does.
        dbt_executable_path=get_system_dbt(),
        test_behavior=TestBehavior.AFTER_EACH,
        select=list(select),
        exclude=list(exclude),
    )
    return DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        operator_args={"callback": RESULTS_CALLBACK, **extra_args},
        **task_group_kwargs,
    )


def summarize_run_results(run_results: Mapping[str, Any]) -> dict[str, Any]:
    """Counts per resource type and status from a dbt ``run_results.json`` (no messages, no data).

    ``{"models": {"success": 1}, "tests": {"pass": 9, "warn": 1}, "test_failures": 3,
    "nodes": [{"unique_id": ..., "status": ..., "failures": ..., "seconds": ...}], "elapsed": 1.2}``
    """
    models: dict[str, int] = {}
    tests: dict[str, int] = {}
    other: dict[str, int] = {}
    nodes: list[dict[str, Any]] = []
    failures = 0
    for result in run_results.get("results") or []:
        unique_id = str(result.get("unique_id", ""))
        status = str(result.get("status", "unknown"))
        kind = unique_id.split(".", 1)[0]
        bucket = models if kind in {"model", "snapshot", "seed"} else tests if kind == "test" else other
        bucket[status] = bucket.get(status, 0) + 1
        count = result.get("failures")
        if kind == "test" and isinstance(count, int) and status in {"fail", "warn"}:
            failures += count
        if len(nodes) < _MAX_NODES:
            nodes.append(
                {
                    "unique_id": unique_id,
                    "status": status,
                    "failures": count if isinstance(count, int) else None,
                    "seconds": round(float(result.get("execution_time") or 0.0), 3),
                }
            )
    summary: dict[str, Any] = {
        "models": models,
        "tests": tests,
        "test_failures": failures,
        "nodes": nodes,
        "elapsed": round(float(run_results.get("elapsed_time") or 0.0), 3),
    }
    if other:
        summary["other"] = other
    return summary


def record_dbt_results(project_dir: str, context: Any = None, **_: Any) -> dict[str, Any] | None:
    """Cosmos callback: summarise ``target/run_results.json``, push it to XCom, emit metrics.

    Cosmos calls it after every dbt command, before it raises for a failed one, so a failing test
    task still records which tests failed and how many rows they flagged (counts only). Never
    raises: a missing or unreadable file only logs a warning.

    :param project_dir: the temporary project folder Cosmos ran dbt in.
    :param context: the Airflow task context (Cosmos passes it).
    """
    path = Path(project_dir) / "target" / "run_results.json"
    try:
        summary = summarize_run_results(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("No dbt results to record from %s: %s", path, exc)
        return None
    log.info(
        "dbt results: models %s, tests %s, %s failing rows",
        summary["models"],
        summary["tests"],
        summary["test_failures"],
    )
    if context is None:
        return summary
    ti = context.get("ti") if hasattr(context, "get") else None
    if ti is not None:
        try:
            ti.xcom_push(key=RESULTS_XCOM_KEY, value=summary)
        except Exception as exc:  # an XCom backend problem must not hide dbt's own outcome
            log.warning("Could not push the dbt results to XCom: %s", exc)
    task = context.get("task") if hasattr(context, "get") else None
    if task is not None:
        from airflow_provider_lakeops.notifications.metrics import emit_operator_metrics

        tests = summary["tests"]
        emit_operator_metrics(
            task,
            context,
            {
                "dbt_models_success": float(summary["models"].get("success", 0)),
                "dbt_models_error": float(summary["models"].get("error", 0)),
                "dbt_tests_pass": float(tests.get("pass", 0)),
                "dbt_tests_warn": float(tests.get("warn", 0)),
                "dbt_tests_fail": float(tests.get("fail", 0) + tests.get("error", 0)),
                "dbt_test_failing_rows": float(summary["test_failures"]),
                "dbt_elapsed_seconds": float(summary["elapsed"]),
            },
        )
    return summary


def _dbt_executable() -> str:
    """The ``dbt`` next to the running interpreter (a venv's bin/), else the one on PATH."""
    sibling = Path(sys.executable).parent / "dbt"
    if sibling.is_file():
        return str(sibling)
    return shutil.which("dbt") or "dbt"


def parse_project(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    target: str = "local",
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> Path:
    """Run ``dbt parse`` for the project; write the slim ``cosmos_manifest.json``; return its path.

    The ``local`` target needs no credentials and no running service, so ``make install`` can run it.
    The manifest only gives Cosmos the graph; at run time dbt re-parses with the real target.

    :raises RuntimeError: when ``dbt parse`` fails (its output tail is in the message).
    """
    project = resolve_project_dir(project_dir)
    resolved = resolve_target(target)
    dbt = _dbt_executable()
    run_env = {**os.environ, **(env or {})}
    run_env.setdefault("DO_NOT_TRACK", "1")
    run_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    argv = [dbt, "parse", "--project-dir", str(project), "--profiles-dir", str(project), "--target", resolved]
    try:
        result = subprocess.run(  # argv built here: no shell, no secrets
            argv, env=run_env, cwd=str(project), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise RuntimeError(f"the dbt command was not found ({dbt}): install the 'cosmos' extra") from exc
    manifest = project / "target" / "manifest.json"
    if result.returncode != 0 or not manifest.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"dbt parse failed (exit {result.returncode}) for {project}:\n{tail}")
    return write_render_manifest(manifest)


def write_render_manifest(manifest: str | os.PathLike[str]) -> Path:
    """Write ``cosmos_manifest.json`` beside a dbt ``manifest.json``: only what Cosmos reads (6-7x smaller).

    :return: the path of the slim manifest.
    """
    source = Path(manifest)
    full = json.loads(source.read_text(encoding="utf-8"))
    slim = {key: full[key] for key in _RENDER_KEYS if key in full}
    out = source.with_name(RENDER_MANIFEST)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(slim, separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    return out


def manifest_is_stale(project_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when ``cosmos_manifest.json`` is missing or older than a project file (``*.sql``, ``*.yml``)."""
    project = resolve_project_dir(project_dir)
    manifest = project / "target" / RENDER_MANIFEST
    if not manifest.is_file():
        return True
    built = manifest.stat().st_mtime
    sources = [project / "dbt_project.yml", project / "profiles.yml"]
    for folder in ("models", "tests", "macros", "seeds", "snapshots"):
        if (project / folder).is_dir():
            sources.extend(p for p in (project / folder).rglob("*") if p.suffix in {".sql", ".yml", ".yaml"})
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


def ensure_manifest(project_dir: str | os.PathLike[str] | None = None, *, target: str = "local") -> Path:
    """Run :func:`parse_project` only when :func:`manifest_is_stale`; return the manifest path."""
    if manifest_is_stale(project_dir):
        return parse_project(project_dir, target=target)
    return manifest_path(project_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m airflow_provider_lakeops.dbt parse [--project-dir DIR] [--target local] [--if-stale]``."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_lakeops.dbt", description="Helpers for the lakeops dbt project."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    parse = sub.add_parser(
        "parse", help="write <project>/target/manifest.json (dbt parse) and cosmos_manifest.json"
    )
    parse.add_argument(
        "--project-dir",
        default=None,
        help=f"dbt project folder (default: ${PROJECT_DIR_ENV} or the repository's dbt/)",
    )
    parse.add_argument("--target", default="local", choices=DBT_TARGETS)
    parse.add_argument(
        "--if-stale",
        action="store_true",
        help="only parse when the manifest is missing or older than a project file",
    )
    args = parser.parse_args(argv)
    try:
        if args.if_stale:
            manifest = ensure_manifest(args.project_dir, target=args.target)
        else:
            manifest = parse_project(args.project_dir, target=args.target)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dbt manifest written: {manifest.parent / 'manifest.json'} (Cosmos renders from {manifest.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
