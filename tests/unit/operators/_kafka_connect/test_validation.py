"""Kafka Connect's validate answer (_kafka_connect/validation.py): read defensively, unreachable vs
rejected."""

from __future__ import annotations

from airflow_provider_lakeops.operators._kafka_connect.validation import unreachable_only, validation_errors


def test_validation_answers_are_read_defensively():
    answer = {
        "error_count": 2,
        "configs": [
            {
                "value": {
                    "name": "topic.prefix",
                    "errors": ["The 'topic.prefix' value is invalid: A value is required"],
                }
            },
            {
                "definition": {"name": "internal.legacy.snapshot.max.threads"},
                "value": None,
            },  # measured on Debezium 3.6.1
            {"value": {"name": "database.password", "errors": [], "value": None}},
        ],
    }
    assert validation_errors(answer) == {
        "topic.prefix": ["The 'topic.prefix' value is invalid: A value is required"]
    }
    refused = {
        "database.hostname": [
            "Error while validating connector config: Connection to 127.0.0.1:1 refused. "
            "Check that the hostname and port are correct"
        ]
    }
    auth = {
        "database.hostname": [
            "Error while validating connector config: FATAL: password authentication failed"
        ]
    }
    assert unreachable_only(refused)
    assert not unreachable_only(auth)
    assert not unreachable_only({**refused, **validation_errors(answer)})
