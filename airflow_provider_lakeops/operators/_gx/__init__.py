"""Private helpers of the Great Expectations operator (GXValidateOperator)."""
