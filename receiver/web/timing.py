"""ASGI middleware that times every HTTP request by the route that served it."""

from __future__ import annotations

import time

from prometheus_client import Histogram
from starlette.types import ASGIApp, Receive, Scope, Send

from receiver.metrics import Metrics


class RequestTiming:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._by_route: dict[str, Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            # The router records the endpoint in the scope; unmatched paths share a label
            # so a scanner cannot create unbounded series.
            endpoint = scope.get("endpoint")
            route = getattr(endpoint, "__name__", "unmatched")
            histogram = self._by_route.get(route)
            if histogram is None:
                histogram = self._by_route[route] = self.metrics.request_duration.labels(route)
            histogram.observe(time.perf_counter() - started)
