"""At most ``n`` calls per ``window_s`` per key: the sliding-window limit of the HTTP API (``GET /library`` per
client address) and of the Telegram bot (requests per user). In memory, thread-safe, standard library only (the
API process imports it without numpy)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Hashable

__all__ = ["RateLimit"]

#: Past this many keys, keys with no call left in their window are forgotten.
_MAX_KEYS = 10000


class RateLimit:
    """``allow(key)`` is True for at most ``n`` calls per ``window_s`` seconds per key (sliding window)."""

    def __init__(self, n: int, window_s: float = 60.0) -> None:
        self.n, self.window_s = n, window_s
        self._calls: dict[Hashable, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        now = time.monotonic()
        with self._lock:
            q = self._calls[key]
            while q and now - q[0] > self.window_s:
                q.popleft()
            if len(q) >= self.n:
                return False
            q.append(now)
            if len(self._calls) > _MAX_KEYS:  # forget idle clients
                for k in [k for k, v in self._calls.items() if not v]:
                    del self._calls[k]
            return True
