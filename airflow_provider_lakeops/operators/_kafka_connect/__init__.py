"""Private helpers of the Kafka Connect capability: the Debezium and lifecycle operators, the state sensor."""
