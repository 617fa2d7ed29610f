"""What the query service tells a monitor: its limits, its lanes' queues and its counters.

The snapshot names no client and no query text: counts and settings only.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fairdicom import __version__
from fairdicom.query.service import QueryService

STARTED = time.time()


def snapshot(service: QueryService) -> dict[str, Any]:
    """Return the service's limits, the state of each lane, the cache and the counters."""
    settings = service.settings
    cache = service.cache
    return {
        "version": __version__,
        "uptime_seconds": round(time.time() - STARTED, 3),
        "store_generation": service.generation(),
        "limits": {
            "query_timeout_seconds": settings.query_timeout,
            "query_memory_bytes": service.memory,
            "max_rows": settings.max_rows,
            "max_request_bytes": settings.max_request_bytes,
            "queue_size": settings.queue_size,
            "queue_wait_seconds": settings.queue_wait,
            "client_concurrency": settings.client_concurrency,
            "fast_lane_timeout_seconds": settings.fast_lane_timeout,
        },
        "lanes": [asdict(lane) for lane in service.lanes()],
        "clients": {
            "with_heavy_queries": service.clients.clients(),
            "refused": service.clients.refused,
        },
        "tokens": {
            "clients_locked_out": service.logins.locked(),
            "refused": service.logins.refused,
        },
        "cache": {
            "entries": len(cache),
            "bytes": cache.size,
            "max_bytes": cache.max_bytes,
            "hits": cache.hits,
            "misses": cache.misses,
        },
    }
