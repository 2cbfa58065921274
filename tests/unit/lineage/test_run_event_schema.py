"""The RunEvent check the DAG tests apply to every event of a real run."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from airflow_provider_lakeops.testing.lineage import run_event_errors


@pytest.fixture
def event() -> dict:
    """A RunEvent serialised by the OpenLineage client itself (what the provider emits)."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.serde import Serde

    from airflow_provider_lakeops.lineage.naming import glue_dataset, location_dataset, symlinks_facet

    output = location_dataset("s3://lake/silver/t/dt=1/").to_openlineage(
        symlinks_facet(glue_dataset("us-east-1", "123", "db", "t"))
    )
    raw = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2025-10-31T00:00:00.000000+00:00",
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="lakeops-local", name="dag.task"),
        producer="https://github.com/apache/airflow",
        inputs=[],
        outputs=[output],
    )
    return json.loads(Serde.to_json(raw))


def test_a_client_built_event_is_valid(event):
    assert run_event_errors(event) == []


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda e: e.pop("run"), "run is required"),
        (lambda e: e["run"].update(runId="not-a-uuid"), "is not a UUID"),
        (lambda e: e.update(eventTime="yesterday"), "not an ISO 8601"),
        (lambda e: e.update(eventTime="2025-10-31T00:00:00"), "no time zone"),
        (lambda e: e.update(producer="airflow"), "producer must be a URI"),
        (lambda e: e.update(eventType="DONE"), "eventType 'DONE'"),
        (lambda e: e["job"].update(name=" "), "job.name must be a non-empty string"),
        (lambda e: e["outputs"][0].update(namespace=""), "outputs[0].namespace"),
        (lambda e: e["outputs"][0]["facets"]["symlinks"].pop("_schemaURL"), "_schemaURL must be a URI"),
        (lambda e: e.update(inputs={}), "inputs must be an array"),
    ],
)
def test_each_broken_field_is_named(event, break_it, message):
    broken = copy.deepcopy(event)
    break_it(broken)
    errors = run_event_errors(broken)
    assert any(message in e for e in errors), errors


def test_not_an_object():
    assert run_event_errors([]) == ["an event must be a JSON object"]
