"""Run the lakeops dbt project from Airflow through astronomer-cosmos (cheap to import).

:func:`lakeops_dbt_task_group` returns a Cosmos ``DbtTaskGroup`` wired the way the provider's DAGs
need it:

* ``ExecutionMode.LOCAL`` (dbt in the worker's environment) and ``LoadMode.DBT_MANIFEST`` with the
  manifest that ``python -m airflow_provider_lakeops.dbt parse`` writes (``dbt/target/manifest.json``
  plus ``cosmos_manifest.json``, the same without dbt's macros): parsing the DAG runs no dbt command;
* ``TestBehavior.AFTER_EACH``: every model's tests run right after the model, a failing test fails
  its task and stops everything downstream; ``TestIndirectSelection.BUILDABLE`` runs a test that
  spans several models (``relationships``) after the last of them;
* the profile: the ``local`` target reads ``dbt/profiles.yml`` (dbt-duckdb, a file in the local lake,
  no credentials); the ``snowflake`` target is built by Cosmos'
  ``SnowflakeUserPasswordProfileMapping`` from an Airflow connection, so the password only travels
  as an environment variable of the dbt process, never in a file, argv or the DAG.

Cosmos emits the OpenLineage events of the dbt models (inputs and outputs per model) through the
Airflow OpenLineage listener, so they land in the same event stream as the provider's operators.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cosmos import DbtTaskGroup, ProfileConfig
    from cosmos.profiles import BaseProfileMapping

__all__ = [
    "DBT_TARGETS",
    "PARSE_COMMAND",
    "PROFILE_NAME",
    "PROJECT_DIR_ENV",
    "TARGET_ENV",
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
    :param task_group_kwargs: passed to ``DbtTaskGroup`` (``dag``, ``default_args``, ...).
    :raises FileNotFoundError: when the manifest is missing (run
        ``python -m airflow_provider_lakeops.dbt parse``).
    :raises ValueError: for an unknown target, invocation mode or project folder.
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
        operator_args={"callback": RESULTS_CALLBACK, **(operator_args or {})},
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
