"""DebeziumConnectorOperator end to end: preflight against MariaDB with a binlog, deploy to the fake Connect."""

from __future__ import annotations

import json

import pytest

from airflow_provider_lakeops.exceptions import PreflightError
from airflow_provider_lakeops.operators.debezium import DebeziumConnectorOperator
from tests.integration.conftest_kafka_connect import (
    CONNECTOR_PASSWORD,
    KAFKA_CONNECT_CONN_ID,
    debezium_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.services]
NAME = "inventory-cdc"


def _op(mysql_conn_id: str, config=None, **kwargs) -> DebeziumConnectorOperator:
    return DebeziumConnectorOperator(
        task_id="deploy", connector_name=NAME, config=config or debezium_config(),
        kafka_connect_conn_id=KAFKA_CONNECT_CONN_ID, mysql_conn_id=mysql_conn_id, poll_interval=0.05,
        wait_timeout=20, deferrable=False, **kwargs)


def test_preflight_then_deploy_and_rerun(kafka_connect, mysql_cdc_conn, binlog_mariadb, capsys):
    config = debezium_config({"table.include.list": r"inventory\..*"})
    result = _op(mysql_cdc_conn, config).execute({})
    assert result["action"] == "created"
    assert result["connector_state"] == "RUNNING"
    assert result["tables"] == ["inventory.customers", "inventory.orders"]  # regex resolved by the preflight
    stored = kafka_connect.stored_config(NAME)
    assert (stored["database.hostname"], stored["database.port"]) == ("127.0.0.1", str(binlog_mariadb.port))
    assert stored["database.password"] == CONNECTOR_PASSWORD
    op = _op(mysql_cdc_conn, config)
    assert op.execute({})["action"] == "unchanged"
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [d.name for d in lineage.inputs] == ["inventory.customers", "inventory.orders"]
    assert {d.namespace for d in lineage.inputs} == {f"mysql://127.0.0.1:{binlog_mariadb.port}"}
    out = capsys.readouterr()
    assert CONNECTOR_PASSWORD not in out.out + out.err
    assert len(kafka_connect.recorded("PUT", f"/connectors/{NAME}/config")) == 1


def test_a_failed_preflight_deploys_nothing(kafka_connect, mysql_cdc_conn, binlog_mariadb):
    config = debezium_config({"table.include.list": "inventory.customers,inventory.shipments"})
    with pytest.raises(PreflightError, match="inventory.shipments") as err:
        _op(mysql_cdc_conn, config).execute({})
    assert err.value.problems[0]["check"] == "table"
    assert kafka_connect.requests == []  # Kafka Connect was not even asked
    assert CONNECTOR_PASSWORD not in json.dumps(err.value.problems) + str(err.value)
