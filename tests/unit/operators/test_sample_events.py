"""GenerateSampleEventsOperator: lands a day, replaces the folder on rerun, refuses bad input untouched."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.operators.sample_events import GenerateSampleEventsOperator


def _op(**kwargs):
    return GenerateSampleEventsOperator(task_id="land", **{"day": "2025-10-31", **kwargs})


def test_lands_the_day_and_a_rerun_leaves_the_same_files(tmp_path):
    out = tmp_path / "landing" / "dt=2025-10-31"
    first = _op(output_path=str(out), rows=120).execute({})
    lines = [json.loads(line) for f in first["files"] for line in open(f)]
    assert len(lines) == 120
    assert first["rows"] == 120
    second = _op(output_path=str(out), rows=120).execute({})
    assert second["files"] == first["files"]
    assert [json.loads(line) for f in second["files"] for line in open(f)] == lines
    assert not list(out.parent.glob(".*staging"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"output_path": "gs://lake/landing"}, "scheme 'gs' is not supported"),
        ({"output_path": "s3://lakeops-lake/"}, "is a bucket's root"),
        ({"output_path": " "}, "output_path is empty"),
        ({"rows": -1}, "rows must be between 0"),
        ({"rows": "many"}, "rows must be an integer"),
    ],
)
def test_bad_input_is_refused_and_the_previous_landing_stays(tmp_path, kwargs, match):
    out = tmp_path / "landing"
    before = _op(output_path=str(out), rows=10).execute({})
    args = {"output_path": str(out), "rows": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        _op(**args).execute({})
    assert sorted(str(p) for p in out.glob("part-*")) == before["files"]
    assert not (tmp_path / "s3:").exists()


def test_an_s3_output_is_validated_before_any_connection(monkeypatch):
    # no AWS connection is needed to refuse a bad row count for an s3:// landing folder
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)
    with pytest.raises(ValueError, match="rows must be between 0"):
        _op(output_path="s3://lakeops-lake/landing/dt=2025-10-31", rows=-5).execute({})


def test_lineage_names_the_table_of_the_landing_folder():
    op = _op(output_path="s3a://lakeops-lake/landing/customer_events/dt=2025-10-31/")
    (output,) = op.get_openlineage_facets_on_complete(None).outputs
    assert (output.namespace, output.name) == ("s3://lakeops-lake", "landing/customer_events")
