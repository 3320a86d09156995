"""Run every ``benchmarks/bench_*.py`` module and print one JSON line per figure.

``python -m benchmarks`` runs them all; ``python -m benchmarks store hook`` only the named ones.
A module that fails prints an ``{"name": ..., "error": ...}`` line and makes the exit status 1,
without stopping the others.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import traceback
from pathlib import Path


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    modules = discover()
    if argv:
        wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in argv}
        unknown = wanted - set(modules)
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(modules)}",
                  file=sys.stderr)
            return 2
        modules = [m for m in modules if m in wanted]
    status = 0
    for name in modules:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            for figure in module.run():
                print(json.dumps(figure, sort_keys=True), flush=True)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            print(json.dumps({"name": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
