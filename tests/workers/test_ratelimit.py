"""The one sliding-window limit of the API and the bot (workers/ratelimit.py)."""

from __future__ import annotations

import threading

from workers.ratelimit import RateLimit


def test_n_per_window_per_key_then_the_window_slides(monkeypatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("workers.ratelimit.time.monotonic", lambda: clock[0])
    limit = RateLimit(3, window_s=60.0)
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow(42)  # keys are independent (the bot's user ids are ints)
    clock[0] += 60.5
    assert limit.allow("a")


def test_threads_never_get_more_than_n() -> None:
    limit = RateLimit(50, window_s=600.0)
    granted = []
    threads = [threading.Thread(target=lambda: granted.extend(limit.allow("k") for _ in range(20))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 50
