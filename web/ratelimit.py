"""Questions per minute, per identity and per client address, counted by the `limits` library in a moving window.

The identity limit is a student's; the address limit catches a client that sheds its identity (a REST client
that drops its visitor cookie is a new visitor on every request), and is set high enough for a class behind one
NAT. Without REDIS_URL the counts live in this process's memory, so each app process of a deployment allows the
full limits on its own; with REDIS_URL they live in Redis, shared by every process: adding processes does not
multiply them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from rag.config import mask_url
from rag.errors import ServiceError

MEMORY = "async+memory://"
QUESTIONS, LOGINS = "questions", "logins"  # the namespaces of the counts
# Password attempts a minute: for one user name from one address (a guesser is slowed there, and the real user,
# elsewhere, is not locked out by them); for one user name from anywhere (guessing from many addresses); and from
# one address, whatever the names.
LOGINS_PER_PAIR = 10
LOGINS_PER_USER = 100
LOGINS_PER_ADDRESS = 30


class RateLimitStoreError(ServiceError):
    kind = "redis"


LimitedBy = Literal["identity", "address", "user"]


@dataclass(frozen=True)
class Limited:
    """A question refused: which limit, of how many a minute, and the seconds until the next is allowed."""

    by: LimitedBy
    per_minute: int
    wait: float


def storage_uri(redis_url: str | None) -> str:
    """`limits`' URI for REDIS_URL (redis://, rediss:// or redis+unix://), or this process's memory."""
    return f"async+{redis_url}" if redis_url else MEMORY


class RateLimiter:
    def __init__(self, per_identity: int, per_address: int = 0, *, redis_url: str | None = None):
        self.per_identity, self.per_address = per_identity, per_address
        self._where = mask_url(redis_url) if redis_url else "memory"
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri(redis_url), wrap_exceptions=True))

    async def check(self, identity: str, address: str | None = None) -> Limited | None:
        """Count a question of `identity` from `address`; None if allowed. Raises `RateLimitStoreError` when
        Redis cannot be reached: the limit is not silently dropped."""
        return await self._count(
            QUESTIONS, [("address", self.per_address, address), ("identity", self.per_identity, identity)]
        )

    async def check_login(self, user: str, address: str | None) -> Limited | None:
        """Count a password attempt for `user` from `address`; None if allowed."""
        pair = f"{user}@{address}" if address else None
        return await self._count(
            LOGINS,
            [
                ("address", LOGINS_PER_ADDRESS, address),
                ("user", LOGINS_PER_PAIR, pair),
                ("user", LOGINS_PER_USER, user),
            ],
        )

    async def reachable(self) -> tuple[bool, str]:
        """Whether the counts' store answers, and where it is (for /api/v1/health)."""
        if await self._limiter.storage.check():
            return True, f"rate limits counted in {self._where}"
        return False, self._unavailable("no answer to a ping")

    async def _count(self, namespace: str, limits: list[tuple[LimitedBy, int, str | None]]) -> Limited | None:
        """Count one use against each limit in turn (an unset key or a limit of 0 does not count); the first
        that refuses."""
        for by, per_minute, key in limits:
            item = RateLimitItemPerMinute(per_minute) if per_minute > 0 and key else None
            if item and (wait := await self._hit(item, f"{by}:{key}", namespace)):
                return Limited(by, per_minute, wait)
        return None

    async def _hit(self, item: RateLimitItemPerMinute, key: str, namespace: str) -> float | None:
        try:
            if await self._limiter.hit(item, namespace, key):
                return None
            stats = await self._limiter.get_window_stats(item, namespace, key)
        except StorageError as exc:
            raise RateLimitStoreError(self._unavailable(f"{exc.storage_error!r:.200}")) from None
        return max(stats.reset_time - time.time(), 0.1)

    def _unavailable(self, why: str) -> str:
        return (
            f"The rate-limit store, Redis at {self._where}, is unavailable: {why}. "
            "Check REDIS_URL and that the Redis server runs (or unset REDIS_URL to count in each process)."
        )
