"""The CDC DAG through ``dag.test()``: preflight on MariaDB with a binlog, deploy to the fake Kafka Connect,
deferrable wait run by ``dag.test()``'s inline triggerer, lineage read back from the file transport."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration import conftest_kafka_connect as kc
from tests.integration.conftest_kafka_connect import CONNECTOR_PASSWORD

# shared fixtures (defined in tests/integration/conftest_kafka_connect.py)
binlog_mariadb = kc.binlog_mariadb
fake_connect_server = kc.fake_connect_server

pytestmark = [pytest.mark.integration, pytest.mark.services]
DAG_ID = "lakeops_cdc_streaming"
TASK_ID = "deploy_connector"
CONNECTOR = "lakeops-mysql-cdc"


@pytest.fixture(scope="module")
def cdc_env(lakeops_airflow_db, binlog_mariadb, fake_connect_server):
    fake_connect_server.reset()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT", fake_connect_server.connection_uri())
        mp.setenv("AIRFLOW_CONN_MYSQL_CDC", binlog_mariadb.connection_json("dbz", CONNECTOR_PASSWORD))
        yield fake_connect_server, binlog_mariadb


@pytest.fixture(scope="module")
def dag(cdc_env):
    from airflow.models import DagBag

    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{DAG_ID}.py"
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    return bag.get_dag(DAG_ID)


def _xcom(run) -> dict:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=DAG_ID, run_id=run.run_id, task_id=TASK_ID,
                                                 key="return_value").one()
        value = row.value
    return json.loads(value) if isinstance(value, str) else value


def _rendered(run) -> str:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter_by(dag_id=DAG_ID, run_id=run.run_id).all()
        return json.dumps([r.rendered_fields for r in rows], default=str)


@pytest.fixture(scope="module")
def first_run(dag, cdc_env):
    fake, _ = cdc_env
    fake.fail_task(CONNECTOR, 0, times=1)  # the first start of the task fails: restarted once, then RUNNING
    return dag.test()


def test_run_deploys_the_connector_through_the_deferrable_path(first_run, cdc_env):
    fake, db = cdc_env
    assert first_run.state == "success"
    result = _xcom(first_run)
    assert result["action"] == "created"
    assert result["connector_state"] == "RUNNING"
    assert result["restarted"] == ["0"]  # carried through dag.test()'s inline trigger and the second deferral
    assert result["topics"] == ["lakeops.inventory.customers", "lakeops.inventory.orders"]
    assert result["kafka_bootstrap_servers"] == "kafka:9092"
    stored = fake.stored_config(CONNECTOR)
    assert stored["database.password"] == CONNECTOR_PASSWORD
    assert stored["database.port"] == str(db.port)
    assert stored["transforms.unwrap.type"] == "io.debezium.transforms.ExtractNewRecordState"
    assert len(fake.recorded("POST", f"/connectors/{CONNECTOR}/restart")) == 1


def test_lineage_mysql_tables_in_kafka_topics_out(first_run, cdc_env, lakeops_lineage):
    _, db = cdc_env
    events = lakeops_lineage.task_events(DAG_ID, TASK_ID, event_type="COMPLETE", run_id=first_run.run_id)
    assert events, "no COMPLETE event for deploy_connector"
    event = events[-1]
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
        (f"mysql://127.0.0.1:{db.port}", "inventory.customers"), (f"mysql://127.0.0.1:{db.port}", "inventory.orders")]
    assert [(d["namespace"], d["name"]) for d in event["outputs"]] == [
        ("kafka://kafka:9092", "lakeops.inventory.customers"), ("kafka://kafka:9092", "lakeops.inventory.orders")]


def test_password_absent_from_logs_xcom_lineage_and_rendered_templates(first_run, lakeops_lineage, capfd):
    assert CONNECTOR_PASSWORD not in json.dumps(_xcom(first_run))
    assert CONNECTOR_PASSWORD not in lakeops_lineage.text()
    rendered = _rendered(first_run)
    assert "io.debezium.connector.mysql.MySqlConnector" in rendered  # the config template was rendered ...
    assert CONNECTOR_PASSWORD not in rendered  # ... without the password
    out = capfd.readouterr()
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    log_text = "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()) if logs.exists() else ""
    assert CONNECTOR_PASSWORD not in out.out + out.err + log_text


def test_rerun_is_unchanged_and_makes_no_put(dag, first_run, cdc_env):
    fake, _ = cdc_env
    puts_before = len(fake.recorded("PUT", f"/connectors/{CONNECTOR}/config"))
    run = dag.test()
    assert run.state == "success"
    assert _xcom(run)["action"] == "unchanged"
    assert len(fake.recorded("PUT", f"/connectors/{CONNECTOR}/config")) == puts_before
