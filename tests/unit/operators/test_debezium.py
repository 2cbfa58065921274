"""DebeziumConnectorOperator's pure parts: config rendering, credential injection, diff, masking, validation answers.

Nothing here needs a server (the operator only reads Airflow connections from the environment);
deployments against the real Kafka Connect worker are in tests/integration/kafka_connect/.
"""

from __future__ import annotations

import json
import warnings

import pytest

from airflow_provider_lakeops.operators.debezium import (
    DebeziumConnectorOperator,
    config_diff,
    data_topics,
    mask_config,
    source_kind,
    unreachable_only,
    validation_errors,
)
from airflow_provider_lakeops.operators.kafka_connect import (
    KafkaConnectorLifecycleOperator,
    KafkaConnectorStateSensor,
    restarted_instances,
)

NAME = "inventory-cdc"
PASSWORD = "pw-unit-" + "x" * 12
PG = "io.debezium.connector.postgresql.PostgresConnector"
MYSQL = "io.debezium.connector.mysql.MySqlConnector"


@pytest.fixture
def conns(monkeypatch) -> None:
    for conn_id, conn in {
        "pg_unit": {"conn_type": "postgres", "host": "pg.internal", "schema": "shop", "login": "dbz", "password": PASSWORD},
        "pg_nodb": {"conn_type": "postgres", "host": "pg.internal", "login": "dbz", "password": PASSWORD},
        "mysql_unit": {"conn_type": "mysql", "host": "mysql.internal", "port": 3307, "login": "dbz", "password": PASSWORD},
    }.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _config(cls: str = PG, **extra: str) -> dict[str, str]:
    return {"connector.class": cls, "topic.prefix": "p", "table.include.list": "public.customers", **extra}


def _op(config=None, **kwargs) -> DebeziumConnectorOperator:
    defaults = {"task_id": "deploy", "connector_name": NAME, "config": config or _config(), "database_conn_id": "pg_unit"}
    defaults.update(kwargs)
    return DebeziumConnectorOperator(**defaults)


def _payload(op: DebeziumConnectorOperator) -> tuple[dict, list]:
    return op._with_credentials(op._rendered_config())


# ---------------------------------------------------------------------------- credentials
def test_postgres_credentials_and_defaults_come_from_the_connection(conns):
    payload, secrets = _payload(_op())
    assert payload["database.hostname"] == "pg.internal"
    assert payload["database.port"] == "5432"
    assert payload["database.dbname"] == "shop"
    assert (payload["database.user"], payload["database.password"]) == ("dbz", PASSWORD)
    assert secrets == [PASSWORD]
    assert payload["name"] == NAME


def test_mysql_credentials_and_the_deprecated_alias(conns):
    with pytest.warns(DeprecationWarning, match="database_conn_id"):
        op = DebeziumConnectorOperator(task_id="d", connector_name=NAME, config=_config(MYSQL), mysql_conn_id="mysql_unit")
    assert op.database_conn_id == op.mysql_conn_id == "mysql_unit"
    payload, _ = _payload(op)
    assert (payload["database.hostname"], payload["database.port"]) == ("mysql.internal", "3307")
    assert "database.dbname" not in payload


def test_the_config_may_name_host_and_port_the_workers_use(conns):
    payload, _ = _payload(_op(_config(**{"database.hostname": "pg.connect-net", "database.port": "6432"})))
    assert (payload["database.hostname"], payload["database.port"]) == ("pg.connect-net", "6432")


@pytest.mark.parametrize(
    ("config", "conn_id", "message"),
    [
        (_config(**{"database.password": "hunter2-literal"}), "pg_unit", "literal database.password"),
        (_config(**{"name": "other"}), "pg_unit", "differs from connector_name"),
        ({"topic.prefix": "p"}, "pg_unit", "no connector.class"),
        ('{"connector.class": ', "pg_unit", "not valid JSON"),
        ('["a"]', "pg_unit", "must be a JSON object"),
        ({**_config(), "table.include.list": ["a", "b"]}, "pg_unit", "flat strings"),
        ({**_config(), "snapshot.mode": None}, "pg_unit", "null"),
        (_config(**{"database.user": "root"}), "pg_unit", "differs from the login"),
        (_config(MYSQL), "pg_unit", "is a postgres connection"),
        (_config(), "mysql_unit", "is a mysql connection"),
        (_config(), "pg_nodb", "names no database"),
        (_config("io.confluent.connect.jdbc.JdbcSourceConnector"), "pg_unit", "not a source this operator knows"),
    ],
    ids=["literal-password", "name-mismatch", "no-class", "bad-json", "not-object", "nested", "null",
         "user-mismatch", "mysql-class-pg-conn", "pg-class-mysql-conn", "no-dbname", "unknown-class"],
)
def test_bad_config_is_refused_before_anything_is_sent(conns, config, conn_id, message):
    with pytest.raises(ValueError, match=message) as err:
        _payload(_op(config, database_conn_id=conn_id))
    assert "hunter2-literal" not in str(err.value)
    assert PASSWORD not in str(err.value)


def test_placeholders_pass_through_untouched(conns):
    placeholder = "${file:/opt/kafka/secrets/pg.properties:password}"
    payload, secrets = _payload(_op(_config(**{"database.password": placeholder})))
    assert payload["database.password"] == placeholder


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"immutable_keys": "topic.prefix"}, "immutable_keys"), ({"allow_immutable_changes": "topic.prefix"}, "allow"),
     ({"wait_timeout": 0}, "positive"), ({"trace_max_chars": 10}, "trace_max_chars"),
     ({"settle_seconds": -1}, "settle_seconds"), ({"mysql_conn_id": "a", "database_conn_id": "b"}, "database_conn_id only")],
    ids=["immutable-str", "allow-str", "timeout", "trace", "settle", "both-conn-ids"],
)
def test_static_argument_errors_at_construction(kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match=message):
            _op(**kwargs)


def test_the_password_is_not_in_the_rendered_template_fields(conns):
    op = _op()
    _payload(op)
    assert all(PASSWORD not in json.dumps(getattr(op, f)) for f in op.template_fields)


# ---------------------------------------------------------------------------- helpers
def test_source_kinds():
    assert source_kind(PG) == "postgres"
    assert source_kind(MYSQL) == source_kind("io.debezium.connector.mariadb.MariaDbConnector") == "mysql"
    assert source_kind("x.Y") is None


def test_validation_answers_are_read_defensively():
    answer = {"error_count": 2, "configs": [
        {"value": {"name": "topic.prefix", "errors": ["The 'topic.prefix' value is invalid: A value is required"]}},
        {"definition": {"name": "internal.legacy.snapshot.max.threads"}, "value": None},  # measured on Debezium 3.6.1
        {"value": {"name": "database.password", "errors": [], "value": None}},
    ]}
    assert validation_errors(answer) == {"topic.prefix": ["The 'topic.prefix' value is invalid: A value is required"]}
    refused = {"database.hostname": ["Error while validating connector config: Connection to 127.0.0.1:1 refused. "
                                     "Check that the hostname and port are correct"]}
    auth = {"database.hostname": ["Error while validating connector config: FATAL: password authentication failed"]}
    assert unreachable_only(refused)
    assert not unreachable_only(auth)
    assert not unreachable_only({**refused, **validation_errors(answer)})


def test_data_topics_drop_debeziums_own_topics():
    topics = ["p", "p.inventory.customers", "__debezium-heartbeat.p", "p.transaction", "p.message", "routed.all"]
    assert data_topics(topics, {"topic.prefix": "p"}) == ["p.inventory.customers", "routed.all"]


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


def test_no_lineage_before_execute():
    lineage = _op().get_openlineage_facets_on_complete(None)
    assert (lineage.inputs, lineage.outputs) == ([], [])


# ---------------------------------------------------------------------------- lifecycle helpers
def test_restarted_instances_from_the_restart_answer():
    body = {"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RESTARTING"}, {"id": 1, "state": "RUNNING"}]}
    assert restarted_instances(body, include_tasks=True, only_failed=True) == ["0"]
    assert restarted_instances(None, include_tasks=False, only_failed=False) == ["connector"]


def test_lifecycle_bad_arguments():
    with pytest.raises(ValueError, match="action"):
        KafkaConnectorLifecycleOperator(task_id="x", connector_name=NAME, action="explode")
    with pytest.raises(ValueError, match="positive"):
        KafkaConnectorLifecycleOperator(task_id="x", connector_name=NAME, action="pause", wait_timeout=0)
    with pytest.raises(ValueError, match="target_state"):
        KafkaConnectorStateSensor(task_id="s", connector_name=NAME, target_state="HAPPY")
