"""Questions per minute per identity, counted by the `limits` library in a moving window.

Without REDIS_URL the counts live in this process's memory, so each app process of a deployment allows the full
limit on its own. With REDIS_URL they live in Redis, and every process shares them: adding processes does not
multiply the limit.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from rag.config import mask_url
from rag.errors import ServiceError

MEMORY = "async+memory://"
NAMESPACE = "questions"


class RateLimitStoreError(ServiceError):
    kind = "redis"


def storage_uri(redis_url: str | None) -> str:
    """`limits`' URI for REDIS_URL (redis://, rediss:// or redis+unix://), or this process's memory."""
    return f"async+{redis_url}" if redis_url else MEMORY


class RateLimiter:
    def __init__(self, per_minute: int, redis_url: str | None = None):
        self.per_minute = per_minute
        self.shared = redis_url is not None
        self._where = mask_url(redis_url) if redis_url else "memory"
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri(redis_url), wrap_exceptions=True))

    async def check(self, who: str) -> float | None:
        """Count a question; None if allowed, else the seconds until the next one is. Raises
        `RateLimitStoreError` when Redis cannot be reached: the limit is not silently dropped."""
        if self.per_minute <= 0:
            return None
        try:
            if await self._limiter.hit(self._item, NAMESPACE, who):
                return None
            stats = await self._limiter.get_window_stats(self._item, NAMESPACE, who)
        except StorageError as exc:
            raise RateLimitStoreError(
                f"The rate-limit store, Redis at {self._where}, is unavailable: {exc.storage_error!r:.200}. "
                "Check REDIS_URL and that the Redis server runs (or unset REDIS_URL to count in each process)."
            ) from None
        return max(stats.reset_time - time.time(), 0.1)
