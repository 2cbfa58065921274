"""spark_apps.pii_masking_job run in-process on the shared ``spark`` fixture: partitions, reruns,
the run report, failures that write nothing, and the key sources."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from airflow_provider_lakeops.sample_data import write_events
from airflow_provider_lakeops.spark_apps.leak_guard import LeakDetectedError
from airflow_provider_lakeops.spark_apps.pii_masking_job import JobOptions, load_hmac_key, main, run
from airflow_provider_lakeops.spark_apps.pii_policy import (
    HmacKeyError,
    PolicyError,
    load_policy,
    parse_policy,
)

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[3]
POLICY = load_policy(str(REPO / "example_dags" / "policies" / "customer_events_pii.yaml"))
KEY = b"job-test-key-abcdefghijklmnopqrstuvwxyz-0123456789"


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    for day, seed in (("2025-10-30", 1), ("2025-10-31", 2)):
        write_events(root / f"dt={day}", 300, day=day, seed=seed)
    return root


def _options(landing: Path, out: Path, day: str, **kw) -> JobOptions:
    kw = {
        "policy": POLICY,
        "input_format": "json",
        "partition_by": ["dt"],
        "derive": {"dt": "event_date"},
        **kw,
    }
    return JobOptions(input_path=str(landing / f"dt={day}"), output_path=str(out), **kw)


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))


def _raw_values(landing: Path, day: str, column: str) -> set[str]:
    values = set()
    for path in (landing / f"dt={day}").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            value = json.loads(line).get(column)
            if value:
                values.add(value)
    return values


def test_mask_partition_rerun_and_report(spark, landing, tmp_path):
    out = tmp_path / "silver"
    report = run(spark, _options(landing, out, "2025-10-31"), KEY)
    assert report["status"] == "ok"
    assert report["rows_in"] == report["rows_out"] == 300
    assert report["partitions_written"] == ["dt=2025-10-31"]
    assert report["masked_columns"] == {
        "hmac": ["email"],
        "phone": ["phone"],
        "ssn": ["ssn"],
        "name": ["full_name"],
        "ip": ["ip_address"],
    }
    assert report["columns"]["dt"] == {"strategy": "keep", "source": "event_date", "derived": True}
    assert report["leak_guard"]["status"] == "passed"
    assert report["leak_guard"]["sampled_rows"] == 300
    assert report["key_fingerprint"]
    assert KEY.decode() not in json.dumps(report)

    day = spark.read.parquet(str(out)).where("dt = '2025-10-31'")
    rows = day.collect()
    assert len(rows) == 300
    emails = _raw_values(landing, "2025-10-31", "email")
    assert {r.email for r in rows} == {hmac.new(KEY, e.encode(), hashlib.sha256).hexdigest() for e in emails}
    for column in ("phone", "ssn", "full_name", "ip_address"):
        assert not {r[column] for r in rows} & _raw_values(landing, "2025-10-31", column), column
    assert all(r.phone.startswith("***-***-") and r.full_name.endswith("****") for r in rows)

    # another day is added next to it (its dt a constant this time); a rerun of the first day
    # replaces only that partition
    other = run(spark, _options(landing, out, "2025-10-30", derive={}, constants={"dt": "2025-10-30"}), KEY)
    assert other["columns"]["dt"] == {"strategy": "constant", "source": None, "derived": True}
    files_before = _files(out)
    again = run(spark, _options(landing, out, "2025-10-31"), KEY)
    assert again["rows_out"] == 300
    counts = {str(r.dt): r["count"] for r in spark.read.parquet(str(out)).groupBy("dt").count().collect()}
    assert counts == {"2025-10-30": 300, "2025-10-31": 300}
    assert len(_files(out)) == len(files_before)
    assert [f for f in _files(out) if f.startswith("dt=2025-10-30")] == [
        f for f in files_before if f.startswith("dt=2025-10-30")
    ]


def test_strict_policy_error_writes_nothing(spark, landing, tmp_path):
    out = tmp_path / "silver"
    policy = parse_policy({"columns": {"email": "hmac", "phone": "phone"}})
    with pytest.raises(PolicyError, match="strict mode: input column"):
        run(spark, _options(landing, out, "2025-10-31", policy=policy), KEY)
    assert not out.exists()


def test_leak_in_free_text_fails_before_writing(spark, tmp_path):
    src = tmp_path / "in.parquet"
    spark.createDataFrame(
        [("a@example.com", "thanks!"), ("b@example.com", "call me on 555-867-5309")],
        "email string, notes string",
    ).write.parquet(str(src))
    out = tmp_path / "silver"
    policy = parse_policy({"mode": "passthrough", "columns": {"email": "email"}})
    options = JobOptions(input_path=str(src), output_path=str(out), policy=policy)
    with pytest.raises(LeakDetectedError) as excinfo:
        run(spark, options)
    assert excinfo.value.result.findings == [{"column": "notes", "pattern": "phone", "rows": 1}]
    assert not out.exists()


def test_csv_input_unpartitioned_output_is_replaced(spark, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("name,ssn\nJane Doe,123-45-6789\nJoe,\n", encoding="utf-8")
    out = tmp_path / "silver"
    policy = parse_policy({"columns": {"name": "name", "ssn": "ssn"}})
    options = JobOptions(input_path=str(src), output_path=str(out), policy=policy, input_format="csv")
    for _ in range(2):  # a rerun replaces the folder
        report = run(spark, options)
        assert report["rows_out"] == 2
        assert report["key_fingerprint"] is None
    rows = sorted((tuple(r) for r in spark.read.parquet(str(out)).collect()), key=str)
    assert rows == [("J****", "***-**-6789"), ("J****", None)]


def test_partition_and_derive_errors(spark, landing, tmp_path):
    with pytest.raises(PolicyError, match="source column 'nope' is not in the input"):
        run(spark, _options(landing, tmp_path / "a", "2025-10-31", derive={"dt": "nope"}), KEY)
    with pytest.raises(PolicyError, match="column 'email' already exists"):
        run(spark, _options(landing, tmp_path / "b", "2025-10-31", derive={"email": "event_date"}), KEY)
    with pytest.raises(PolicyError, match="--partition-value ssn: column 'ssn' already exists"):
        run(spark, _options(landing, tmp_path / "b", "2025-10-31", constants={"ssn": "x"}), KEY)
    with pytest.raises(PolicyError, match="both derived and constant"):
        run(spark, _options(landing, tmp_path / "b", "2025-10-31", constants={"dt": "2025-10-31"}), KEY)
    options = _options(landing, tmp_path / "c", "2025-10-31")
    options.derive = {}
    with pytest.raises(PolicyError, match=r"--partition-by column\(s\) \['dt'\] are not in the output"):
        run(spark, options, KEY)
    with pytest.raises(PolicyError, match="must differ"):
        run(spark, JobOptions(input_path="/x/y", output_path="/x/y/", policy=POLICY), KEY)
    with pytest.raises(HmacKeyError, match="at least 32"):
        run(spark, _options(landing, tmp_path / "d", "2025-10-31"), b"short")
    assert not any((tmp_path / n).exists() for n in "abcd")


# ------------------------------------------------------------------ main(): before Spark starts
def test_main_policy_error_exits_2_with_a_report(tmp_path, capsys):
    report = tmp_path / "r.json"
    code = main(
        [
            "--input",
            "/in",
            "--output",
            "/out",
            "--policy-json",
            '{"columns": {"a": "scramble"}}',
            "--report",
            str(report),
        ]
    )
    assert code == 2
    assert json.loads(report.read_text())["status"] == "policy_error"
    assert "unknown strategy 'scramble'" in capsys.readouterr().err


def test_main_key_error_exits_4_without_showing_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHORT_KEY", "too-short-key")
    report = tmp_path / "r.json"
    code = main(
        [
            "--input",
            "/in",
            "--output",
            "/out",
            "--policy-json",
            '{"columns": {"a": "hmac"}}',
            "--report",
            str(report),
            "--key-source",
            "env:SHORT_KEY",
        ]
    )
    assert code == 4
    text = report.read_text() + capsys.readouterr().err
    assert "at least 32" in text
    assert "too-short-key" not in text


def test_key_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("PII_KEY_TEST", KEY.decode())
    assert load_hmac_key("env:PII_KEY_TEST") == KEY
    assert "PII_KEY_TEST" not in os.environ  # removed once read
    with pytest.raises(HmacKeyError, match="PII_KEY_TEST holding the HMAC key is not set"):
        load_hmac_key("env:PII_KEY_TEST")
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    key_file.chmod(0o644)
    with pytest.raises(HmacKeyError, match="chmod 600"):
        load_hmac_key(f"file:{key_file}")
    key_file.chmod(0o600)
    assert load_hmac_key(f"file:{key_file}") == KEY
    with pytest.raises(HmacKeyError, match="cannot read the key file"):
        load_hmac_key(f"file:{tmp_path / 'missing'}")
    with pytest.raises(HmacKeyError, match="unknown key source"):
        load_hmac_key("vault:secret/pii")
    with pytest.raises(HmacKeyError, match="must look like"):
        load_hmac_key("env")
