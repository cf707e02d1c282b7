"""Defect 5: the lowest redis-py that pyproject.toml allows really works (write + read, sync and async).

redis-py at the floor is installed with pip into a cache folder (once per version) and put first on
``PYTHONPATH`` of a child process, which writes and reads the private test redis-server with
:class:`RedisOnlineStore`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, sys
import redis
assert redis.__version__ == sys.argv[2], (redis.__file__, redis.__version__)
from featurestore.online import RedisOnlineStore, ViewSpec
from featurestore.online.lookup import OnlineReader
from featurestore.types import Float64, Int64
view = ViewSpec("v", ("id",), (Int64,), ("x",), (Float64,), None)
store = RedisOnlineStore(sys.argv[1], "floor", write_batch_size=2)
assert store.write(view, [(1,), (2,), (3,)], [10, 20, 30], [0, 0, 0], [(0.5,), (1.5,), (2.5,)]) == 3
assert store.write(view, [(1,)], [5], [0], [(9.0,)]) == 0  # older: kept
assert store.read([(view, [(1,), (3,), (4,)])]) == [[(10, (0.5,)), (30, (2.5,)), None]]
if hasattr(store, "read_async"):
    async def main():
        got = await store.read_async([(view, [(2,), (4,)])])
        assert got == [[(20, (1.5,)), None]], got
        await store.aclose()
    asyncio.run(main())
store.teardown()
store.close()
print("ok", redis.__version__)
"""


def redis_floor() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'"redis>=([0-9][0-9.]*)', text)
    assert found, "pyproject.toml declares no redis>= floor"
    version = found.group(1)
    return version if version.count(".") >= 2 else version + ".0" * (2 - version.count("."))


def install(version: str) -> Path:
    target = Path(tempfile.gettempdir()) / f"featurestore-test-redis-{version}"
    if not (target / ".complete").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                        f"redis=={version}"], check=True, timeout=300)
        (target / ".complete").touch()
    return target


def test_the_lowest_allowed_redis_py_writes_and_reads(clean_redis_url: str) -> None:
    version = redis_floor()
    target = install(version)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", CHILD, clean_redis_url, version], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", version]
