"""KafkaConnectorStateSensor: its module, the re-export kept for old imports, argument checks.

Waits against the real Kafka Connect worker are in tests/integration/kafka_connect/.
"""

from __future__ import annotations

import pytest

from airflow_provider_lakeops.get_provider_info import get_provider_info
from airflow_provider_lakeops.sensors.kafka_connect import KafkaConnectorStateSensor


def test_the_old_import_path_is_the_same_class():
    from airflow_provider_lakeops.operators import kafka_connect

    assert kafka_connect.KafkaConnectorStateSensor is KafkaConnectorStateSensor
    assert KafkaConnectorStateSensor.__module__ == "airflow_provider_lakeops.sensors.kafka_connect"


def test_provider_info_lists_the_sensor_module():
    modules = [m for entry in get_provider_info()["sensors"] for m in entry["python-modules"]]
    assert "airflow_provider_lakeops.sensors.kafka_connect" in modules
    assert "airflow_provider_lakeops.operators.kafka_connect" not in modules


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"target_state": "HAPPY"}, "target_state"), ({"settle_seconds": -1}, "settle_seconds")],
    ids=["unknown-state", "negative-settle"],
)
def test_static_argument_errors_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KafkaConnectorStateSensor(task_id="s", connector_name="inventory-cdc", **kwargs)
