"""Private helpers of the Snowflake MERGE operator (SnowflakeMergeOperator)."""
