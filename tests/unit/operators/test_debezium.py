"""DebeziumConnectorOperator against the contract-faithful fake Kafka Connect (no database: preflight off).

The preflight against real MariaDB servers is in ``tests/integration/kafka_connect/``.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_lakeops.exceptions import ConnectorDeploymentError
from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator, config_diff, mask_config
from tests.integration import conftest_kafka_connect as kc
from tests.integration.conftest_kafka_connect import (
    CONNECTOR_PASSWORD,
    KAFKA_CONNECT_CONN_ID,
    debezium_config,
)

# shared fixtures (defined in tests/integration/conftest_kafka_connect.py)
fake_connect_server = kc.fake_connect_server
kafka_connect = kc.kafka_connect

NAME = "inventory-cdc"
MYSQL_CONN_ID = "mysql_unit"


@pytest.fixture
def mysql_conn(monkeypatch) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{MYSQL_CONN_ID.upper()}", json.dumps({
        "conn_type": "mysql", "host": "mysql.internal", "port": 3307, "login": "dbz", "password": CONNECTOR_PASSWORD,
        "extra": {"client": "mysql-connector-python"},
    }))
    return MYSQL_CONN_ID


def _op(config=None, **kwargs) -> DebeziumConnectorOperator:
    defaults = {"task_id": "deploy", "connector_name": NAME, "config": config or debezium_config(),
                "kafka_connect_conn_id": KAFKA_CONNECT_CONN_ID, "mysql_conn_id": MYSQL_CONN_ID,
                "preflight": False, "poll_interval": 0.05, "wait_timeout": 20, "deferrable": False}
    defaults.update(kwargs)
    return DebeziumConnectorOperator(**defaults)


def _puts(fake) -> list:
    return fake.recorded("PUT", f"/connectors/{NAME}/config")


# ---------------------------------------------------------------------------- deploy
def test_create_injects_credentials_and_waits_for_running(kafka_connect, mysql_conn):
    result = _op().execute({})
    assert result["action"] == "created"
    assert (result["connector_state"], result["task_states"]) == ("RUNNING", {"0": "RUNNING"})
    assert result["tables"] == ["inventory.customers", "inventory.orders"]
    assert result["topics"] == ["lakeops.inventory.customers", "lakeops.inventory.orders"]
    stored = kafka_connect.stored_config(NAME)
    assert stored["database.password"] == CONNECTOR_PASSWORD
    assert (stored["database.hostname"], stored["database.port"], stored["database.user"]) == (
        "mysql.internal", "3307", "dbz")
    # validated before it was written
    paths = [(r.method, r.path) for r in kafka_connect.requests]
    assert paths.index(("PUT", "/connector-plugins/io.debezium.connector.mysql.MySqlConnector/config/validate")) < (
        paths.index(("PUT", f"/connectors/{NAME}/config")))


def test_rerun_with_the_same_config_makes_no_put(kafka_connect, mysql_conn):
    _op().execute({})
    result = _op().execute({})
    assert result["action"] == "unchanged"
    assert result["changed_keys"] == []
    assert len(_puts(kafka_connect)) == 1
    assert result["connector_state"] == "RUNNING"


def test_update_only_when_changed(kafka_connect, mysql_conn):
    _op().execute({})
    result = _op(debezium_config({"snapshot.mode": "when_needed"})).execute({})
    assert result["action"] == "updated"
    assert result["changed_keys"] == ["snapshot.mode"]
    assert len(_puts(kafka_connect)) == 2
    assert kafka_connect.stored_config(NAME)["snapshot.mode"] == "when_needed"


def test_a_rotated_password_is_an_update_with_masked_values(kafka_connect, mysql_conn, monkeypatch, capsys):
    _op().execute({})
    monkeypatch.setenv(f"AIRFLOW_CONN_{MYSQL_CONN_ID.upper()}", json.dumps({
        "conn_type": "mysql", "host": "mysql.internal", "port": 3307, "login": "dbz", "password": "rotated-Pw-987"}))
    result = _op().execute({})
    assert result["changed_keys"] == ["database.password"]
    out = capsys.readouterr()
    assert "database.password: *** -> ***" in out.out
    assert "rotated-Pw-987" not in out.out + out.err
    assert CONNECTOR_PASSWORD not in out.out + out.err


def test_validation_errors_fail_with_per_key_messages_and_deploy_nothing(kafka_connect, mysql_conn):
    config = debezium_config({"snapshot.mode": "sometimes", "transforms.unwrap.type": "com.example.Missing"},
                             drop=("topic.prefix",))
    with pytest.raises(AirflowFailException) as err:
        _op(config).execute({})
    message = str(err.value)
    assert "(3 error(s)); nothing was deployed" in message
    assert "topic.prefix: The 'topic.prefix' value is invalid: A value is required" in message
    assert "snapshot.mode: The 'snapshot.mode' value is invalid: Value must be one of" in message
    assert "Class com.example.Missing could not be found" in message
    assert isinstance(err.value.__cause__, ConnectorDeploymentError)
    assert _puts(kafka_connect) == []
    assert kafka_connect.connector_names() == []


def test_dry_run_reports_the_masked_diff_and_changes_nothing(kafka_connect, mysql_conn):
    result = _op(dry_run=True).execute({})
    assert (result["action"], result["would"]) == ("dry_run", "create")
    diff = {c["key"]: c for c in result["changes"]}
    assert diff["database.password"] == {"key": "database.password", "change": "added", "old": None, "new": "***"}
    assert diff["topic.prefix"]["new"] == "lakeops"
    assert CONNECTOR_PASSWORD not in json.dumps(result)
    assert _puts(kafka_connect) == []
    assert kafka_connect.connector_names() == []


def test_dry_run_on_a_live_connector_flags_refused_keys(kafka_connect, mysql_conn):
    _op().execute({})
    result = _op(debezium_config({"topic.prefix": "lakeops2"}), dry_run=True).execute({})
    assert result["would"] == "update"
    assert result["refused_keys"] == ["topic.prefix"]
    assert len(_puts(kafka_connect)) == 1


@pytest.mark.parametrize("key", ["topic.prefix", "database.server.id"])
def test_immutable_key_change_is_refused(kafka_connect, mysql_conn, key):
    _op().execute({})
    with pytest.raises(AirflowFailException, match=f"refusing to change {key} on the live connector"):
        _op(debezium_config({key: "7777" if key == "database.server.id" else "other"})).execute({})
    assert len(_puts(kafka_connect)) == 1
    assert kafka_connect.stored_config(NAME)[key] == debezium_config()[key]


def test_immutable_key_change_when_explicitly_allowed(kafka_connect, mysql_conn):
    _op().execute({})
    result = _op(debezium_config({"topic.prefix": "lakeops_v2"}), allow_immutable_changes=["topic.prefix"]).execute({})
    assert result["action"] == "updated"
    assert result["topics"][0] == "lakeops_v2.inventory.customers"


def test_three_409s_then_success(kafka_connect, mysql_conn):
    kafka_connect.begin_rebalance(3)
    result = _op().execute({})
    assert result["action"] == "created"
    assert [r.status for r in kafka_connect.requests if r.status == 409] == [409, 409, 409]


def test_a_failed_task_is_restarted_once_then_runs(kafka_connect, mysql_conn):
    kafka_connect.fail_task(NAME, 0, times=1)
    result = _op().execute({})
    assert result["connector_state"] == "RUNNING"
    assert result["restarted"] == ["0"]
    restarts = kafka_connect.recorded("POST", f"/connectors/{NAME}/restart")
    assert len(restarts) == 1
    assert restarts[0].query == {"includeTasks": ["true"], "onlyFailed": ["true"]}


def test_a_permanent_failure_fails_with_the_trace(kafka_connect, mysql_conn):
    trace = ("org.apache.kafka.connect.errors.ConnectException: Access denied\n" + "\tat io.x.Y(Y.java:9)\n" * 300
             + "Caused by: java.sql.SQLException: Access denied for user 'dbz'@'%'")
    kafka_connect.fail_task(NAME, 0, trace=trace, times=None)
    with pytest.raises(ConnectorDeploymentError) as err:
        _op(trace_max_chars=600).execute({})
    message = str(err.value)
    assert "after restarting 0 once" in message
    assert "task 0 FAILED" in message
    assert "org.apache.kafka.connect.errors.ConnectException: Access denied" in message
    assert "Caused by: java.sql.SQLException: Access denied for user 'dbz'@'%'" in message
    assert len(message) < 1500  # trimmed, not the 7 kB trace
    assert len(kafka_connect.recorded("POST", f"/connectors/{NAME}/restart")) == 1


def test_restart_can_be_disabled(kafka_connect, mysql_conn):
    kafka_connect.fail_task(NAME, 0, times=1)
    with pytest.raises(ConnectorDeploymentError, match="task 0 FAILED"):
        _op(restart_failed_tasks=False).execute({})
    assert kafka_connect.recorded("POST", f"/connectors/{NAME}/restart") == []


def test_timeout(kafka_connect, mysql_conn):
    kafka_connect.set_start_delay(60)
    with pytest.raises(ConnectorDeploymentError, match="did not reach RUNNING in time"):
        _op(wait_timeout=0.5).execute({})
    assert kafka_connect.connector_names() == [NAME]  # deployed; a retry will wait again, not redeploy


def test_a_paused_connector_is_reported_not_waited_for(kafka_connect, mysql_conn):
    _op().execute({})
    from airflow_provider_lakeops.hooks.kafka_connect import KafkaConnectHook

    KafkaConnectHook(KAFKA_CONNECT_CONN_ID).pause_connector(NAME)
    with pytest.raises(ConnectorDeploymentError, match="connector is PAUSED; resume it"):
        _op().execute({})


def test_wait_for_running_false_returns_after_the_put(kafka_connect, mysql_conn):
    kafka_connect.set_start_delay(60)
    result = _op(wait_for_running=False).execute({})
    assert result["action"] == "created"
    assert result["connector_state"] == "UNASSIGNED"


# ---------------------------------------------------------------------------- deferrable path
def _run_trigger(deferred: TaskDeferred) -> dict:
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath.endswith("KafkaConnectorStateTrigger")
    trigger = type(deferred.trigger)(**json.loads(json.dumps(kwargs)))  # as the triggerer rebuilds it

    async def first():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first())


def test_deferrable_create_runs_the_trigger_then_completes(kafka_connect, mysql_conn):
    op = _op(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    assert deferred.value.method_name == "execute_complete"
    event = _run_trigger(deferred.value)
    result = _op(deferrable=True).execute_complete({}, event)  # a fresh operator, as after a resume
    assert result["action"] == "created"
    assert result["connector_state"] == "RUNNING"
    assert result["topics"] == ["lakeops.inventory.customers", "lakeops.inventory.orders"]


def test_deferrable_restart_defers_again_then_completes(kafka_connect, mysql_conn):
    kafka_connect.fail_task(NAME, 0, times=1)
    with pytest.raises(TaskDeferred) as first:
        _op(deferrable=True).execute({})
    event = _run_trigger(first.value)
    assert event["status"] == "failed"
    with pytest.raises(TaskDeferred) as second:
        _op(deferrable=True).execute_complete({}, event)
    assert second.value.trigger.carry["restarted"] == ["0"]
    result = _op(deferrable=True).execute_complete({}, _run_trigger(second.value))
    assert result["restarted"] == ["0"]
    assert result["connector_state"] == "RUNNING"


# ---------------------------------------------------------------------------- bad input: nothing sent
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (debezium_config({"database.password": "hunter2-literal"}), "literal database.password"),
        (debezium_config({"name": "other"}), "differs from connector_name"),
        (debezium_config(drop=("connector.class",)), "no connector.class"),
        ('{"connector.class": ', "not valid JSON"),
        ('["a"]', "must be a JSON object"),
        ({**debezium_config(), "table.include.list": ["a", "b"]}, "flat strings"),
        ({**debezium_config(), "snapshot.mode": None}, "null"),
        (debezium_config({"database.user": "root"}), "differs from the login"),
    ],
    ids=["literal-password", "name-mismatch", "no-class", "bad-json", "not-object", "nested", "null", "user-mismatch"],
)
def test_bad_config_is_refused_before_anything_is_sent(kafka_connect, mysql_conn, config, message):
    with pytest.raises(ValueError, match=message) as err:
        _op(config).execute({})
    assert "hunter2-literal" not in str(err.value)
    assert kafka_connect.requests == []


def test_empty_connector_name_is_refused(kafka_connect, mysql_conn):
    with pytest.raises(ValueError, match="connector_name"):
        _op(connector_name="  ").execute({})
    assert kafka_connect.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"immutable_keys": "topic.prefix"}, "immutable_keys"), ({"allow_immutable_changes": "topic.prefix"}, "allow"),
     ({"wait_timeout": 0}, "positive"), ({"trace_max_chars": 10}, "trace_max_chars")],
    ids=["immutable-str", "allow-str", "timeout", "trace"],
)
def test_static_argument_errors_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _op(**kwargs)


def test_placeholders_pass_through_untouched(kafka_connect, mysql_conn, tmp_path):
    secrets_file = tmp_path / "mysql.properties"
    secrets_file.write_text(f"user=dbz\npassword={CONNECTOR_PASSWORD}\n")
    kafka_connect.config_providers = {"file": secrets_file}
    placeholder = f"${{file:{secrets_file}:password}}"
    try:
        result = _op(debezium_config({"database.password": placeholder, "database.user": f"${{file:{secrets_file}:user}}"})).execute({})
    finally:
        kafka_connect.config_providers = {}
    assert result["action"] == "created"
    stored = kafka_connect.stored_config(NAME)
    assert stored["database.password"] == placeholder
    assert stored["database.user"].startswith("${file:")
    assert CONNECTOR_PASSWORD not in json.dumps(_puts(kafka_connect)[0].body)


def test_without_mysql_conn_the_config_host_is_used(kafka_connect):
    config = debezium_config({"database.hostname": "db.internal", "database.user": "dbz"})
    result = _op(config, mysql_conn_id=None).execute({})
    assert result["action"] == "created"
    assert "database.password" not in kafka_connect.stored_config(NAME)


# ---------------------------------------------------------------------------- secrets and lineage
def test_password_absent_from_logs_xcom_and_lineage(kafka_connect, mysql_conn, capsys):
    op = _op()
    result = op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    out = capsys.readouterr()
    assert CONNECTOR_PASSWORD not in out.out + out.err
    assert CONNECTOR_PASSWORD not in json.dumps(result)
    from openlineage.client.serde import Serde

    events = json.dumps([Serde.to_dict(d) for d in lineage.inputs + lineage.outputs])
    assert CONNECTOR_PASSWORD not in events
    assert CONNECTOR_PASSWORD not in json.dumps(op.config)  # the rendered template field


def test_lineage_inputs_are_mysql_tables_outputs_kafka_topics(kafka_connect, mysql_conn):
    op = _op()
    op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("mysql://mysql.internal:3307", "inventory.customers"), ("mysql://mysql.internal:3307", "inventory.orders")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("kafka://kafka.internal:9092", "lakeops.inventory.customers"),
        ("kafka://kafka.internal:9092", "lakeops.inventory.orders")]


def test_no_lineage_for_a_dry_run(kafka_connect, mysql_conn):
    op = _op(dry_run=True)
    op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == []
    assert lineage.outputs == []


# ---------------------------------------------------------------------------- helpers
def test_config_diff_and_mask():
    running = {"a": "1", "database.password": "old-pw-1", "gone": "x"}
    desired = {"a": "2", "database.password": "new-pw-2", "jdbc.url": "mysql://u:new-pw-2@h"}
    diff = config_diff(running, desired, secrets=["new-pw-2", "old-pw-1"])
    assert diff == [
        {"key": "a", "change": "changed", "old": "1", "new": "2"},
        {"key": "database.password", "change": "changed", "old": "***", "new": "***"},
        {"key": "gone", "change": "removed", "old": "x", "new": None},
        {"key": "jdbc.url", "change": "added", "old": None, "new": "mysql://u:***@h"},
    ]
    assert mask_config({"sasl.jaas.config": "x y", "p": "${file:/a:b}", "database.password": "${file:/a:p}"}) == {
        "sasl.jaas.config": "***", "p": "${file:/a:b}", "database.password": "${file:/a:p}"}
