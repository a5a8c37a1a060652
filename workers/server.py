"""The API's HTTP protocol for uvicorn: h11 with a guard against idle and header-trickling connections.

uvicorn closes a connection that idles *between* requests (``timeout_keep_alive``), but not one that never
completes its first request line and headers: 520 such connections under ``ulimit -n 1024`` ran the API out of
file descriptors (issue 13). :class:`GuardedH11Protocol` closes a connection whose request headers are not
complete ``header_timeout_s`` after it opened, and refuses connections past ``max_connections`` (at most half the
process's file-descriptor limit) at once, so the server keeps descriptors for the clients it is serving. A slow
*body* is the app's to cut off (:mod:`workers.http_api`, 408).

``moodmix serve`` uses it; with plain uvicorn: ``uvicorn workers.http_api:app --http workers.server:GuardedH11Protocol``.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["GuardedH11Protocol", "connection_limits"]

log = logging.getLogger("moodmix.api")


def connection_limits() -> tuple[float, int]:
    """(header timeout in s, most connections at once) from the settings and the descriptor limit."""
    from workers.config import get_settings

    settings = get_settings()
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = settings.max_connections
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, max(16, soft // 2))
    return settings.header_timeout_s, cap


_BUSY_BODY = b'{"detail": "the server is busy; try again in a minute"}'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n"
         b"retry-after: 30\r\ncontent-length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a header timeout and a connection cap (see the module docstring)."""

    _limits: tuple[float, int] | None = None
    _refused = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if GuardedH11Protocol._limits is None:
            GuardedH11Protocol._limits = connection_limits()
        header_timeout_s, cap = GuardedH11Protocol._limits
        self._guard: asyncio.TimerHandle | None = None
        if len(self.connections) > cap:
            GuardedH11Protocol._refused += 1
            if GuardedH11Protocol._refused in (1, 10, 100, 1000) or GuardedH11Protocol._refused % 10000 == 0:
                log.warning("more than %d connections at once: refused %d so far", cap,
                            GuardedH11Protocol._refused)
            transport.write(_BUSY)
            transport.close()
            return
        self._guard = self.loop.call_later(header_timeout_s, self._headers_overdue)

    def _headers_overdue(self) -> None:
        if self.cycle is None and not self.transport.is_closing():  # no request line + headers yet
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        guard: Any = getattr(self, "_guard", None)
        if guard is not None:
            guard.cancel()
        super().connection_lost(exc)
