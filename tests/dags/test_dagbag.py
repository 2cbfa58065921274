"""Every example DAG parses without errors, network or DB access, and follows the house rules."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.models import DagBag

    real_connect = socket.socket.connect

    def no_network(self, address):  # parse time must not touch the network
        raise AssertionError(f"network access at DAG parse time: {address!r}")

    socket.socket.connect = no_network  # type: ignore[method-assign]
    try:
        return DagBag(dag_folder=str(EXAMPLE_DAGS), include_examples=False)  # type: ignore[call-arg]
    except TypeError:
        return DagBag(dag_folder=str(EXAMPLE_DAGS))
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_daily_dag_present(dagbag):
    assert "lakeops_customer_behavior_daily" in dagbag.dag_ids


def test_every_dag_has_tags_owner_retries_and_docs(dagbag):
    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.owner, f"{dag_id}.{task.task_id} has no owner"
            assert task.owner != "airflow", f"{dag_id}.{task.task_id} keeps the default owner"
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has retries={task.retries}"
