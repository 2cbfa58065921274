"""The lineage picture: graph building from OpenLineage events, layout, the self-contained HTML page, the CLI.

Here the page is checked by parsing it (html.parser for the text, ElementTree for the SVG); the
daily DAG's test renders a real run's page in headless Chromium.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from airflow_provider_lakeops.lineage import graph as lg

SILVER = {
    "namespace": "file",
    "name": "/lake/silver/customer_behavior",
    "facets": {"schema": {"fields": [{"name": "event_id"}, {"name": "customer_id"}]}},
}
LANDING = {"namespace": "file", "name": "/lake/landing/customer_events"}
TABLE = {"namespace": "snowflake://lakeops", "name": "LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR"}
FCT = {"namespace": "duckdb:///lake/lakeops.duckdb", "name": "lakeops.main.fct_customer_engagement"}


def _event(
    job: str,
    event_type: str = "COMPLETE",
    inputs=(),
    outputs=(),
    when="2025-10-31T00:00:01Z",
    run_id: str = "r1",
) -> dict:
    return {
        "eventType": event_type,
        "eventTime": when,
        "run": {"runId": run_id},
        "job": {"namespace": "lakeops-local", "name": job},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


EVENTS = [
    _event("daily.mask_pii", "START", when="2025-10-31T00:00:00Z"),
    _event("daily.mask_pii", inputs=[LANDING], outputs=[SILVER]),
    _event("daily.merge", inputs=[SILVER], outputs=[TABLE]),
    _event("daily.dbt.fct.run", "FAIL", inputs=[TABLE], outputs=[FCT]),
    _event("daily"),  # the DAG-level job: no datasets
    _event("other_dag.task", outputs=[{"namespace": "s3://x", "name": "y"}]),
]


class _Text(HTMLParser):
    """Collects text nodes and tag names of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Text:
    parser = _Text()
    parser.feed(page)
    parser.close()
    return parser


def _svg(page: str) -> ET.Element:
    return ET.fromstring(page[page.index("<svg") : page.index("</svg>") + len("</svg>")])


def test_build_graph_merges_events_into_jobs_datasets_and_edges():
    graph = lg.build_graph(EVENTS)
    jobs = {j.name: j for j in graph.jobs.values()}
    assert set(jobs) == {"daily.mask_pii", "daily.merge", "daily.dbt.fct.run", "daily", "other_dag.task"}
    assert jobs["daily.mask_pii"].state == "COMPLETE"  # the latest event wins
    assert jobs["daily.mask_pii"].events == 2
    assert jobs["daily.dbt.fct.run"].state == "FAIL"
    assert {(d.namespace, d.name) for d in graph.datasets.values()} == {
        (d["namespace"], d["name"]) for d in (SILVER, LANDING, TABLE, FCT)
    } | {("s3://x", "y")}
    silver = graph.datasets[f"dataset:file:{SILVER['name']}"]
    assert silver.fields == ["event_id", "customer_id"]
    named = {(graph.label(a)[0], graph.label(b)[0]) for a, b in graph.edges}
    assert ("/lake/landing/customer_events", "daily.mask_pii") in named
    assert ("daily.mask_pii", "/lake/silver/customer_behavior") in named
    assert ("LAKEOPS.PUBLIC.CUSTOMER_BEHAVIOR", "daily.dbt.fct.run") in named


def test_build_graph_keeps_one_dag():
    graph = lg.build_graph(EVENTS, dag_id="daily")
    assert {j.name for j in graph.jobs.values()} == {
        "daily.mask_pii",
        "daily.merge",
        "daily.dbt.fct.run",
        "daily",
    }
    assert all(d.namespace != "s3://x" for d in graph.datasets.values())


def test_layers_follow_the_data_flow():
    graph = lg.build_graph(EVENTS, dag_id="daily")
    layer = lg._layers(graph)
    order = [
        "dataset:file:/lake/landing/customer_events",
        "job:lakeops-local:daily.mask_pii",
        "dataset:file:/lake/silver/customer_behavior",
        "job:lakeops-local:daily.merge",
        f"dataset:{TABLE['namespace']}:{TABLE['name']}",
        "job:lakeops-local:daily.dbt.fct.run",
        f"dataset:{FCT['namespace']}:{FCT['name']}",
    ]
    assert [layer[k] for k in order] == list(range(len(order)))


def test_a_cycle_is_drawn_not_an_error():
    events = [_event("a", inputs=[SILVER], outputs=[TABLE]), _event("b", inputs=[TABLE], outputs=[SILVER])]
    graph = lg.build_graph(events)
    page = lg.render_html(graph)
    assert len(lg._layers(graph)) == 4
    edges = [p for p in _svg(page).findall("{http://www.w3.org/2000/svg}path") if p.get("class") == "edge"]
    assert len(edges) == 4


def test_page_names_every_job_and_dataset_and_is_self_contained():
    graph = lg.build_graph(EVENTS)
    page = lg.render_html(graph, title="Lineage of daily")
    parsed = _parse(page)
    text = "\n".join(parsed.text)
    for job in graph.jobs.values():
        assert job.name in text
    for dataset in graph.datasets.values():
        assert dataset.name in text
        assert dataset.namespace in text
    svg = _svg(page)
    ns = "{http://www.w3.org/2000/svg}"
    groups = svg.findall(f"{ns}g")
    assert len(groups) == len(graph.jobs) + len(graph.datasets)
    assert len([g for g in groups if "failed" in g.get("class", "")]) == 1
    tags = {tag for tag, _ in parsed.tags}
    assert not tags & {"script", "link", "img", "iframe"}
    assert not [attrs for _, attrs in parsed.tags if str(attrs.get("src", "")).startswith("http")]
    assert "@import" not in page
    assert "url(http" not in page


def test_long_names_are_shortened_in_the_picture_but_complete_in_tooltips_and_tables():
    long_name = "/very/long/path/" + "segment/" * 20 + "customer_behavior"
    graph = lg.build_graph([_event("job", outputs=[{"namespace": "file", "name": long_name}])])
    page = lg.render_html(graph)
    svg = _svg(page)
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert long_name not in labels
    assert any(label and "…" in label for label in labels)
    assert long_name in "\n".join(_parse(page).text)


def test_names_are_escaped():
    evil = '<script>alert("x")</script>'
    graph = lg.build_graph([_event(evil, outputs=[{"namespace": "file", "name": "/a&b<c>"}])])
    page = lg.render_html(graph, title=evil)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    _svg(page)  # still well-formed XML


def test_empty_events_give_an_empty_page():
    page = lg.render_html(lg.build_graph([]))
    assert "No jobs or datasets" in page
    assert "0 jobs, 0 datasets" in page


def _write(path: Path, events: list[dict], extra: str = "") -> Path:
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n\n" + extra, encoding="utf-8")
    return path


def test_cli_writes_the_page(tmp_path, capsys):
    events = _write(tmp_path / "events.jsonl", EVENTS)
    out = tmp_path / "out" / "lineage.html"
    assert lg.main([str(events), str(out), "--dag-id", "daily", "--title", "Daily"]) == 0
    assert "4 jobs, 4 datasets" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "<title>Daily</title>" in page
    assert "other_dag.task" not in page
    assert not list(out.parent.glob(".*.tmp"))


def test_cli_as_a_module(tmp_path):
    events = _write(tmp_path / "events.jsonl", EVENTS)
    out = tmp_path / "lineage.html"
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_lakeops.lineage.graph", str(events), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "daily.merge" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"eventType": "START"}\nnot json\n', "events.jsonl:2: not a JSON line"),
        ("[1, 2]\n", "events.jsonl:1: expected a JSON object"),
    ],
    ids=["bad-json", "not-an-object"],
)
def test_cli_reports_bad_lines_and_writes_nothing(tmp_path, capsys, content, message):
    events = tmp_path / "events.jsonl"
    events.write_text(content)
    out = tmp_path / "lineage.html"
    assert lg.main([str(events), str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_reports_a_missing_file(tmp_path, capsys):
    assert lg.main([str(tmp_path / "nope.jsonl"), str(tmp_path / "out.html")]) == 1
    assert "No such file" in capsys.readouterr().err
