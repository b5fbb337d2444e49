"""Prometheus metrics, named as in the design (one registry per app, so tests and
several apps in one process never share counters)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

WEBHOOK_OUTCOMES = (
    "accepted",
    "duplicate",
    "ignored",
    "unauthorized",
    "invalid",
    "too_large",
    "unavailable",
)
# Why the HTTP server closed a connection itself (receiver.web.connections).
CONNECTION_CLOSE_REASONS = (
    "too_many_connections",
    "header_too_large",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
)
SWEEP_RESULTS = ("ok", "skipped", "source_unavailable", "store_unavailable", "error")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhook_events = Counter(
            "failwatch_webhook_events",
            "Webhook calls by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        # Every series exists from the start, at 0; the children are kept because
        # `labels()` costs a lock and a lookup on every webhook.
        self.webhook_outcome = {o: self.webhook_events.labels(o) for o in WEBHOOK_OUTCOMES}
        self.ignored = Counter(
            "failwatch_webhook_ignored",
            "Webhook calls acknowledged but ignored, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.failures = Counter(
            "failwatch_failures",
            "Failures recorded (webhook and sweep), by category.",
            ["category"],
            registry=self.registry,
        )
        self._ignored_by_reason: dict[str, Counter] = {}
        self._failures_by_category: dict[str, Counter] = {}
        self.notifications = Counter(
            "failwatch_notifications",
            "Notification attempts by receiver, integration and result.",
            ["receiver", "integration", "result"],
            registry=self.registry,
        )
        self.folded = Counter(
            "failwatch_groups_folded",
            "Failures that went to an overflow group (their route was at max_groups).",
            ["route", "category"],
            registry=self.registry,
        )
        self.held = Counter(
            "failwatch_notifications_held",
            "Updates held back for a digest (their receiver was at max_notifications).",
            ["receiver"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "failwatch_outbox_pending", "Notifications waiting to be sent.", registry=self.registry
        )
        self.notification_latency = Histogram(
            "failwatch_notification_latency_seconds",
            "From a flush being decided to its notification being sent.",
            buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
            registry=self.registry,
        )
        self.sweep_runs = Counter(
            "failwatch_sweep_runs",
            "Database sweeps by result (skipped: another replica holds the lease).",
            ["result"],
            registry=self.registry,
        )
        for result in SWEEP_RESULTS:
            self.sweep_runs.labels(result)
        self.sweep_found = Counter(
            "failwatch_sweep_failures",
            "New failures found by the sweeps: kind=failed means a webhook never arrived.",
            ["kind"],
            registry=self.registry,
        )
        self.pruned = Counter(
            "failwatch_pruned",
            "Rows deleted by retention, by what they were.",
            ["table"],
            registry=self.registry,
        )
        self.store_rows = Gauge(
            "failwatch_store_rows",
            "Rows in the state store, by table (as of the last prune pass).",
            ["table"],
            registry=self.registry,
        )
        closed = Counter(
            "failwatch_connections_closed",
            "HTTP connections the server closed itself, by the bound that closed them.",
            ["reason"],
            registry=self.registry,
        )
        self.connections_closed = {r: closed.labels(r) for r in CONNECTION_CLOSE_REASONS}
        self.loop_errors = Counter(
            "failwatch_loop_errors",
            "Failed passes of the background loops (dispatcher, delivery, failure_spike), by loop.",
            ["loop"],
            registry=self.registry,
        )
        for loop in ("dispatcher", "delivery", "failure_spike"):
            self.loop_errors.labels(loop)
        self.pgnet_deliveries = Counter(
            "failwatch_pgnet_deliveries",
            "pg_net's deliveries to failwatch's webhooks, as pg_net recorded their outcome.",
            ["result"],
            registry=self.registry,
        )
        for result in ("ok", "failed", "timeout", "error"):
            self.pgnet_deliveries.labels(result)
        self.request_duration = Histogram(
            "failwatch_request_duration_seconds",
            "HTTP request duration by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )

    def ignored_reason(self, reason: str) -> Counter:
        """The ignored counter of `reason`, looked up once (`labels()` takes a lock)."""
        child = self._ignored_by_reason.get(reason)
        if child is None:
            child = self._ignored_by_reason[reason] = self.ignored.labels(reason)
        return child

    def failure_category(self, category: str) -> Counter:
        """The failures counter of `category`, looked up once."""
        child = self._failures_by_category.get(category)
        if child is None:
            child = self._failures_by_category[category] = self.failures.labels(category)
        return child
