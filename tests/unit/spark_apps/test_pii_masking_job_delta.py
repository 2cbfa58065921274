"""spark_apps.pii_masking_job writing Delta in-process on the shared ``spark`` fixture (local folders):
first run creates the partitioned table, ``replaceWhere`` replaces exactly the run's partition, a rerun
gives the same rows, and every wrong target (Parquet folder, Delta table with other partitions, Delta
for a Parquet run) or leak fails before anything is committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.spark_apps.leak_guard import LeakDetectedError
from airflow_provider_lakeops.spark_apps.pii_masking_job import (
    JobOptions,
    JobOutputError,
    replace_where,
    run,
)
from airflow_provider_lakeops.spark_apps.pii_policy import PolicyError, load_policy, parse_policy

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[3]
POLICY = load_policy(str(REPO / "example_dags" / "policies" / "customer_events_pii.yaml"))
KEY = b"job-test-key-abcdefghijklmnopqrstuvwxyz-0123456789"


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing-delta")
    for day, seed in (("2025-10-30", 1), ("2025-10-31", 2)):
        write_events(root / f"dt={day}", 120, day=day, seed=seed)
    return root


@pytest.fixture(autouse=True)
def _small_delta_state(spark):
    spark.conf.set("spark.databricks.delta.snapshotPartitions", "2")  # tiny tables, 2 cores


def _options(landing: Path, out: Path, day: str, **kw) -> JobOptions:
    values = {
        "policy": POLICY,
        "input_format": "json",
        "partition_by": ["dt"],
        "constants": {"dt": day},
        "table_format": "delta",
        **kw,
    }
    return JobOptions(input_path=str(landing / f"dt={day}"), output_path=str(out), **values)


def _rows(spark, out: Path) -> list[tuple]:
    df = spark.read.format("delta").load(str(out))
    return sorted(tuple(r) for r in df.select("dt", "event_id", "email").collect())


def _versions(out: Path) -> list[str]:
    log = out / "_delta_log"
    return sorted(p.name for p in log.glob("*.json")) if log.is_dir() else []


def test_replace_where_predicate_quotes_names_and_values():
    assert replace_where({"dt": "2025-10-31"}) == "`dt` = '2025-10-31'"
    assert replace_where({"b": "it's", "a": "x\\y"}) == "`a` = 'x\\\\y' AND `b` = 'it\\'s'"


def test_delta_create_replace_where_and_rerun(spark, landing, tmp_path):
    out = tmp_path / "silver"
    first = run(spark, _options(landing, out, "2025-10-30"), KEY)
    assert (first["table_format"], first["write_mode"], first["version"]) == ("delta", "create", 0)
    assert first["partitions_written"] == ["dt=2025-10-30"]
    assert first["rows_in"] == first["rows_out"] == 120

    second = run(spark, _options(landing, out, "2025-10-31"), KEY)
    assert (second["write_mode"], second["version"]) == ("replace_where", 1)
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{out}`").first()
    assert detail["partitionColumns"] == ["dt"]
    both = _rows(spark, out)
    assert len(both) == 240
    assert {r[0] for r in both} == {"2025-10-30", "2025-10-31"}

    again = run(spark, _options(landing, out, "2025-10-31"), KEY)  # rerun: same rows, a new version
    assert (again["write_mode"], again["version"]) == ("replace_where", 2)
    assert _rows(spark, out) == both
    history = spark.sql(f"DESCRIBE HISTORY delta.`{out}`").orderBy("version").collect()
    assert [h["operation"] for h in history] == ["WRITE", "WRITE", "WRITE"]
    assert "dt" in history[2]["operationParameters"]["predicate"]


def test_delta_dynamic_partitions_without_constants(spark, landing, tmp_path):
    out = tmp_path / "silver"
    options = _options(landing, out, "2025-10-31", constants={}, derive={"dt": "event_date"})
    assert run(spark, options, KEY)["write_mode"] == "create"
    run(spark, _options(landing, out, "2025-10-30"), KEY)
    # the session's parquet-style dynamic mode must not leak into a replaceWhere or static write
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    try:
        report = run(spark, options, KEY)
    finally:
        spark.conf.unset("spark.sql.sources.partitionOverwriteMode")
    assert report["write_mode"] == "dynamic_partitions"
    assert report["partitions_written"] == ["dt=2025-10-31"]
    assert len(_rows(spark, out)) == 240  # dt=2025-10-30 untouched


def test_delta_over_plain_parquet_is_refused(spark, landing, tmp_path):
    out = tmp_path / "silver"
    run(spark, _options(landing, out, "2025-10-30", table_format="parquet"), KEY)
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(JobOutputError, match="no _delta_log"):
        run(spark, _options(landing, out, "2025-10-31"), KEY)
    assert sorted(p.name for p in out.rglob("*")) == before


def test_parquet_over_delta_is_refused(spark, landing, tmp_path):
    out = tmp_path / "silver"
    run(spark, _options(landing, out, "2025-10-30"), KEY)
    with pytest.raises(JobOutputError, match="is a Delta table"):
        run(spark, _options(landing, out, "2025-10-31", table_format="parquet"), KEY)
    assert not (out / "dt=2025-10-31").exists()
    assert _versions(out) == ["00000000000000000000.json"]


@pytest.mark.parametrize(
    "partition_by",
    [pytest.param([], id="unpartitioned-run"), pytest.param(["dt", "event_type"], id="more-columns")],
)
def test_delta_with_other_partition_columns_is_refused(spark, landing, tmp_path, partition_by):
    out = tmp_path / "silver"
    run(spark, _options(landing, out, "2025-10-30"), KEY)
    with pytest.raises(JobOutputError, match=r"partitioned by \['dt'\]"):
        run(spark, _options(landing, out, "2025-10-31", partition_by=partition_by), KEY)
    assert _versions(out) == ["00000000000000000000.json"]


def test_leak_in_delta_run_commits_nothing(spark, landing, tmp_path):
    out = tmp_path / "silver"
    run(spark, _options(landing, out, "2025-10-30"), KEY)
    leaky = parse_policy({"mode": "passthrough", "columns": {"ssn": "ssn"}})  # e-mails left in clear
    with pytest.raises(LeakDetectedError):
        run(spark, _options(landing, out, "2025-10-31", policy=leaky), KEY)
    assert _versions(out) == ["00000000000000000000.json"]


def test_bad_table_format_is_a_policy_error(landing, tmp_path):
    with pytest.raises(PolicyError, match="--table-format must be one of parquet, delta"):
        JobOptions(
            input_path=str(landing), output_path=str(tmp_path / "o"), policy=POLICY, table_format="iceberg"
        ).validate()
