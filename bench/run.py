"""Run every benchmark present: seed, then bench_pages, bench_sweep, bench_webhook, bench_names, bench_photos,
bench_faces, bench_load, and the policy checks against the labelled posts (policy_checks, in a database of its own).

    python -m bench.run [--scale 0.05] [--only pages,sweep,policy_checks]

Each module exposes run() -> list[dict]. Prints a table, then one JSON line per
benchmark row, and writes bench/results/latest.json. Targets are reported as
met/missed; a missed target never fails the run (an error in a benchmark does).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback

from bench import common

MODULES = [
    "bench_pages",
    "bench_sweep",
    "bench_webhook",
    "bench_names",
    "bench_photos",
    "bench_faces",
    "bench_load",
    "policy_checks",
]
KEY_ORDER = ["median_ms", "p95_ms", "ratio", "queries", "queries_over_floor", "n"]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def print_table(rows: list[dict]) -> None:
    header = ["benchmark", "name", "median_ms", "p95_ms", "ratio", "queries", "target", "met"]
    lines = [header]
    for r in rows:
        met = r.get("met")
        lines.append(
            [
                _cell(r.get("benchmark", "")),
                _cell(r.get("name", "")),
                *(_cell(r.get(k, "")) for k in header[2:-1]),
                "" if met is None else ("met" if met else "MISSED"),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=None, help="seed scale (default FIG_BENCH_SCALE or 1)")
    parser.add_argument(
        "--only", default="", help="comma-separated: pages,sweep,webhook,names,photos,faces,load,policy_checks"
    )
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else common.scale()
    os.environ["FIG_BENCH_SCALE"] = str(scale)

    common.setup()
    from bench.seed import ensure

    info = ensure(scale)
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    wanted = {f"bench_{n}" for n in only} | set(only)
    rows: list[dict] = []
    errors: list[str] = []
    for name in MODULES:
        if wanted and name not in wanted:
            continue
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"bench.run: {name} not present, skipped", file=sys.stderr)
            continue
        print(f"bench.run: running {name} ...", file=sys.stderr)
        common.vacuum()  # each benchmark starts from a table without the dead rows of the one before
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            produced = module.run()
        except Exception:
            errors.append(name)
            traceback.print_exc()
            rows.append(
                {
                    "benchmark": name.removeprefix("bench_"),
                    "name": "ERROR",
                    "met": False,
                    "error": traceback.format_exc(limit=3),
                }
            )
            continue
        for row in produced:
            row.setdefault("benchmark", name.removeprefix("bench_"))
        rows.extend(produced)
        print(f"bench.run: {name} took {time.perf_counter() - start:.1f} s", file=sys.stderr)

    print()
    print_table(rows)
    print()
    for row in rows:
        print(json.dumps(row, default=str, sort_keys=False))
    path = common.write_results(rows, scale=scale, seed={k: info.get(k) for k in ("counts", "reference_time")})
    missed = [f"{r.get('benchmark')}: {r.get('name', r.get('target', ''))}" for r in rows if r.get("met") is False]
    shown = path.relative_to(common.BASE_DIR) if path.is_relative_to(common.BASE_DIR) else path
    print(f"\nResults in {shown}. Targets missed: {len(missed)}" + ("".join(f"\n  - {m}" for m in missed)))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
