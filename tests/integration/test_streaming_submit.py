"""KafkaStreamingSubmitOperator end to end through the real ``spark-submit``: file source on
``local[*]`` and on the local Spark standalone cluster. The Kafka source on the local stack's real
broker is in ``test_streaming_kafka.py``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from airflow_provider_lakeops.exceptions import StreamingJobError
from airflow_provider_lakeops.operators.spark_streaming import KafkaStreamingSubmitOperator
from airflow_provider_lakeops.sample_data import write_events

pytestmark = [pytest.mark.integration, pytest.mark.spark]

BAD = [
    "{not json",
    json.dumps(
        {
            "event_id": "evt-bad-1",
            "customer_id": "seven",
            "event_type": "login",
            "event_ts": "2025-10-31T00:00:00Z",
            "updated_at": "2025-10-31T00:00:00Z",
        }
    ),
]


@pytest.fixture
def spark_env(monkeypatch):
    """spark-submit on PATH and Spark bound to loopback, as the local stack sets them."""
    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)


def publish(folder: Path, name: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.rename(folder / name)


def operator(tmp_path: Path, conn_id: str, **kw) -> KafkaStreamingSubmitOperator:
    values = {
        "task_id": "land_events",
        "source": "file",
        "landing_path": str(tmp_path / "landing"),
        "bronze_path": str(tmp_path / "bronze"),
        "checkpoint_path": str(tmp_path / "checkpoint"),
        "spark_conn_id": conn_id,
        "conf": {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"},
    }
    values.update(kw)
    return KafkaStreamingSubmitOperator(**values)


def bronze_count(path: Path) -> int:
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet", partitioning="hive").count_rows()


def test_submit_on_local_star_lands_bronze_quarantines_and_guards_the_checkpoint(
    tmp_path, spark_env, monkeypatch
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SPARK_LOCAL_STAR",
        json.dumps({"conn_type": "spark", "host": "local[*]", "extra": {"deploy-mode": "client"}}),
    )
    summary = write_events(tmp_path / "landing" / "dt=2025-10-31", 300, seed=11)
    publish(tmp_path / "landing" / "dt=2025-10-31", "bad.jsonl", BAD)

    report = operator(tmp_path, "spark_local_star").execute({})

    assert report["status"] == "succeeded"
    assert report["rows_in"] == 300 + len(BAD)
    assert report["rows_quarantined"] == summary.defects["null_key"] + len(BAD)
    assert report["quarantine_reasons"]["malformed_json"] == 1
    assert report["quarantine_reasons"]["type_mismatch:customer_id"] == 1
    assert report["end_offsets"] == {"logOffset": 0}
    assert bronze_count(tmp_path / "bronze") == report["rows_bronze"] == 300 - summary.defects["null_key"]
    quarantined = [
        json.loads(line)
        for f in (tmp_path / "bronze_quarantine").rglob("*.json")
        for line in f.read_text().splitlines()
    ]
    assert sorted(q["_raw"] for q in quarantined if "bad.jsonl" in q["_source_file"]) == sorted(BAD)
    checkpoint = tmp_path / "checkpoint"
    assert json.loads((checkpoint / "_lakeops" / "query.json").read_text())["source"] == "file"
    assert list((checkpoint / "_lakeops" / "reports").iterdir()) == []  # read, then removed

    # the same checkpoint with another landing folder is refused before anything is submitted
    moved = operator(tmp_path, "spark_local_star", landing_path=str(tmp_path / "landing2"))
    with pytest.raises(StreamingJobError, match="landing_path"):
        moved.execute({})
    assert bronze_count(tmp_path / "bronze") == report["rows_bronze"]


@pytest.mark.cluster
def test_submit_on_the_standalone_cluster(tmp_path, spark_env, lakeops_spark_cluster):
    write_events(tmp_path / "landing" / "dt=2025-10-31", 120, seed=5, clean=True)
    report = operator(tmp_path, "spark_cluster", submit_kwargs={"total_executor_cores": 1}).execute({})
    assert (report["status"], report["batches"], report["rows_bronze"]) == ("succeeded", 1, 120)
    assert bronze_count(tmp_path / "bronze") == 120
