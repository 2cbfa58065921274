"""DebeziumConnectorOperator against the real Kafka Connect 4.3 worker and Debezium's PostgreSQL connector.

Everything here runs for real: the stack's Connect worker (distributed mode) runs the connector,
which snapshots ``public.customers`` through ``pgoutput`` into the stack's Kafka broker. Nothing
is mocked; "no PUT was made" is read from the worker's own REST request log.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError, PreflightError
from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator
from airflow_provider_lakeops.sensors.kafka_connect import KafkaConnectorStateSensor
from airflow_provider_lakeops.triggers.kafka_connect import KafkaConnectorStateTrigger
from tests.integration.kafka_connect.conftest import PgSource, log_count

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _op(src: PgSource, config: dict | None = None, **kwargs) -> DebeziumConnectorOperator:
    defaults = {
        "task_id": "deploy",
        "connector_name": src.connector,
        "config": config or src.config(),
        "database_conn_id": src.conn_id,
        "poll_interval": 0.5,
        "wait_timeout": 90,
        "deferrable": False,
        "settle_seconds": 2.0,
        "topics_timeout": 30,
        "kafka_bootstrap_servers": src.stack.kafka_bootstrap,
    }
    defaults.update(kwargs)
    return DebeziumConnectorOperator(**defaults)


def _puts(src: PgSource) -> int:
    return log_count(src.stack, f'"PUT /connectors/{src.connector}/config HTTP/1.1"')


def _task_configs(connect, name: str) -> list[dict]:
    return [t["config"] for t in connect.get_tasks(name)]


def test_create_runs_the_connector_and_reports_the_topics_connect_lists(pg_source, connect):
    op = _op(pg_source)
    result = op.execute({})
    assert result["action"] == "created"
    assert (result["connector_state"], result["task_states"]) == ("RUNNING", {"0": "RUNNING"})
    assert result["source"] == "postgres"
    assert result["tables"] == ["public.customers"]
    assert result["topics"] == [f"{pg_source.prefix}.public.customers"]
    assert result["topics_source"] == "connect"
    assert connect.get_connector_topics(pg_source.connector) == [f"{pg_source.prefix}.public.customers"]
    stored = connect.get_connector_config(pg_source.connector)
    assert stored["database.dbname"] == pg_source.dbname
    assert stored["database.port"] == str(pg_source.server.port)
    assert stored["database.password"] == pg_source.password  # only in the request payload
    slot = pg_source.server.execute(
        f"SELECT plugin, database FROM pg_replication_slots WHERE slot_name = '{pg_source.slot}'"
    )
    assert slot == [("pgoutput", pg_source.dbname)]
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (f"postgres://127.0.0.1:{pg_source.server.port}", f"{pg_source.dbname}.public.customers")
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        (f"kafka://{pg_source.stack.kafka_bootstrap}", f"{pg_source.prefix}.public.customers")
    ]


def test_rerun_with_the_same_config_makes_no_put(pg_source, connect):
    _op(pg_source).execute({})
    puts, tasks = _puts(pg_source), _task_configs(connect, pg_source.connector)
    result = _op(pg_source).execute({})
    assert result["action"] == "unchanged"
    assert result["changed_keys"] == []
    assert _puts(pg_source) == puts == 1  # the worker's request log: still the one PUT of the create
    assert _task_configs(connect, pg_source.connector) == tasks


def test_update_waits_until_the_new_config_runs(pg_source, connect):
    _op(pg_source).execute({})
    result = _op(pg_source, pg_source.config(**{"poll.interval.ms": "700"})).execute({})
    assert result["action"] == "updated"
    assert result["changed_keys"] == ["poll.interval.ms"]
    assert result["task_states"] == {"0": "RUNNING"}
    assert [c["poll.interval.ms"] for c in _task_configs(connect, pg_source.connector)] == ["700"]
    assert connect.get_connector_status(pg_source.connector)["tasks"][0]["state"] == "RUNNING"
    assert _puts(pg_source) == 2


def test_validation_errors_name_each_key_and_deploy_nothing(pg_source, connect):
    config = pg_source.config(**{"database.port": "not-a-port"})
    del config["topic.prefix"]
    with pytest.raises(AirflowFailException) as err:
        _op(pg_source, config).execute({})
    message = str(err.value)
    assert "topic.prefix: The 'topic.prefix' value is invalid: A value is required" in message
    assert "database.port: The 'database.port' value is invalid: An integer is expected" in message
    assert "nothing was deployed" in message
    assert pg_source.password not in message
    assert pg_source.connector not in connect.list_connectors()
    assert _puts(pg_source) == 0


def test_an_unreachable_database_during_validation_is_transient(pg_source, connect):
    """Debezium validates by connecting: "Connection ... refused" is retried by Airflow, not a config
    error."""
    config = pg_source.config(**{"database.hostname": "127.0.0.1", "database.port": "1"})
    with pytest.raises(ConnectorDeploymentError, match="could not reach the database") as err:
        _op(pg_source, config, preflight=False).execute({})
    assert not isinstance(err.value, AirflowFailException)
    assert "Connection to 127.0.0.1:1 refused" in str(err.value)
    assert pg_source.connector not in connect.list_connectors()


def test_an_immutable_key_change_is_refused_and_the_live_config_kept(pg_source, connect):
    _op(pg_source).execute({})
    with pytest.raises(AirflowFailException, match="refusing to change slot.name, topic.prefix"):
        _op(pg_source, pg_source.config(**{"topic.prefix": "other", "slot.name": "other_slot"})).execute({})
    stored = connect.get_connector_config(pg_source.connector)
    assert (stored["topic.prefix"], stored["slot.name"]) == (pg_source.prefix, pg_source.slot)
    assert _puts(pg_source) == 1


def test_the_preflight_finds_what_would_fail_the_task(pg_source, connect):
    pg_source.sql(f"REVOKE CREATE ON DATABASE {pg_source.dbname} FROM {pg_source.server.cdc_user}")
    with pytest.raises(PreflightError, match="lacks CREATE on database") as err:
        _op(pg_source).execute({})
    assert [p["check"] for p in err.value.problems] == ["publication"]
    assert err.value.problems[0]["fix"].startswith(f'GRANT CREATE ON DATABASE "{pg_source.dbname}" TO "dbz";')
    assert pg_source.connector not in connect.list_connectors()


def test_a_task_that_really_fails_is_restarted_once_then_reported(pg_source, connect):
    """No CREATE on the database: Debezium's task FAILS creating the filtered publication, again after the
    restart."""
    pg_source.sql(f"REVOKE CREATE ON DATABASE {pg_source.dbname} FROM {pg_source.server.cdc_user}")
    with pytest.raises(ConnectorDeploymentError) as err:
        _op(pg_source, preflight=False).execute({})
    message = str(err.value)
    assert message.startswith("after restarting 0 once: ")
    assert "Unable to create filtered publication" in message
    assert "permission denied for database" in message
    assert connect.get_connector_status(pg_source.connector)["tasks"][0]["state"] == "FAILED"
    assert (
        log_count(
            pg_source.stack,
            f'"POST /connectors/{pg_source.connector}/restart?includeTasks=true'
            '&onlyFailed=true HTTP/1.1" 202',
        )
        == 1
    )


def test_a_failed_task_is_restarted_once_and_then_runs(pg_source, connect):
    pg_source.sql(f"REVOKE CREATE ON DATABASE {pg_source.dbname} FROM {pg_source.server.cdc_user}")
    _op(pg_source, preflight=False, wait_for_running=False).execute({})
    sensor = KafkaConnectorStateSensor(
        task_id="running",
        connector_name=pg_source.connector,
        poke_interval=0.5,
        timeout=60,
        deferrable=False,
        mode="poke",
    )
    with pytest.raises(ConnectorDeploymentError, match="task 0 FAILED"):  # the sensor fails at once on FAILED
        sensor.execute({})
    pg_source.sql(f"GRANT CREATE ON DATABASE {pg_source.dbname} TO {pg_source.server.cdc_user}")
    result = _op(pg_source, preflight=False).execute({})
    assert (result["action"], result["restarted"], result["task_states"]) == (
        "unchanged",
        ["0"],
        {"0": "RUNNING"},
    )
    assert result["topics"] == [f"{pg_source.prefix}.public.customers"]
    assert KafkaConnectorStateSensor(task_id="s", connector_name=pg_source.connector, settle_seconds=0).poke(
        {}
    )


def test_the_deferrable_wait_runs_the_trigger_against_the_worker(pg_source, connect):
    op = _op(pg_source, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_lakeops.triggers.kafka_connect.KafkaConnectorStateTrigger"
    assert pg_source.password not in json.dumps(kwargs)  # the expected config travels sealed
    assert kwargs["expected_config"]["database.password"].startswith("sealed:pbkdf2-sha256:")
    revived = KafkaConnectorStateTrigger(**kwargs)

    async def first_event():
        async for event in revived.run():
            return event.payload
        return None

    event = asyncio.run(asyncio.wait_for(first_event(), timeout=90))
    assert event["status"] == "success", event
    assert event["task_states"] == {"0": "RUNNING"}
    result = _op(pg_source, deferrable=True).execute_complete({}, event)
    assert (result["action"], result["connector_state"]) == ("created", "RUNNING")
    assert result["topics_source"] == "connect"


def test_the_password_never_reaches_xcom_logs_lineage_or_the_rendered_config(pg_source, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    op = _op(pg_source)
    result = op.execute({})
    rerun = _op(pg_source, pg_source.config(**{"poll.interval.ms": "900"})).execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    out = capsys.readouterr()
    secret = pg_source.password
    for text in (
        json.dumps(result),
        json.dumps(rerun),
        caplog.text,
        out.out,
        out.err,
        json.dumps(op.config),
        repr(lineage),
    ):
        assert secret not in text
    logged = caplog.text + out.out + out.err
    assert "poll.interval.ms: None -> 900" in logged  # the operator's own log lines were captured
    assert "database.password" not in logged or "***" in logged
