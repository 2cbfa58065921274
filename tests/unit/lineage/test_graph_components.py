"""Connected pieces of a lineage graph, symlinked names folded into one dataset, table roots."""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.lineage.graph import build_graph
from airflow_provider_lakeops.lineage.naming import location_dataset, table_root


def _event(job: str, inputs=(), outputs=()):
    return {
        "eventType": "COMPLETE",
        "eventTime": "2025-10-01T00:00:00Z",
        "run": {"runId": job},
        "job": {"namespace": "default", "name": job},
        "inputs": [dict(d) for d in inputs],
        "outputs": [dict(d) for d in outputs],
    }


S3 = {"namespace": "s3://lake", "name": "silver/t"}
GLUE = {"namespace": "arn:aws:glue:us-east-1:123", "name": "table/db/t"}


def test_a_pipeline_is_one_piece_and_jobs_without_datasets_are_listed_apart():
    events = [
        _event("d.land", outputs=[{"namespace": "s3://lake", "name": "landing/e"}]),
        _event("d.mask", inputs=[{"namespace": "s3://lake", "name": "landing/e"}], outputs=[S3]),
        _event("d.merge", inputs=[S3], outputs=[{"namespace": "snowflake://a", "name": "D.S.T"}]),
        _event("d"),  # the DAG's own run
    ]
    graph = build_graph(events, dag_id="d")
    assert len(graph.components()) == 1
    assert graph.isolated_jobs() == ["job:default:d"]
    assert graph.outputs_of("job:default:d.mask") == graph.inputs_of("job:default:d.merge")


def test_two_names_of_one_table_split_the_graph_until_a_symlink_joins_them():
    events = [
        _event("d.mask", outputs=[S3]),
        _event("d.query", inputs=[GLUE]),
    ]
    assert len(build_graph(events).components()) == 2
    linked = {**S3, "facets": {"symlinks": {"identifiers": [{**GLUE, "type": "TABLE"}]}}}
    graph = build_graph([*events, _event("d.register", inputs=[S3], outputs=[linked])])
    assert len(graph.components()) == 1
    assert "dataset:arn:aws:glue:us-east-1:123:table/db/t" not in graph.datasets
    assert graph.inputs_of("job:default:d.query") == {"dataset:s3://lake:silver/t"}


def test_several_dag_ids_select_each():
    events = [_event("a.x", outputs=[S3]), _event("b.y", inputs=[S3]), _event("c.z", inputs=[S3])]
    graph = build_graph(events, dag_id=["a", "b"])
    assert set(graph.jobs) == {"job:default:a.x", "job:default:b.y"}


@pytest.mark.parametrize(
    ("location", "root"),
    [
        ("s3://lake/landing/e/dt=2025-10-01/", "s3://lake/landing/e"),
        ("s3://lake/silver/t/dt=1/hour=2", "s3://lake/silver/t"),
        ("s3://lake/silver/t", "s3://lake/silver/t"),
        ("/tmp/lake/silver/t/dt=1/", "/tmp/lake/silver/t"),
        ("s3://lake/dt=1", "s3://lake/dt=1"),  # a bucket-level partition keeps its name
    ],
)
def test_a_partition_folder_names_its_table(location, root):
    assert table_root(location) == root


def test_location_dataset_names_s3a_as_s3_and_strips_partitions():
    assert location_dataset("s3a://lake/silver/t/dt=1/").namespace == "s3://lake"
    assert location_dataset("s3a://lake/silver/t/dt=1/").name == "silver/t"


def test_a_job_updating_a_dataset_in_place_stands_right_of_it():
    from airflow_provider_lakeops.lineage.graph import _layers

    events = [
        _event("d.mask", outputs=[S3]),
        _event("d.compact", inputs=[S3], outputs=[S3]),  # reads and rewrites the same table
        _event("d.merge", inputs=[S3], outputs=[{"namespace": "snowflake://a", "name": "D.S.T"}]),
    ]
    layer = _layers(build_graph(events))
    silver = "dataset:s3://lake:silver/t"
    assert layer["job:default:d.mask"] < layer[silver] < layer["job:default:d.compact"]
    assert layer["job:default:d.compact"] == layer["job:default:d.merge"]
