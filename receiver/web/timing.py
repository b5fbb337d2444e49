"""ASGI middleware that times every HTTP request by the route that served it."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from receiver.metrics import Metrics


class RequestTiming:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
            self.metrics.request_duration.labels(route).observe(time.perf_counter() - started)
