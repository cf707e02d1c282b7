"""The Redis key layout check of a store (layout 2: hash-tagged entities; see ``keys.py``).

A project's keys record their layout in ``fs:<project>:__layout``. A store checks it once (two small commands):
a missing layout key beside the project's data timestamps (``fs:<project>:__fresh``, which every write since
freshness tracking keeps) means rows of layout 1, which this version cannot see, so every read and write fails with
:class:`~featurestore.errors.OnlineLayoutError` naming the migration instead of answering NOT_FOUND. The first write
of a project with no keys yet records the layout.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, NoReturn

from featurestore.config import redact_url
from featurestore.errors import OnlineLayoutError
from featurestore.online import keys as layout
from featurestore.online.redis_async import AsyncConnection


def redis_failures() -> tuple[type[Exception], ...]:
    """What a Redis command can raise (redis-py's errors, cluster errors outside that tree, socket errors)."""
    import redis

    return (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError)


class LayoutCheck:
    """The layout check of :class:`~featurestore.online.redis_store.RedisOnlineStore` (a mixin)."""

    if TYPE_CHECKING:
        url: str
        project: str
        _where: str
        _layout: str
        _fresh: str
        _layout_until: float

        @property
        def _client(self) -> Any: ...

        def _fail(self, exc: Exception, action: str) -> NoReturn: ...

        def _async_client(self) -> Any: ...

    def _layout_error(self, found: bytes | None) -> OnlineLayoutError:
        if found is None:
            return OnlineLayoutError(
                f"{self._where} holds rows of project {self.project!r} in Redis key layout 1 (keys without a hash "
                f"tag, written by an earlier featurestore); this version reads and writes layout "
                f"{layout.LAYOUT_VERSION} (fs:<project>:<view>:{{<entity>}}), so it would answer NOT_FOUND for every "
                "row. Migrate by re-materializing: 'featurestore teardown --yes' (deletes this project's online "
                "keys and resets its watermarks), then 'featurestore materialize-incremental now' (pushed rows "
                "that are not in the offline store must be pushed again)",
                url=redact_url(self.url), layout=1, supported=layout.LAYOUT_VERSION)
        text = found.decode(errors="replace")
        return OnlineLayoutError(
            f"{self._where}: project {self.project!r} has Redis key layout {text!r} ({self._layout}), but this "
            f"featurestore reads layout {layout.LAYOUT_VERSION}: upgrade featurestore, or re-materialize after "
            "'featurestore teardown --yes'", url=redact_url(self.url), layout=text, supported=layout.LAYOUT_VERSION)

    def _layout_verdict(self, found: bytes | None, old_rows: int, write: bool) -> bool:
        """Whether the layout key must be set (raises when the project's keys follow another layout)."""
        if found is None:
            if old_rows:  # rows (their data timestamps) but no layout key: written by layout 1
                raise self._layout_error(None)
            return write
        if found != str(layout.LAYOUT_VERSION).encode():
            raise self._layout_error(found)
        return False

    def _layout_checked(self) -> bool:
        return time.monotonic() < self._layout_until

    def _check_layout(self, write: bool = False) -> None:
        """Refuse a project whose keys follow another layout: checked once per store (two small commands); the
        first write of a project with no keys yet records the layout (``SET fs:<project>:__layout 2``)."""
        if self._layout_checked():
            return
        try:
            found: bytes | None = self._client.get(self._layout)
            old_rows = 0 if found is not None else int(self._client.exists(self._fresh))
            if self._layout_verdict(found, old_rows, write):
                self._client.set(self._layout, str(layout.LAYOUT_VERSION))
        except redis_failures() as exc:
            self._fail(exc, "read the key layout")
        self._layout_until = self._layout_holds(found is not None or write)

    @staticmethod
    def _layout_holds(recorded: bool) -> float:
        """Until when a check holds: for good once the layout key is there; a second for a project with no keys
        yet (another process may write layout-1 rows meanwhile; a read of an empty project costs no more)."""
        return math.inf if recorded else time.monotonic() + 1.0

    async def _check_layout_async(self) -> None:
        """:meth:`_check_layout` (read side) on the event loop's connection."""
        try:
            client = self._async_client()
            if isinstance(client, AsyncConnection):
                found = await client.execute("GET", self._layout)
                old_rows = 0 if found is not None else int(await client.execute("EXISTS", self._fresh))
            else:
                found = await client.execute_command("GET", self._layout)
                old_rows = 0 if found is not None else int(await client.execute_command("EXISTS", self._fresh))
        except redis_failures() as exc:
            self._fail(exc, "read the key layout")
        self._layout_verdict(found, old_rows, False)
        self._layout_until = self._layout_holds(found is not None)
