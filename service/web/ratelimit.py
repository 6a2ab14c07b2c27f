"""Requests per site and minute: a Redis fixed window, failing open to a local window.

When Redis does not answer, ingest must go on (the submission is stored; scoring waits
for the broker), so the limiter falls back to a per-process window and leaves Redis
alone for a few seconds before trying again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

WINDOW_S = 60
#: After a Redis failure, use the local window this long before asking Redis again.
REDIS_RETRY_AFTER_S = 5.0
REDIS_TIMEOUT_S = 0.25


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int
    count: int
    backend: str


class RateLimiter:
    """Count requests per (site, minute) and say whether one more is allowed."""

    def __init__(
        self,
        redis_url: str,
        limit_per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit_per_minute
        self.clock = clock
        self._redis = (
            redis.Redis.from_url(
                redis_url,
                socket_connect_timeout=REDIS_TIMEOUT_S,
                socket_timeout=REDIS_TIMEOUT_S,
                retry_on_timeout=False,
            )
            if redis_url
            else None
        )
        self._redis_down_until = 0.0
        self._local: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, site_id: str) -> Verdict:
        """Count one request of the site; allowed is False once the minute's limit is used."""
        now = self.clock()
        window = int(now // WINDOW_S)
        retry_after = max(1, int((window + 1) * WINDOW_S - now + 0.999))
        count, backend = self._count(site_id, window, now)
        return Verdict(count <= self.limit, retry_after, count, backend)

    def _count(self, site_id: str, window: int, now: float) -> tuple[int, str]:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            key = f"modassist:ratelimit:{site_id}:{window}"
            try:
                pipe = self._redis.pipeline(transaction=True)
                pipe.incr(key)
                pipe.expire(key, WINDOW_S * 2)
                count, _ = pipe.execute()
                return int(count), "redis"
            except redis.RedisError as exc:
                log.warning(
                    "rate limiter falls back to the local window", extra={"error": repr(exc)}
                )
                self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_S
        with self._lock:
            for stale in [k for k in self._local if k[1] < window]:
                del self._local[stale]
            key_local = (site_id, window)
            self._local[key_local] = self._local.get(key_local, 0) + 1
            return self._local[key_local], "local"

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
