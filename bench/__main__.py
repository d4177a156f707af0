"""``python -m bench [--quick] [--only NAME] [--size N]``: run the benchmarks, print tables.

Every module ``bench/*_bench.py`` is a benchmark: it exposes ``run(args) -> list[dict]``,
one dict per table row (keys are the columns). ``args`` carries the options below; a
module reads those it knows (``getattr(args, "quick", False)``). Benchmarks measure and
report targets; they never run in the test suite.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    """The benchmark modules, by name (``search`` for ``bench/search_bench.py``)."""
    names = (m.name for m in pkgutil.iter_modules([str(HERE)]))
    return sorted(name.removesuffix("_bench") for name in names if name.endswith("_bench"))


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table; columns in order of first appearance."""
    if not rows:
        return "(no rows)"
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(r.get(c)) for r in rows if r.get(c) is not None) for c in columns]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(columns), rule, *(line(values) for values in cells)])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only", action="append", choices=benchmarks(), help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--size", type=int, default=None, help="problem size, where it applies")
    args = parser.parse_args(argv)
    failed = []
    for name in args.only or benchmarks():
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}_bench")
            rows = module.run(args)
        except Exception:  # one broken benchmark must not hide the others' results
            traceback.print_exc()
            failed.append(name)
            continue
        print(table(rows))
        print(f"({name}: {time.perf_counter() - started:,.1f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
