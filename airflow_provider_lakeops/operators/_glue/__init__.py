"""Private helpers of the Glue table registration operator (GlueRegisterTableOperator)."""
