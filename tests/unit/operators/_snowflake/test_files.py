"""Parquet sources of the Snowflake MERGE operator (_snowflake/files.py): Arrow types as Snowflake types."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_lakeops.operators._snowflake.files import type_from_arrow


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int64(), "NUMBER(38,0)"),
        (pa.uint8(), "NUMBER(38,0)"),
        (pa.float32(), "FLOAT"),
        (pa.bool_(), "BOOLEAN"),
        (pa.string(), "VARCHAR"),
        (pa.large_string(), "VARCHAR"),
        (pa.binary(), "BINARY"),
        (pa.date32(), "DATE"),
        (pa.decimal128(10, 2), "NUMBER(10,2)"),
        (pa.timestamp("us", tz="UTC"), "TIMESTAMP_TZ(6)"),
        (pa.timestamp("ns"), "TIMESTAMP_NTZ(9)"),
        (pa.time64("us"), "TIME(6)"),
        (pa.null(), "VARCHAR"),
        (pa.list_(pa.string()), "VARIANT"),
        (pa.struct([("x", pa.int32())]), "VARIANT"),
        (pa.dictionary(pa.int32(), pa.string()), "VARCHAR"),
    ],
)
def test_type_from_arrow(arrow_type, expected):
    assert type_from_arrow(arrow_type) == expected


def test_type_from_arrow_refuses_what_it_cannot_stage():
    with pytest.raises(ValueError, match="decimal precision 76"):
        type_from_arrow(pa.decimal256(76, 2), "big")
    with pytest.raises(ValueError, match="cannot stage"):
        type_from_arrow(pa.duration("s"), "d")
