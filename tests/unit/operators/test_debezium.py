"""DebeziumConnectorOperator's pure parts: config rendering, credential injection, diff, masking, validation
answers.

Nothing here needs a server (the operator only reads Airflow connections from the environment);
deployments against the real Kafka Connect worker are in tests/integration/kafka_connect/.
"""

from __future__ import annotations

import json
import warnings

import pytest

from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator

NAME = "inventory-cdc"
PASSWORD = "pw-unit-" + "x" * 12
PG = "io.debezium.connector.postgresql.PostgresConnector"
MYSQL = "io.debezium.connector.mysql.MySqlConnector"


@pytest.fixture
def conns(monkeypatch) -> None:
    for conn_id, conn in {
        "pg_unit": {
            "conn_type": "postgres",
            "host": "pg.internal",
            "schema": "shop",
            "login": "dbz",
            "password": PASSWORD,
        },
        "pg_nodb": {"conn_type": "postgres", "host": "pg.internal", "login": "dbz", "password": PASSWORD},
        "mysql_unit": {
            "conn_type": "mysql",
            "host": "mysql.internal",
            "port": 3307,
            "login": "dbz",
            "password": PASSWORD,
        },
    }.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _config(cls: str = PG, **extra: str) -> dict[str, str]:
    return {"connector.class": cls, "topic.prefix": "p", "table.include.list": "public.customers", **extra}


def _op(config=None, **kwargs) -> DebeziumConnectorOperator:
    defaults = {
        "task_id": "deploy",
        "connector_name": NAME,
        "config": config or _config(),
        "database_conn_id": "pg_unit",
    }
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
        op = DebeziumConnectorOperator(
            task_id="d", connector_name=NAME, config=_config(MYSQL), mysql_conn_id="mysql_unit"
        )
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
        (
            _config("io.confluent.connect.jdbc.JdbcSourceConnector"),
            "pg_unit",
            "not a source this operator knows",
        ),
    ],
    ids=[
        "literal-password",
        "name-mismatch",
        "no-class",
        "bad-json",
        "not-object",
        "nested",
        "null",
        "user-mismatch",
        "mysql-class-pg-conn",
        "pg-class-mysql-conn",
        "no-dbname",
        "unknown-class",
    ],
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
    [
        ({"immutable_keys": "topic.prefix"}, "immutable_keys"),
        ({"allow_immutable_changes": "topic.prefix"}, "allow"),
        ({"wait_timeout": 0}, "positive"),
        ({"trace_max_chars": 10}, "trace_max_chars"),
        ({"settle_seconds": -1}, "settle_seconds"),
        ({"mysql_conn_id": "a", "database_conn_id": "b"}, "database_conn_id only"),
    ],
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


def test_no_lineage_before_execute():
    lineage = _op().get_openlineage_facets_on_complete(None)
    assert (lineage.inputs, lineage.outputs) == ([], [])


def test_helpers_stay_importable_from_the_operator_module():
    from airflow_provider_lakeops.operators import debezium
    from airflow_provider_lakeops.operators._kafka_connect import config, source, topics, validation

    assert debezium.config_diff is config.config_diff
    assert debezium.mask_config is config.mask_config
    assert debezium.is_placeholder is config.is_placeholder
    assert debezium.source_kind is source.source_kind
    assert debezium.SOURCE_KINDS is source.SOURCE_KINDS
    assert debezium.data_topics is topics.data_topics
    assert debezium.validation_errors is validation.validation_errors
    assert debezium.unreachable_only is validation.unreachable_only
