"""`make bench`: every benchmark, one after the other, each printing its table.

Results of the latest run are recorded by hand in bench/RESULTS.md. Pass names to run
a subset: `python -m bench.run offline online`.
"""

from __future__ import annotations

import importlib
import sys
import time

SUITES = {
    "offline": ("bench.offline", "training sets: 1M source rows x 100k entity rows, and 10x"),
    "online": ("bench.online", "materialize into Redis, SDK lookup latency"),
    "layout": ("bench.online_layout", "Redis layout: one string vs one hash per entity"),
    "http": ("bench.http", "HTTP lookups against `featurestore serve`"),
}


def main(names: list[str]) -> None:
    for name in names or list(SUITES):
        module, what = SUITES[name]
        print(f"\n=== {name}: {what} ===", flush=True)
        t0 = time.perf_counter()
        mod = importlib.import_module(module)
        argv, sys.argv = sys.argv, [module]
        try:
            mod.main()
        finally:
            sys.argv = argv
        print(f"({name} took {time.perf_counter() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
