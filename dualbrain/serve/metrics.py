"""Prometheus metrics for ``GET /metrics``: requests, answer latency and tokens, the learning queue.

Each app gets its own registry (no global state: two apps in one process, as in the tests, do not
share counters). Requests are labelled by route template (``/v1/kbs/{name}``), never by the raw path,
so knowledge-base names and document ids do not end up in labels and the label set stays bounded.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Match

from dualbrain.library import Library
from dualbrain.store.queue import REQUEST_STATUSES, WorkQueue

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Answers on a CPU take from a fraction of a second to minutes.
_ANSWER_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


class ServerMetrics:
    def __init__(self, library: Library, queue: WorkQueue):
        self._library = library
        self._queue = queue
        self.registry = CollectorRegistry()
        self.requests = Counter("dualbrain_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry)
        self.request_seconds = Histogram("dualbrain_http_request_seconds", "Time to answer an HTTP request", ["route"], registry=self.registry)
        self.answer_seconds = Histogram("dualbrain_answer_seconds", "Time to generate an answer", ["model"],
                                        buckets=_ANSWER_BUCKETS, registry=self.registry)
        self.completion_tokens = Counter("dualbrain_completion_tokens", "Tokens generated", ["model"], registry=self.registry)
        self.queue = Gauge("dualbrain_learning_requests", "Learn and forget requests by status", ["status"], registry=self.registry)
        self.knowledge_bases = Gauge("dualbrain_knowledge_bases", "Knowledge bases in the home", registry=self.registry)

    def observe_answer(self, knowledge: bool, seconds: float, tokens: int) -> None:
        model = "knowledge" if knowledge else "base"
        self.answer_seconds.labels(model).observe(seconds)
        self.completion_tokens.labels(model).inc(tokens)

    def exposition(self) -> bytes:
        """The text format, with the queue and knowledge-base gauges read now."""
        counts = self._queue.counts()
        for status in REQUEST_STATUSES:
            self.queue.labels(status).set(counts.get(status, 0))
        self.knowledge_bases.set(len(self._library.names()))
        return generate_latest(self.registry)


class CountRequests(BaseHTTPMiddleware):
    def __init__(self, app, metrics: ServerMetrics, routes: list[BaseRoute]):
        super().__init__(app)
        self._metrics = metrics
        self._routes = routes

    async def dispatch(self, request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        template = self._template(request)
        # The HTTP parser accepts any method name: unknown ones share a label, as unmatched paths do.
        method = request.method if request.method in _METHODS else "other"
        self._metrics.requests.labels(method, template, str(response.status_code)).inc()
        self._metrics.request_seconds.labels(template).observe(time.perf_counter() - started)
        return response

    def _template(self, request: Request) -> str:
        """The matched route's path template; a request refused before routing (401) is matched here, the
        rest reuse the router's match. Unmatched paths share one label: a scanner's random paths must not
        grow the label set."""
        routed = request.scope.get("route")
        if routed is not None:
            return getattr(routed, "path", "unmatched")
        for route in self._routes:
            if hasattr(route, "path") and route.matches(request.scope)[0] != Match.NONE:
                return route.path
        return "unmatched"
