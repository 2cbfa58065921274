"""GXValidateOperator on real Great Expectations (pandas engine, local files): outcomes, failure
modes, bad suites, reruns, the PII scan and the XCom bound on 1M rows.

GX costs ~7 s to import once per process; every test here reuses it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_lakeops.operators._gx.results import XCOM_LIMIT_BYTES
from airflow_provider_lakeops.operators.great_expectations import DATA_DOCS_XCOM_KEY, GXValidateOperator
from airflow_provider_lakeops.sample_data import write_events

SUITE_FILE = Path(__file__).resolve().parents[3] / "example_dags" / "dq" / "customer_events.yaml"
ROWS = 3000
PII_COLUMNS = ("email", "phone", "ssn", "full_name", "ip_address")


class RecordingTI:
    """Collects XCom pushes (JSON round-tripped, as a real XCom backend would store them)."""

    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


def run(op: GXValidateOperator, **context):
    ti = RecordingTI()
    ctx = {
        "ti": ti,
        "run_id": "manual__2025-10-31",
        "ds": "2025-10-31",
        "params": {},
        "logical_date": datetime(2025, 10, 31, tzinfo=timezone.utc),
        **context,
    }
    op.render_template_fields(ctx)
    return op.execute(ctx), ti


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("gx-lake")
    write_events(root / "clean", ROWS, clean=True)
    write_events(root / "default", ROWS)
    write_events(root / "defective", ROWS, defect_rate=0.2)
    write_events(root / "parquet", ROWS, fmt="parquet", rows_per_file=1000)
    return root


def gate(lake: Path, data: str, tmp_path: Path, **kwargs) -> GXValidateOperator:
    base = {
        "task_id": "gate",
        "suite": SUITE_FILE.read_text(),
        "data_path": str(lake / data),
        "result_location": str(tmp_path / "results"),
    }
    return GXValidateOperator(**{**base, **kwargs})


def statuses(summary) -> dict[str, str]:
    return {e["name"]: e["status"] for e in summary["expectations"]}


# ------------------------------------------------------------------ outcomes of the example suite
def test_clean_data_passes_every_expectation(lake, tmp_path):
    summary, ti = run(gate(lake, "clean", tmp_path, data_docs_dir=str(tmp_path / "docs")))
    assert summary["success"] is True
    assert summary["statistics"]["successful"] == summary["statistics"]["evaluated"] == 12
    assert summary["rows"] == ROWS
    result = json.loads((tmp_path / "results" / "customer_events.json").read_text())
    assert result["lakeops"]["success"] is True
    assert len(result["gx_result"]["results"]) == 12
    assert ti.xcom[DATA_DOCS_XCOM_KEY] == f"file://{tmp_path / 'docs' / 'index.html'}"
    assert (tmp_path / "docs" / "index.html").is_file()


def test_generator_defaults_pass_with_warnings_only(lake, tmp_path):
    summary, _ = run(gate(lake, "default", tmp_path))
    stats = summary["statistics"]
    assert summary["success"] is True
    assert summary["gx_success"] is False
    assert stats["failed_error"] == 0
    assert stats["execution_errors"] == 0
    failed = {n for n, s in statuses(summary).items() if s == "failed"}
    assert "event_id_unique" in failed  # duplicates and updates
    assert {"email_format_strict", "event_type_known_strict", "amount_in_range_strict"} <= failed
    assert all(n.endswith(("_strict", "_unique")) for n in failed)


def test_defective_data_fails_the_task_with_counts_and_percentages(lake, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_lakeops.exceptions import DataQualityError

    op = gate(lake, "defective", tmp_path)
    with pytest.raises(AirflowFailException) as err:
        run(op)
    message = str(err.value)
    assert message.startswith("Data-quality gate 'customer_events' failed: 5 error expectation(s) failed")
    assert re.search(
        r"#2 'event_id_not_null' \(expect_column_values_to_not_be_null\) on event_id: "
        r"\d+ of 3,000 unexpected \(\d+(\.\d+)?%\)",
        message,
    )
    assert "#10 'amount_in_range'" in message
    assert "non-null values unexpected" in message
    assert f"Full result: {tmp_path / 'results' / 'customer_events.json'}" in message
    cause = err.value.__cause__
    assert isinstance(cause, DataQualityError)
    assert {f["name"] for f in cause.failed} == {
        "event_id_not_null",
        "customer_id_not_null",
        "event_type_known",
        "email_format",
        "amount_in_range",
    }
    assert cause.result_location == str(tmp_path / "results" / "customer_events.json")
    lineage = op.get_openlineage_facets_on_failure(None)
    [dataset] = lineage.inputs
    assertions = dataset.inputFacets["dataQualityAssertions"].assertions
    assert [a.success for a in assertions if a.name == "event_id_not_null"] == [False]


def test_defective_data_pushes_the_summary_before_failing(lake, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    op = gate(lake, "defective", tmp_path)
    ti = RecordingTI()
    ctx = {"ti": ti, "run_id": "r", "params": {}}
    op.render_template_fields(ctx)
    with pytest.raises(AirflowFailException):
        op.execute(ctx)
    assert ti.xcom["return_value"]["success"] is False
    assert ti.xcom["return_value"]["statistics"]["failed_error"] == 5


def test_warn_mode_logs_and_succeeds(lake, tmp_path, caplog, capfd):
    summary, _ = run(gate(lake, "defective", tmp_path, on_failure="warn"))
    assert summary["success"] is False
    assert summary["statistics"]["failed_error"] == 5
    assert "on_failure='warn': the task succeeds" in caplog.text + capfd.readouterr().out


def test_skip_mode_skips_downstream(lake, tmp_path):
    from airflow.sdk.exceptions import AirflowSkipException

    op = gate(lake, "defective", tmp_path, on_failure="skip")
    ti = RecordingTI()
    ctx = {"ti": ti, "run_id": "r", "params": {}}
    op.render_template_fields(ctx)
    with pytest.raises(AirflowSkipException, match="on_failure='skip'"):
        op.execute(ctx)
    assert ti.xcom["return_value"]["success"] is False


def test_fail_on_warn_makes_warnings_blocking(lake, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(
        AirflowFailException, match=r"Warnings \(fail_on_warn: they fail the task too\)"
    ) as err:
        run(gate(lake, "default", tmp_path, fail_on_warn="{{ params.strict }}"), params={"strict": True})
    assert "0 error expectation(s) failed" in str(err.value)
    assert {f["severity"] for f in err.value.__cause__.failed} == {"warn"}
    bad = gate(lake, "default", tmp_path / "bad", fail_on_warn="sometimes")
    with pytest.raises(ValueError, match="fail_on_warn must be true or false"):
        run(bad)
    assert not (tmp_path / "bad").exists()


def test_gx_execution_error_is_a_failure_not_a_silent_pass(lake, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    expectations = [
        {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "session_id"}},
        # numbers compared with strings: GX catches the TypeError and hides it in exception_info
        {
            "name": "email_between",
            "expectation": "expect_column_values_to_be_between",
            "kwargs": {"column": "email", "min_value": 0, "max_value": 5},
            "severity": "warn",
        },
    ]
    op = gate(
        lake,
        "clean",
        tmp_path,
        suite=None,
        expectations=expectations,
        suite_name="broken",
        data_docs_dir=str(tmp_path / "docs"),
    )
    with pytest.raises(AirflowFailException, match="1 execution error") as err:
        run(op)
    assert re.search(r"#2 'email_between' .* on email: execution error: \w+Error: ", str(err.value))
    stored = json.loads((tmp_path / "results" / "broken.json").read_text())
    [info] = [
        r["exception_info"]
        for r in stored["gx_result"]["results"]
        if r["expectation_config"]["meta"]["lakeops_name"] == "email_between"
    ]
    assert info["raised_exception"] is True
    assert info["exception_traceback"] == info["exception_message"]  # a scrubbed one-liner, no traceback
    assert "Traceback" not in json.dumps(stored)
    assert (tmp_path / "docs" / "index.html").is_file()


# ------------------------------------------------------------------ bad suites: clear errors, nothing written
BAD_SUITES = [
    (
        [{"expectation": "expect_column_values_to_be_purple", "kwargs": {"column": "email"}}],
        r"#1 'email:column_values_to_be_purple' "
        r"\(expect_column_values_to_be_purple\): unknown expectation type",
    ),
    (
        [
            {
                "name": "types",
                "expectation": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "event_type"},
            }
        ],
        r"#1 'types' \(expect_column_values_to_be_in_set\): missing required argument 'value_set'",
    ),
    (
        [
            {
                "name": "ratio",
                "expectation": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "email", "mostly": 3},
            }
        ],
        r"#1 'ratio' .*argument 'mostly': ensure this value",
    ),
    (
        [
            {
                "name": "typo",
                "expectation": "expect_column_values_to_not_be_null",
                "kwargs": {"colum": "email"},
            }
        ],
        r"#1 'typo' .*missing required argument 'column'; unknown argument 'colum'",
    ),
    (
        [
            {
                "name": "gone",
                "expectation": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "e_mail"},
            }
        ],
        r"#1 'gone' \(expect_column_values_to_not_be_null\): column 'e_mail' is not in the data",
    ),
]


@pytest.mark.parametrize(
    ("expectations", "message"),
    BAD_SUITES,
    ids=["unknown-type", "missing-argument", "bad-value", "unknown-argument", "missing-column"],
)
def test_bad_suite_is_rejected_before_anything_is_written(lake, tmp_path, expectations, message):
    op = gate(
        lake, "clean", tmp_path, suite=None, expectations=expectations, data_docs_dir=str(tmp_path / "docs")
    )
    with pytest.raises(ValueError, match=message):
        run(op)
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "docs").exists()


def test_missing_data_is_reported_and_nothing_written(tmp_path):
    op = GXValidateOperator(
        task_id="gate",
        suite=SUITE_FILE.read_text(),
        data_path=str(tmp_path / "dt=nope"),
        result_location=str(tmp_path / "results"),
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run(op)
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------ formats, rerun
def test_parquet_folder_and_csv_glob(lake, tmp_path):
    summary, _ = run(gate(lake, "parquet", tmp_path))
    assert summary["rows"] == ROWS
    assert summary["source"]["description"].startswith("parquet at")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    (tmp_path / "csv").mkdir()
    pacsv.write_csv(
        pq.read_table(next((lake / "parquet").glob("part-*.parquet"))), tmp_path / "csv" / "a.csv"
    )
    expectations = [{"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_ts"}}]
    summary, _ = run(
        GXValidateOperator(task_id="csv", expectations=expectations, data_path=str(tmp_path / "csv/*.csv"))
    )
    assert summary["success"] is True
    assert summary["rows"] == 1000


def test_rerun_leaves_the_same_end_state(lake, tmp_path):
    docs = str(tmp_path / "docs")
    first, _ = run(gate(lake, "default", tmp_path, data_docs_dir=docs))
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert any(p.parts[0] == "docs" for p in files)
    second, _ = run(gate(lake, "default", tmp_path, data_docs_dir=docs))
    assert second == first
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == files


# ------------------------------------------------------------------ no PII anywhere
def test_no_pii_reaches_xcom_logs_results_docs_or_lineage(lake, tmp_path, caplog, capfd):
    import pandas as pd
    from openlineage.client.serde import Serde

    frame = pd.read_json(next((lake / "default").glob("part-*.jsonl")), lines=True, dtype=False)
    pii = {str(v) for col in PII_COLUMNS for v in frame[col].dropna().unique()}
    assert len(pii) > 500
    expectations = [  # every one of these fails on PII columns and would carry values in GX's own output
        {
            "expectation": "expect_column_values_to_match_regex",
            "kwargs": {"column": "email", "regex": "^none$"},
        },
        {"expectation": "expect_column_values_to_be_in_set", "kwargs": {"column": "ssn", "value_set": ["x"]}},
        {"expectation": "expect_column_values_to_match_regex", "kwargs": {"column": "phone", "regex": "^x$"}},
        {
            "expectation": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "full_name", "value_set": ["x"]},
        },
        {
            "expectation": "expect_column_values_to_match_regex",
            "kwargs": {"column": "ip_address", "regex": "^x$"},
        },
        {
            "expectation": "expect_column_distinct_values_to_be_in_set",
            "kwargs": {"column": "email", "value_set": ["x"]},
        },
        {
            "expectation": "expect_column_most_common_value_to_be_in_set",
            "kwargs": {"column": "full_name", "value_set": ["x"]},
        },
        {"expectation": "expect_column_values_to_be_unique", "kwargs": {"column": "email"}},
    ]
    op = gate(
        lake,
        "default",
        tmp_path,
        suite=None,
        expectations=expectations,
        suite_name="pii_probe",
        on_failure="warn",
        unexpected_samples=20,
        data_docs_dir=str(tmp_path / "docs"),
    )
    summary, ti = run(op)
    assert summary["statistics"]["failed_error"] == 8
    samples = [s for e in summary["expectations"] for s in e.get("masked_samples", [])]
    assert samples
    assert all(set(str(s)) <= set("x9@.-: ") or isinstance(s, dict) for s in samples)
    lineage = op.get_openlineage_facets_on_complete(None)

    def text(obj) -> str:  # JSON escapes non-ASCII ("Zo\u00eb"): compare on the decoded text
        return json.dumps(obj, ensure_ascii=False)

    outputs = {
        "xcom": text(ti.xcom),
        "logs": caplog.text + "".join(capfd.readouterr()),
        "result": text(json.loads((tmp_path / "results" / "pii_probe.json").read_text())),
        "lineage": text([json.loads(Serde.to_json(d)) for d in lineage.inputs]),
    }
    outputs.update(
        {f"docs:{p.name}": p.read_text(errors="replace") for p in (tmp_path / "docs").rglob("*.html")}
    )
    assert any(k.startswith("docs:") for k in outputs)
    leaks = {name: sorted(v for v in pii if v in text)[:3] for name, text in outputs.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
    assert "error occurred during data docs rendering" not in outputs["logs"].lower()

    # the scan does find values when a user opts in to raw observed values (the most common name here)
    opted_in, _ = run(
        gate(
            lake,
            "default",
            tmp_path,
            suite=None,
            expectations=expectations[6:7],
            suite_name="opt_in",
            on_failure="warn",
            expose_observed_values=True,
        )
    )
    assert any(v in text(opted_in) for v in pii)


# ------------------------------------------------------------------ XCom bound on 1M rows
def test_xcom_summary_stays_under_16_kb_on_a_million_rows(tmp_path):
    import numpy as np
    import pandas as pd

    n = 1_000_000
    rng = np.random.default_rng(7)
    ids = pd.Series([f"evt-{i:09d}" for i in range(n)], dtype=object)
    ids[rng.random(n) < 0.01] = None
    emails = pd.Series([f"user{i}@example.com" for i in range(n)], dtype=object)
    emails[rng.random(n) < 0.05] = "broken at example.com"
    frame = pd.DataFrame(
        {
            "event_id": ids,
            "email": emails,
            "amount": rng.normal(100, 80, n),
            "event_type": rng.choice(["page_view", "search", "bogus"], n),
        }
    )
    frame.to_parquet(tmp_path / "events.parquet")
    expectations = [
        {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "event_id"}},
        {"expectation": "expect_column_values_to_match_regex", "kwargs": {"column": "email", "regex": "@"}},
        {"expectation": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}},
        {
            "expectation": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "event_type", "value_set": ["page_view", "search"]},
        },
        {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ]
    summary, ti = run(
        GXValidateOperator(
            task_id="big",
            expectations=expectations,
            suite_name="big",
            data_path=str(tmp_path / "events.parquet"),
            on_failure="warn",
            unexpected_samples=20,
        )
    )
    assert summary["rows"] == n
    assert summary["statistics"]["failed_error"] == 4
    assert len(json.dumps(ti.xcom.get("return_value", summary)).encode()) <= XCOM_LIMIT_BYTES
    assert len(json.dumps(summary).encode()) <= XCOM_LIMIT_BYTES
