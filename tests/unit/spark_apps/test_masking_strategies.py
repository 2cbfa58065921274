"""spark_apps.masking: every strategy's exact output, nulls, malformed values, HMAC correctness.

Uses the session-wide ``spark`` fixture (local[2]).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random

import pytest

from airflow_provider_lakeops.spark_apps import masking as M
from airflow_provider_lakeops.spark_apps.pii_policy import PolicyError, parse_policy

pytestmark = pytest.mark.spark

KEY = b"lakeops-test-key-0123456789-abcdefghijklmnop"  # 44 bytes


def _apply(spark, values, fn, dtype="string"):
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], f"i int, v {dtype}")
    return [r.m for r in df.select("i", fn(df["v"]).alias("m")).orderBy("i").collect()]


CASES = {
    "email": [
        ("jane.doe@example.com", "j***@example.com"),
        ("søren.kowalski8@example.com", "s***@example.com"),
        ("a@b.co", "***@b.co"),  # a one-character local part is not kept at all
        ("  bob@mail.example.org ", "b***@mail.example.org"),
        ("margaret.liskov2 at corp.example.io", "***@***"),  # the generator's malformed email
        ("no-at-sign", "***@***"),
        ("x@localhost", "***@***"),
        ("a@@b.com", "***@***"),
        ("", "***@***"),
        (None, None),
    ],
    "phone": [
        ("555-123-4567", "***-***-4567"),
        ("(555) 123-4567", "***-***-4567"),
        ("+1 555 123 4567", "***-***-4567"),
        ("5551234567", "***-***-4567"),
        ("123-4567", "***-***-****"),  # short: fully masked
        ("12345", "***-***-****"),
        ("1234567890123456", "***-***-****"),  # more than 15 digits
        ("call me", "***-***-****"),
        ("", "***-***-****"),
        (None, None),
    ],
    "ssn": [
        ("123-45-6789", "***-**-6789"),
        ("123456789", "***-**-6789"),
        (" 078-05-1120 ", "***-**-1120"),
        ("12-345-6789", "***-**-****"),
        ("1234", "***-**-****"),
        ("123-45-678x", "***-**-****"),
        ("", "***-**-****"),
        (None, None),
    ],
    "name": [
        ("Jane Doe", "J****"),
        ("Zoë", "Z****"),
        ("Ólafur Arnalds", "Ó****"),
        ("  ada ", "a****"),
        ("X", "X****"),
        ("   ", "****"),
        ("", "****"),
        (None, None),
    ],
    "ip": [
        ("192.168.1.20", "192.168.***.***"),
        ("10.0.0.1", "10.0.***.***"),
        ("2001:db8::1", "2001:db8:0:****:****:****:****:****"),
        ("2001:0DB8:85a3:0000:0000:8a2e:0370:7334", "2001:0db8:85a3:****:****:****:****:****"),
        ("fe80::1", "fe80:0:0:****:****:****:****:****"),
        ("1:2::3:4:5:6:7", "1:2:0:****:****:****:****:****"),
        ("::1", "0:0:0:****:****:****:****:****"),
        ("  10.1.2.3 ", "10.1.***.***"),
        ("FE80::1", "fe80:0:0:****:****:****:****:****"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8:0:****:****:****:****:****"),
        ("256.1.1.1", "***"),
        ("192.168.001.001", "***"),
        ("1.2.3", "***"),
        ("::ffff:1.2.3.4", "***"),
        ("fe80::1%eth0", "***"),
        ("1:2:3:4:5:6:7:8:9", "***"),
        ("not an ip", "***"),
        ("", "***"),
        (None, None),
    ],
}


STRATEGY_FUNCTIONS = {
    "email": M.mask_email,
    "phone": M.mask_phone,
    "ssn": M.mask_ssn,
    "name": M.mask_name,
    "ip": M.mask_ip,
}


@pytest.fixture(scope="module")
def masked_cases(spark):
    """Every case value through every strategy, in one Spark job: {strategy: {value: output}}."""
    values = sorted({v for cases in CASES.values() for v, _ in cases if v is not None})
    df = spark.createDataFrame([(v,) for v in [*values, None]], "v string")
    rows = df.select("v", *[fn(df["v"]).alias(name) for name, fn in STRATEGY_FUNCTIONS.items()]).collect()
    return {name: {row.v: row[name] for row in rows} for name in STRATEGY_FUNCTIONS}


@pytest.mark.parametrize("strategy", list(CASES))
def test_strategy_exact_output(masked_cases, strategy):
    got = [(value, masked_cases[strategy][value]) for value, _ in CASES[strategy]]
    assert got == CASES[strategy]


def test_email_keep_chars(spark):
    values = ["jane.doe@example.com", "ab@example.com", "a@example.com"]
    assert _apply(spark, values, lambda c: M.mask_email(c, keep_chars=3)) == [
        "jan***@example.com",
        "a***@example.com",
        "***@example.com",
    ]
    assert _apply(spark, values, lambda c: M.mask_email(c, keep_chars=0)) == [
        "***@example.com",
        "***@example.com",
        "***@example.com",
    ]


def test_phone_min_digits(spark):
    assert _apply(spark, ["555-1234", "55-1234"], lambda c: M.mask_phone(c, min_digits=7)) == [
        "***-***-1234",
        "***-***-****",
    ]


def test_redact_null_or_constant(spark):
    assert _apply(spark, ["secret", "", None], lambda c: M.redact(c)) == [None, None, None]
    assert _apply(spark, ["secret", "", None], lambda c: M.redact(c, "[REDACTED]")) == [
        "[REDACTED]",
        "[REDACTED]",
        None,
    ]


def test_truncate_date_on_strings_dates_and_timestamps(spark):
    strings = ["2025-10-31", "2025-10-31T18:28:16.171Z", "not a date", "", None]
    assert _apply(spark, strings, lambda c: M.truncate_date(c, "month")) == [
        "2025-10-01",
        "2025-10-01",
        None,
        None,
        None,
    ]
    assert _apply(spark, ["2025-10-31"], lambda c: M.truncate_date(c, "year")) == ["2025-01-01"]
    assert _apply(spark, ["2025-10-31"], lambda c: M.truncate_date(c, "quarter")) == ["2025-10-01"]
    assert _apply(spark, ["2025-10-31"], lambda c: M.truncate_date(c, "week")) == ["2025-10-27"]  # a Monday
    from pyspark.sql import types as T

    dates = [dt.date(2025, 10, 31), None]
    assert _apply(spark, dates, lambda c: M.truncate_date(c, "month", T.DateType()), "date") == [
        dt.date(2025, 10, 1),
        None,
    ]
    stamps = [dt.datetime(2025, 10, 31, 18, 28, 16, tzinfo=dt.timezone.utc)]
    out = _apply(spark, stamps, lambda c: M.truncate_date(c, "day", T.TimestampType()), "timestamp")
    assert out[0].replace(tzinfo=None) == dt.datetime(2025, 10, 31)  # the session time zone is UTC


def test_keep_is_identity(spark):
    assert _apply(spark, ["a", None], M.keep) == ["a", None]


def _random_values(n: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "abcXYZ019 @.-_é漢字🙂\t\n'\"\\"
    values = ["", " ", "a", "é", "漢字", "🙂", "x" * 64, "y" * 65, "z" * 1000, "null", "NULL"]
    values += [f"user{i}@example.com" for i in range(200)]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(n)]
    return values


def test_hmac_equals_python_hmac_on_many_values(spark):
    values = _random_values(1000)  # 1,211 values with unicode, empty, long and control characters
    keys = {"k44": KEY, "k64": b"K" * 64, "k100": b"L" * 100}  # 100 bytes: hashed first (RFC 2104)
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    hkeys = {name: M.hmac_key(spark, key) for name, key in keys.items()}
    rows = (
        df.select("i", *[M.hmac_sha256(df["v"], k).alias(n) for n, k in hkeys.items()]).orderBy("i").collect()
    )
    assert len(rows) == len(values) > 1000
    for name, key in keys.items():
        want = [hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest() for v in values]
        assert [row[name] for row in rows] == want, name


def test_hmac_nulls_stay_null_and_binary_works(spark):
    hkey = M.hmac_key(spark, KEY)
    assert _apply(spark, [None, "x"], lambda c: M.hmac_sha256(c, hkey))[0] is None
    out = _apply(spark, [bytearray(b"\x00\xff")], lambda c: M.hmac_sha256(c, hkey), "binary")
    assert out == [hmac.new(KEY, b"\x00\xff", hashlib.sha256).hexdigest()]


def test_hmac_is_deterministic_across_sessions_and_differs_across_keys(spark):
    values = ["jane@example.com", "joe@example.com"]
    first = _apply(spark, values, lambda c: M.hmac_sha256(c, M.hmac_key(spark, KEY)))
    again = _apply(spark, values, lambda c: M.hmac_sha256(c, M.hmac_key(spark, KEY)))
    other = _apply(spark, values, lambda c: M.hmac_sha256(c, M.hmac_key(spark, KEY[::-1])))
    assert first == again
    assert set(first).isdisjoint(other)
    assert first[0] != first[1]


def test_hmac_key_material_is_not_in_the_plan(spark):
    key = b"plan-visibility-key-" + b"Q" * 24
    block = key.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in block).hex()
    opad = bytes(b ^ 0x5C for b in block).hex()
    hkey = M.hmac_key(spark, key, fingerprint="abc")
    df = spark.createDataFrame([("a@b.com",)], "v string")
    out = df.select(M.hmac_sha256(df["v"], hkey).alias("h"))
    out.collect()  # the executed (final adaptive) plan is part of what we check
    execution = out._jdf.queryExecution()
    text = (
        (execution.toString() + execution.executedPlan().toString()).upper().replace(",", "").replace(" ", "")
    )
    assert "SCALAR-SUBQUERY" in text or "SUBQUERY" in text
    for secret in (key.hex(), ipad, opad, key.decode()):
        assert secret.upper() not in text
    assert "Q" * 24 not in text
    assert repr(hkey) == "HmacKey(fingerprint='abc')"


def test_apply_policy_keeps_order_names_and_types(spark):
    df = spark.createDataFrame(
        [(1, "jane@example.com", "555-123-4567", "10.1.2.3", 9.5)],
        "id long, email string, phone string, ip string, amount double",
    )
    policy = parse_policy(
        {
            "columns": {
                "id": "keep",
                "email": "hmac",
                "phone": "phone",
                "ip": "ip",
                "amount": {"strategy": "redact"},
            }
        }
    )
    out = M.apply_policy(df, policy, M.hmac_key(spark, KEY))
    assert out.columns == df.columns
    assert dict(out.dtypes)["amount"] == "double"  # redacted to a typed null
    row = out.collect()[0]
    assert row.id == 1
    assert row.email == hmac.new(KEY, b"jane@example.com", hashlib.sha256).hexdigest()
    assert (row.phone, row.ip, row.amount) == ("***-***-4567", "10.1.***.***", None)


def test_apply_policy_equals_the_strategy_functions(spark):
    """apply_policy() computes the helpers (trimmed text, digits) in a first projection: same
    output as the single-expression public functions, parameters included."""
    values = sorted({v for cases in CASES.values() for v, _ in cases if v is not None})
    names = ["e", "e3", "p", "p7", "s", "n", "i"]
    df = spark.createDataFrame(
        [(v,) * len(names) for v in [*values, None]], ", ".join(f"{n} string" for n in names)
    )
    policy = parse_policy(
        {
            "columns": {
                "e": "email",
                "e3": {"strategy": "email", "keep_chars": 3},
                "p": "phone",
                "p7": {"strategy": "phone", "min_digits": 7},
                "s": "ssn",
                "n": "name",
                "i": "ip",
            }
        }
    )
    staged = M.apply_policy(df, policy)
    assert staged.columns == names
    direct = df.select(
        M.mask_email("e").alias("e"),
        M.mask_email("e3", keep_chars=3).alias("e3"),
        M.mask_phone("p").alias("p"),
        M.mask_phone("p7", min_digits=7).alias("p7"),
        M.mask_ssn("s").alias("s"),
        M.mask_name("n").alias("n"),
        M.mask_ip("i").alias("i"),
    )
    assert staged.exceptAll(direct).count() == 0
    assert direct.exceptAll(staged).count() == 0
    assert staged.count() == len(values) + 1


def test_apply_policy_runs_each_costly_helper_once(spark):
    df = spark.createDataFrame([("555-123-4567", " 10.0.0.1 ")], "phone string, ip string")
    out = M.apply_policy(df, parse_policy({"columns": {"phone": "phone", "ip": "ip"}}))
    plan = out._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count("regexp_replace(") == 1
    assert plan.count("trim(") == 1
    assert [tuple(r) for r in out.collect()] == [("***-***-4567", "10.0.***.***")]


def test_hmac_key_needs_no_python_worker(spark):
    hkey = M.hmac_key(spark, KEY)
    df = spark.createDataFrame([("a@b.com",)], "v string")
    out = df.select(M.hmac_sha256(df["v"], hkey).alias("h"))
    assert out.collect()[0].h == hmac.new(KEY, b"a@b.com", hashlib.sha256).hexdigest()
    plan = out._jdf.queryExecution().executedPlan().toString()
    assert "LocalTableScan" in plan  # the pads are held by the JVM, not a Python RDD
    assert "ExistingRDD" not in plan.replace("Scan ExistingRDD[v", "")


def test_apply_policy_hmac_of_a_number_hashes_its_text(spark):
    df = spark.createDataFrame([(42,)], "customer_id long")
    out = M.apply_policy(df, parse_policy({"columns": {"customer_id": "hmac"}}), M.hmac_key(spark, KEY))
    assert out.collect()[0][0] == hmac.new(KEY, b"42", hashlib.sha256).hexdigest()


def test_apply_policy_strict_vs_passthrough(spark):
    df = spark.createDataFrame([("jane@example.com", "free text")], "email string, notes string")
    strict = parse_policy({"columns": {"email": "email"}})
    with pytest.raises(PolicyError, match="strict mode: input column"):
        M.apply_policy(df, strict)
    passthrough = parse_policy({"mode": "passthrough", "columns": {"email": "email"}})
    row = M.apply_policy(df, passthrough).collect()[0]
    assert (row.email, row.notes) == ("j***@example.com", "free text")


def test_apply_policy_missing_column(spark):
    df = spark.createDataFrame([("x",)], "email string")
    with pytest.raises(PolicyError, match="'ssn' is in the policy but not in the input"):
        M.apply_policy(df, parse_policy({"columns": {"email": "email", "ssn": "ssn"}}))


def test_hmac_without_key_is_an_error(spark):
    df = spark.createDataFrame([("x",)], "email string")
    with pytest.raises(ValueError, match="needs a key"):
        M.apply_policy(df, parse_policy({"columns": {"email": "hmac"}}))


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="keep_chars"):
        M.mask_email("x", keep_chars=-1)
    with pytest.raises(ValueError, match="min_digits"):
        M.mask_phone("x", min_digits=2)
    with pytest.raises(ValueError, match="unit"):
        M.truncate_date("x", "hour")
    with pytest.raises(ValueError, match="unknown strategy"):
        M.strategy_column("scramble", None)  # type: ignore[arg-type]


def test_no_python_udf_in_any_strategy(spark):
    df = spark.createDataFrame([("v",)], "v string")
    hkey = M.hmac_key(spark, KEY)
    cols = [
        M.mask_email("v"),
        M.mask_phone("v"),
        M.mask_ssn("v"),
        M.mask_name("v"),
        M.mask_ip("v"),
        M.redact("v", "x"),
        M.truncate_date("v"),
        M.hmac_sha256("v", hkey),
    ]
    plan = (
        df.select(*[c.alias(f"c{i}") for i, c in enumerate(cols)])
        ._jdf.queryExecution()
        .executedPlan()
        .toString()
    )
    assert "PythonUDF" not in plan
    assert "BatchEvalPython" not in plan
    assert "ArrowEvalPython" not in plan
