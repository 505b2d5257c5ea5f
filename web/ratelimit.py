"""Questions per minute per identity: a sliding window in memory (each app process counts its own)."""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    def __init__(self, per_minute: int, window: float = 60.0):
        self.per_minute, self.window = per_minute, window
        self._asked: dict[str, deque[float]] = {}

    def check(self, who: str, now: float | None = None) -> float | None:
        """Count a question; None if allowed, else the seconds until the next one is."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic() if now is None else now
        asked = self._asked.setdefault(who, deque())
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) >= self.per_minute:
            return asked[0] + self.window - now
        asked.append(now)
        if len(self._asked) > 10_000:  # forget idle identities
            self._asked = {k: v for k, v in self._asked.items() if v and v[-1] > now - self.window}
        return None
