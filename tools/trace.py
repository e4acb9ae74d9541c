"""python -m tools.trace <trace id>: one request's span tree across every process.

Reads the JSON-lines span files of the stack that runs (or ran) on a data folder (`--data-dir`, else
MAIS_DATA_DIR, default .data: the same variable `make run` reads) and prints each span indented under
its parent: service, operation, duration, status and tenant. The stack's record (`<data>/stack.json`)
says where its spans went (files, or an OTLP collector).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict


class TraceSettings(BaseSettings):
    """The one setting `make trace` reads: which stack's data folder (MAIS_DATA_DIR)."""

    model_config = SettingsConfigDict(env_prefix="MAIS_", extra="ignore")

    data_dir: Path = Path(".data")


def trace_destination(data_dir: Path) -> tuple[Path | None, str]:
    """(the folder of span files, "") or (None, the OTLP endpoint the stack exported to)."""
    try:
        record = orjson.loads((data_dir / "stack.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return data_dir / "traces", ""
    traces = str(record.get("traces") or "") if isinstance(record, dict) else ""
    if traces.startswith("otlp:"):
        return None, traces.removeprefix("otlp:")
    return (Path(traces) if traces else data_dir / "traces"), ""


def load_spans(trace_dir: Path, trace_id: str) -> list[dict[str, Any]]:
    """Every recorded span of one trace, from all processes' files."""
    spans = []
    needle = trace_id.encode()
    for path in sorted(trace_dir.glob("*.jsonl")):
        with path.open("rb") as lines:
            for line in lines:
                if needle in line:
                    span = orjson.loads(line)
                    if span.get("trace_id") == trace_id:
                        spans.append(span)
    return spans


def render_tree(spans: list[dict[str, Any]]) -> list[str]:
    """The span tree as indented lines, children in start order."""
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        parent = span.get("parent_span_id")
        children[parent if parent in by_id else None].append(span)
    lines: list[str] = []

    def walk(nodes: Iterable[dict[str, Any]], depth: int) -> None:
        for span in sorted(nodes, key=lambda s: s["start_ns"]):
            duration = (span["end_ns"] - span["start_ns"]) / 1e6
            tenant = f"  tenant={span['tenant_id']}" if span.get("tenant_id") else ""
            indent = "  " * depth
            where = f"{indent}{span['service']:<9} {span['name']}"
            lines.append(f"{where}  {duration:.1f} ms  {span['status']}{tenant}")
            walk(children.get(span["span_id"], []), depth + 1)

    walk(children[None], 0)
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="make trace ID=", description=__doc__)
    parser.add_argument("trace_id", nargs="?", default="", help="the X-Request-ID of a response")
    parser.add_argument("--data-dir", type=Path, default=None, help="the stack's data folder (MAIS_DATA_DIR)")
    args = parser.parse_args(argv)
    data_dir: Path = args.data_dir or TraceSettings().data_dir
    trace_id = args.trace_id.strip().lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        print("usage: make trace ID=<32-hex trace id from a response's X-Request-ID>", file=sys.stderr)
        print(
            "       (a UUID-shaped id is Envoy's own answer: look it up in logs/envoy-access.log)",
            file=sys.stderr,
        )
        return 2
    folder, collector = trace_destination(data_dir)
    if folder is None:
        print(
            f"the stack on {data_dir} sends its spans to the OTLP collector at {collector}", file=sys.stderr
        )
        return 1
    if not folder.is_dir():
        print(
            f"no traces folder at {folder}: is MAIS_DATA_DIR the one the stack runs with?"
            " (make trace ID=<id> MAIS_DATA_DIR=<its data folder>)",
            file=sys.stderr,
        )
        return 1
    spans = load_spans(folder, trace_id)
    if not spans:
        print(
            f"no spans recorded for {trace_id} under {folder} (not sampled, see MAIS_TRACE_SAMPLE_RATIO,"
            " or not yet written: spans are flushed within a second)",
            file=sys.stderr,
        )
        return 1
    print(f"trace {trace_id}: {len(spans)} spans")
    for line in render_tree(spans):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
