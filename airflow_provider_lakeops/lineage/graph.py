"""Draw the lineage of OpenLineage events as a self-contained HTML page (inline SVG, no network).

Jobs and datasets become the nodes of a graph with edges ``input dataset -> job -> output dataset``,
laid out left to right in layers (longest path from the sources, barycentre ordering). Below the
picture, two tables list every job (namespace, name, last state, inputs, outputs) and every
dataset (namespace, name, schema fields). Only names, states and field names are shown, never
data values. The page has no scripts and loads nothing: open it from disk or attach it to a ticket.

Command line::

    python -m airflow_provider_lakeops.lineage.graph events.jsonl lineage.html [--dag-id DAG] [--title T]

Only the standard library is used (cheap to import).

.. seealso:: ``docs/lineage.md``
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DatasetNode",
    "JobNode",
    "LineageGraph",
    "build_graph",
    "main",
    "read_events",
    "render_html",
    "write_lineage_html",
]

NODE_W, NODE_H, GAP_X, GAP_Y, MARGIN = 260, 50, 90, 22, 24
_LABEL_CHARS, _NS_CHARS = 36, 42
_FAILED = {"FAIL", "ABORT"}


@dataclass
class JobNode:
    """A job of the events (an Airflow task, a dbt model run, a Spark application...)."""

    namespace: str
    name: str
    state: str = ""
    event_time: str = ""
    events: int = 0
    run_ids: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return f"job:{self.namespace}:{self.name}"


@dataclass
class DatasetNode:
    """A dataset of the events (namespace + name, per the OpenLineage naming spec)."""

    namespace: str
    name: str
    fields: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"dataset:{self.namespace}:{self.name}"


@dataclass
class LineageGraph:
    """Jobs, datasets and the edges between them (keys of :class:`JobNode` / :class:`DatasetNode`)."""

    jobs: dict[str, JobNode] = field(default_factory=dict)
    datasets: dict[str, DatasetNode] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    events: int = 0

    #: alias dataset key -> the key it is another name of (``symlinks`` facets)
    aliases: dict[str, str] = field(default_factory=dict)

    def label(self, key: str) -> tuple[str, str]:
        node = self.jobs.get(key) or self.datasets[key]
        return node.name, node.namespace

    def components(self) -> list[set[str]]:
        """The connected pieces of the graph (edges taken both ways), largest first. Jobs without
        any dataset (a DAG's own run, an ``EmptyOperator``) belong to none: see :meth:`isolated_jobs`."""
        neighbours: dict[str, set[str]] = {}
        for a, b in self.edges:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
        for key in self.datasets:  # a dataset only ever listed still is a piece of its own
            neighbours.setdefault(key, set())
        seen: set[str] = set()
        pieces: list[set[str]] = []
        for start in sorted(neighbours):
            if start in seen:
                continue
            piece, todo = set(), [start]
            while todo:
                key = todo.pop()
                if key not in piece:
                    piece.add(key)
                    todo.extend(neighbours[key] - piece)
            seen |= piece
            pieces.append(piece)
        return sorted(pieces, key=len, reverse=True)

    def isolated_jobs(self) -> list[str]:
        """Jobs that read and wrote no dataset."""
        linked = {k for edge in self.edges for k in edge}
        return sorted(k for k in self.jobs if k not in linked)

    def inputs_of(self, job_key: str) -> set[str]:
        return {a for a, b in self.edges if b == job_key}

    def outputs_of(self, job_key: str) -> set[str]:
        return {b for a, b in self.edges if a == job_key}


def read_events(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The events of an OpenLineage file transport (JSON lines; blank lines skipped).

    :raises FileNotFoundError: when the file does not exist.
    :raises ValueError: for a line that is not a JSON object (the line number is in the message).
    """
    events: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc.msg})") from exc
            if not isinstance(event, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(event).__name__}")
            events.append(event)
    return events


def _selected(job_name: str, dag_id: str | Sequence[str] | None) -> bool:
    if dag_id is None:
        return True
    ids = [dag_id] if isinstance(dag_id, str) else list(dag_id)
    return any(job_name == d or job_name.startswith(f"{d}.") for d in ids)


def _dataset(graph: LineageGraph, raw: Any) -> str | None:
    if not isinstance(raw, dict) or not raw.get("namespace") or not raw.get("name"):
        return None
    node = DatasetNode(str(raw["namespace"]), str(raw["name"]))
    existing = graph.datasets.setdefault(node.key, node)
    schema = (raw.get("facets") or {}).get("schema") or {}
    names = [str(f.get("name")) for f in schema.get("fields") or [] if isinstance(f, dict) and f.get("name")]
    if names and not existing.fields:
        existing.fields = names
    symlinks = (raw.get("facets") or {}).get("symlinks") or {}
    for ident in symlinks.get("identifiers") or []:
        if isinstance(ident, dict) and ident.get("namespace") and ident.get("name"):
            alias = DatasetNode(str(ident["namespace"]), str(ident["name"])).key
            if alias != node.key:
                graph.aliases.setdefault(alias, node.key)
    return node.key


def _fold_aliases(graph: LineageGraph) -> None:
    """One node per dataset: a name another dataset lists as its symlink becomes that dataset."""

    def primary(key: str) -> str:
        seen = set()
        while key in graph.aliases and key not in seen:
            seen.add(key)
            key = graph.aliases[key]
        return key

    graph.edges = {(primary(a), primary(b)) for a, b in graph.edges}
    for alias in list(graph.aliases):
        if primary(alias) != alias and alias in graph.datasets:
            target = graph.datasets[primary(alias)] if primary(alias) in graph.datasets else None
            node = graph.datasets.pop(alias)
            if target is not None and not target.fields:
                target.fields = node.fields


def build_graph(
    events: Iterable[dict[str, Any]], *, dag_id: str | Sequence[str] | None = None
) -> LineageGraph:
    """Merge events into one graph: every job and dataset once, the union of their edges. A
    dataset named in another's ``symlinks`` facet (e.g. the Glue table of an S3 location) is that
    dataset: one node.

    :param dag_id: keep only jobs named ``dag_id`` or ``dag_id.*`` (and their datasets); several
        DAG ids keep the jobs of each.
    """
    graph = LineageGraph()
    for event in events:
        job = event.get("job")
        if isinstance(job, dict) and job.get("name"):
            name = str(job["name"])
            if not _selected(name, dag_id):
                continue
            graph.events += 1
            node = JobNode(str(job.get("namespace", "")), name)
            current = graph.jobs.setdefault(node.key, node)
            current.events += 1
            run_id = (event.get("run") or {}).get("runId")
            if run_id:
                current.run_ids.add(str(run_id))
            state, when = str(event.get("eventType") or ""), str(event.get("eventTime") or "")
            if state and when >= current.event_time:
                current.state, current.event_time = state, when
            for raw in event.get("inputs") or []:
                if (key := _dataset(graph, raw)) is not None:
                    graph.edges.add((key, current.key))
            for raw in event.get("outputs") or []:
                if (key := _dataset(graph, raw)) is not None:
                    graph.edges.add((current.key, key))
        elif dag_id is None and isinstance(event.get("dataset"), dict):  # a static DatasetEvent
            graph.events += 1
            _dataset(graph, event["dataset"])
    _fold_aliases(graph)
    return graph


def _layers(graph: LineageGraph) -> dict[str, int]:
    """Longest-path layers; edges that close a cycle are ignored for layering. A job that reads and
    writes the same dataset (an in-place update: compaction, registration, a dbt test) is placed after
    it: its write-back edge is not a dependency."""
    nodes = sorted([*graph.jobs, *graph.datasets])
    preds: dict[str, set[str]] = {n: set() for n in nodes}
    succs: dict[str, set[str]] = {n: set() for n in nodes}
    for src, dst in graph.edges:
        in_place = src in graph.jobs and (dst, src) in graph.edges
        if src != dst and not in_place:
            preds[dst].add(src)
            succs[src].add(dst)
    remaining = {n: len(preds[n]) for n in nodes}
    layer: dict[str, int] = {}
    ready = sorted(n for n, d in remaining.items() if d == 0)
    while len(layer) < len(nodes):
        if not ready:  # a cycle: start from the unplaced node with the fewest unplaced predecessors
            ready = [min((n for n in nodes if n not in layer), key=lambda n: (remaining[n], n))]
        current = ready.pop(0)
        if current in layer:
            continue
        layer[current] = max((layer[p] + 1 for p in preds[current] if p in layer), default=0)
        for nxt in sorted(succs[current]):
            remaining[nxt] -= 1
            if remaining[nxt] == 0 and nxt not in layer:
                ready.append(nxt)
    return layer


def _order(graph: LineageGraph, layer: dict[str, int]) -> list[list[str]]:
    """Nodes per layer, ordered by barycentre sweeps to keep edges short."""
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for key in sorted(layer, key=lambda k: (k.split(":", 1)[0], graph.label(k))):
        columns[layer[key]].append(key)
    neighbours: dict[str, set[str]] = {k: set() for k in layer}
    for src, dst in graph.edges:
        neighbours[src].add(dst)
        neighbours[dst].add(src)
    for sweep in range(4):
        indices = range(1, len(columns)) if sweep % 2 == 0 else range(len(columns) - 2, -1, -1)
        for i in indices:
            ref = columns[i - 1] if sweep % 2 == 0 else columns[i + 1]
            pos = {k: n for n, k in enumerate(ref)}

            def centre(key: str, pos: dict[str, int] = pos, i: int = i) -> float:
                linked = [pos[n] for n in neighbours[key] if n in pos]
                return sum(linked) / len(linked) if linked else float(columns[i].index(key))

            columns[i] = sorted(columns[i], key=centre)
    return columns


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 1
    return f"{text[: keep // 2]}…{text[len(text) - (keep - keep // 2) :]}"


def _svg(graph: LineageGraph) -> str:
    layer = _layers(graph)
    columns = _order(graph, layer)
    tallest = max((len(c) for c in columns), default=0)
    height = max(tallest * (NODE_H + GAP_Y) - GAP_Y, NODE_H) + 2 * MARGIN
    width = max(len(columns) * (NODE_W + GAP_X) - GAP_X, NODE_W) + 2 * MARGIN
    xy: dict[str, tuple[int, int]] = {}
    for i, column in enumerate(columns):
        offset = (height - 2 * MARGIN - (len(column) * (NODE_H + GAP_Y) - GAP_Y)) // 2
        for j, key in enumerate(column):
            xy[key] = (MARGIN + i * (NODE_W + GAP_X), MARGIN + offset + j * (NODE_H + GAP_Y))
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="lineage graph" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
    ]
    for src, dst in sorted(graph.edges):
        (sx, sy), (dx, dy) = xy[src], xy[dst]
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H // 2, dx, dy + NODE_H // 2
        if x2 > x1:
            bend = (x2 - x1) // 2
            path = f"M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}"
        else:  # an edge back to an earlier layer: loop under the nodes
            low = max(y1, y2) + NODE_H
            path = f"M {x1} {y1} C {x1 + GAP_X} {low}, {x2 - GAP_X} {low}, {x2} {y2}"
        parts.append(
            f'<path class="edge" d="{path}" marker-end="url(#arrow)">'
            f"<title>{esc(graph.label(src)[0])} → {esc(graph.label(dst)[0])}</title></path>"
        )
    for key, (x, y) in sorted(xy.items()):
        name, namespace = graph.label(key)
        job = graph.jobs.get(key)
        css = "job" if job else "dataset"
        if job and job.state in _FAILED:
            css += " failed"
        tip = f"{name}\n{namespace}"
        if job:
            tip += f"\nstate: {job.state or 'unknown'} ({job.events} events)"
        elif graph.datasets[key].fields:
            tip += "\nfields: " + ", ".join(graph.datasets[key].fields)
        rx = 10 if job else 2
        if job and "." in name:  # Airflow jobs are dag_id.task_id: show the task, the DAG goes below
            dag_part, _, task_part = name.partition(".")
            name, namespace = task_part, f"{dag_part} · {namespace}"
        parts.append(
            f'<g class="node {css}" transform="translate({x},{y})"><title>{esc(tip)}</title>'
            f'<rect width="{NODE_W}" height="{NODE_H}" rx="{rx}"/>'
            f'<text x="10" y="21" class="name">{esc(_shorten(name, _LABEL_CHARS))}</text>'
            f'<text x="10" y="39" class="ns">{esc(_shorten(namespace, _NS_CHARS))}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2933;background:#fff}
h1{font-size:20px;margin:0 0 4px}p.meta{color:#52606d;margin:0 0 16px}
.picture{overflow:auto;border:1px solid #d9e2ec;border-radius:6px;padding:8px;margin-bottom:24px}
.edge{fill:none;stroke:#9aa5b1;stroke-width:1.5}.arrowhead{fill:#9aa5b1}
.node rect{stroke-width:1.5}.job rect{fill:#e0e8f9;stroke:#3e5ba9}.dataset rect{fill:#e3f9e5;stroke:#31a354}
.job.failed rect{fill:#ffe3e3;stroke:#c92a2a}
.node text{font-size:12px;fill:#1f2933}.node text.ns{font-size:10px;fill:#52606d}
table{border-collapse:collapse;margin-bottom:24px;font-size:13px}
th,td{border:1px solid #d9e2ec;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f4f8}
td.state-FAIL,td.state-ABORT{color:#c92a2a;font-weight:600}td.state-COMPLETE{color:#2b8a3e}
.legend span{display:inline-block;padding:2px 8px;margin-right:8px;border-radius:4px;font-size:12px}
"""


def render_html(graph: LineageGraph, title: str = "Lineage") -> str:
    """The whole page: heading, legend, the SVG picture, a table of jobs and one of datasets."""
    esc = html.escape
    inputs: dict[str, list[str]] = {k: [] for k in graph.jobs}
    outputs: dict[str, list[str]] = {k: [] for k in graph.jobs}
    for src, dst in sorted(graph.edges):
        if dst in graph.jobs:
            inputs[dst].append(graph.label(src)[0])
        if src in graph.jobs:
            outputs[src].append(graph.label(dst)[0])
    job_rows = "\n".join(
        f'<tr><td>{esc(j.name)}</td><td>{esc(j.namespace)}</td><td class="state-{esc(j.state)}">'
        f"{esc(j.state or '-')}</td><td>{'<br>'.join(esc(i) for i in inputs[k]) or '-'}</td>"
        f"<td>{'<br>'.join(esc(o) for o in outputs[k]) or '-'}</td></tr>"
        for k, j in sorted(graph.jobs.items(), key=lambda kv: kv[1].name)
    )
    dataset_rows = "\n".join(
        f"<tr><td>{esc(d.name)}</td><td>{esc(d.namespace)}"
        f"</td><td>{esc(', '.join(d.fields)) or '-'}</td></tr>"
        for _, d in sorted(graph.datasets.items(), key=lambda kv: (kv[1].namespace, kv[1].name))
    )
    picture = _svg(graph) if graph.jobs or graph.datasets else "<p>No jobs or datasets in these events.</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="meta">{len(graph.jobs)} jobs, {len(graph.datasets)} datasets, {len(graph.edges)} edges
from {graph.events} OpenLineage events.</p>
<p class="legend"><span class="job" style="background:#e0e8f9;border:1px solid #3e5ba9">job</span>
<span style="background:#e3f9e5;border:1px solid #31a354">dataset</span>
<span style="background:#ffe3e3;border:1px solid #c92a2a">failed job</span></p>
<div class="picture">
{picture}
</div>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>namespace</th><th>last state</th><th>inputs</th><th>outputs</th>\
</tr></thead>
<tbody>
{job_rows}
</tbody></table>
<h2>Datasets</h2>
<table id="datasets"><thead><tr><th>dataset</th><th>namespace</th><th>fields</th></tr></thead>
<tbody>
{dataset_rows}
</tbody></table>
</body>
</html>
"""


def _dag_label(dag_id: str | Sequence[str]) -> str:
    return dag_id if isinstance(dag_id, str) else " + ".join(dag_id)


def write_lineage_html(
    events_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dag_id: str | Sequence[str] | None = None,
) -> LineageGraph:
    """Read ``events_path`` (JSON lines), write the page to ``out_path`` atomically, return the graph."""
    graph = build_graph(read_events(events_path), dag_id=dag_id)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(
        render_html(graph, title or f"Lineage{f' of {_dag_label(dag_id)}' if dag_id else ''}"),
        encoding="utf-8",
    )
    tmp.replace(out)
    return graph


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m airflow_provider_lakeops.lineage.graph EVENTS.jsonl OUT.html [--dag-id D] [--title T]``."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_lakeops.lineage.graph",
        description="Draw OpenLineage JSON-lines events as an HTML page.",
    )
    parser.add_argument("events", help="OpenLineage events, one JSON object per line (the file transport)")
    parser.add_argument("out", help="HTML file to write")
    parser.add_argument(
        "--dag-id",
        action="append",
        default=None,
        help="only jobs of this DAG (name == DAG or DAG.*); repeatable",
    )
    parser.add_argument("--title", default=None, help="page title")
    args = parser.parse_args(argv)
    try:
        graph = write_lineage_html(args.events, args.out, title=args.title, dag_id=args.dag_id)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"lineage picture: {args.out} ({len(graph.jobs)} jobs, {len(graph.datasets)} datasets, "
        f"{len(graph.edges)} edges, {len(graph.components())} connected piece(s))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
