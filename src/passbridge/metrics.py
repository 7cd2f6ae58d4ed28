"""Prometheus metrics (prometheus-client): what happened, counted where it happens; what is stored,
read from the database when scraped.

Counters and histograms live in each process. With `serve --workers N`, `passbridge serve` points
PROMETHEUS_MULTIPROC_DIR at a private directory before the workers start, every worker's values go
to files there, and a scrape answered by any worker adds them up (prometheus-client's multiprocess
mode). Figures that describe the store (passes by state, the mail outbox) are not counted by any
process: `StoreCollector` asks the shared database at scrape time, so every worker and every node
reports the same, true value, and nothing is summed twice.

Other features record through the functions below, never through the metric objects, so the names
and labels stay in this one module (docs/operations.md lists them).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from passbridge.clock import Clock
from passbridge.passes import census_queries
from passbridge.store.db import Database
from passbridge.store.tx import Tx

log = logging.getLogger("passbridge.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Created unregistered: `scrape_registry` decides what a scrape reads (these objects in one process,
# or every worker's files in multiprocess mode).
SIGN_INS = Counter(
    "passbridge_sign_ins",
    "Sign-in proofs checked, by method (temporaryAccessPass, fido2, softwareOath) and result.",
    ["method", "result"],
    registry=None,
)
PASSES_ISSUED = Counter("passbridge_passes_issued", "Temporary Access Passes issued.", registry=None)
PASSES_USED = Counter(
    "passbridge_passes_used", "Sign-ins with a Temporary Access Pass that succeeded.", registry=None
)
HASH_SECONDS = Histogram(
    "passbridge_argon2_seconds",
    "Time of one Argon2id hash or verify on its hashing thread (queueing excluded).",
    ["operation"],
    buckets=(0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0),
    registry=None,
)
REQUEST_SECONDS = Histogram(
    "passbridge_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by matched route template.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=None,
)
SCIM_OPERATIONS = Counter(
    "passbridge_scim_operations",
    "SCIM requests by resource type, operation and HTTP status.",
    ["resource", "operation", "status"],
    registry=None,
)
MAIL_SENT = Counter("passbridge_mail_sent", "Mail delivery attempts by result.", ["result"], registry=None)

_PROCESS_METRICS = (
    SIGN_INS,
    PASSES_ISSUED,
    PASSES_USED,
    HASH_SECONDS,
    REQUEST_SECONDS,
    SCIM_OPERATIONS,
    MAIL_SENT,
)

# Methods a route can have; anything else a client sends is one label, so no client can add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def multiprocess_dir() -> str | None:
    """The directory prometheus-client writes to in this process, or None (one process)."""
    return os.environ.get(MULTIPROC_ENV) or None


# --- recording -----------------------------------------------------------------------------------


def sign_in(method: str, result: str) -> None:
    """One proof checked: result is success, failure or locked."""
    SIGN_INS.labels(method, result).inc()


def pass_issued(count: int = 1) -> None:
    PASSES_ISSUED.inc(count)


def pass_used() -> None:
    PASSES_USED.inc()


def scim_operation(resource: str, operation: str, status: int) -> None:
    """One SCIM request: resource type (User, Group, Bulk...), operation (create, replace, patch,
    delete, get, list...) and the HTTP status answered."""
    SCIM_OPERATIONS.labels(resource, operation, str(status)).inc()


def mail_sent(result: str) -> None:
    """One delivery attempt: sent, retry (refused for now, tried again later) or failed (given up)."""
    MAIL_SENT.labels(result).inc()


@contextmanager
def hash_timer(operation: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        HASH_SECONDS.labels(operation).observe(time.perf_counter() - start)


class RequestLatency:
    """The request histogram's children, looked up once per (method, route, status class): the
    labels() call costs more than the observation (bench/README.md, metrics)."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status // 100)
        child = self._children.get(key)
        if child is None:
            label = method if method in _METHODS else "other"
            child = REQUEST_SECONDS.labels(label, route, f"{status // 100}xx")
            self._children[key] = child
        child.observe(seconds)


# --- what the store holds, read at scrape time -----------------------------------------------------

# A feature that keeps a queue in the database (the mail outbox) registers how to measure it:
# `(tx) -> {state: rows}`, read in the scrape's transaction.
OutboxDepth = Callable[[Tx], dict[str, int]]
_outbox_depth: list[OutboxDepth] = []


def outbox_depth_source(reader: OutboxDepth | None) -> None:
    """Have scrapes report `passbridge_mail_outbox{state=...}` from `reader` (the last one registered;
    None: no more)."""
    _outbox_depth[:] = [] if reader is None else [reader]


class StoreCollector(Collector):
    """Figures read from the shared database when scraped: the same on every worker and node."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        try:
            with self._db.transaction("read") as tx:
                return _store_metrics(tx, self._clock)
        except SQLAlchemyError as exc:
            # A scrape must still answer: the process's own figures come through, these are missing.
            log.warning("metrics: the store could not be read: %s", type(exc).__name__)
            return []


def _store_metrics(tx: Tx, clock: Clock) -> list[Metric]:
    passes = GaugeMetricFamily(
        "passbridge_passes",
        "Temporary Access Passes stored now, by state (active, pending, used, expired).",
        labels=["state"],
    )
    for state, count in sorted(census_queries.pass_states(tx, clock.now()).items()):
        passes.add_metric([state], count)
    found: list[Metric] = [passes]
    if _outbox_depth:
        outbox = GaugeMetricFamily(
            "passbridge_mail_outbox", "Mail in the outbox now, by state.", labels=["state"]
        )
        for state, count in sorted(_outbox_depth[0](tx).items()):
            outbox.add_metric([state], count)
        found.append(outbox)
    return found


def scrape_registry(store: StoreCollector) -> CollectorRegistry:
    """What GET /metrics reads: this process's metrics, or every worker's in multiprocess mode, and
    the store's figures."""
    registry = CollectorRegistry()
    directory = multiprocess_dir()
    if directory is not None:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        for metric in _PROCESS_METRICS:
            registry.register(metric)
    registry.register(store)
    return registry
