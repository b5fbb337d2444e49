"""A small, predictable pool of synchronous PostgreSQL connections.

Why not psycopg_pool here: after an outage its reconnect back-off can keep failing
requests for many seconds after the database is back. failwatch wants the opposite:
while the database is away, each request fails fast (one refused connect, → 503);
the first request after it returns connects and succeeds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq

from receiver.errors import StoreUnavailable


class ConnectionPool:
    def __init__(
        self, url: str, *, size: int, options: str, connect_timeout: int = 3, wait: float = 5.0
    ) -> None:
        self._url = url
        self._kwargs: dict[str, Any] = {"options": options, "connect_timeout": connect_timeout}
        self._wait = wait
        self._slots = threading.BoundedSemaphore(size)
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one transaction; broken ones are dropped, not reused."""
        if self._closed:
            raise StoreUnavailable("the state store is closed")
        if not self._slots.acquire(timeout=self._wait):
            raise StoreUnavailable("no free state connection")
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = self._take()
            yield conn
        finally:
            if conn is not None:
                self._give_back(conn)
            self._slots.release()

    def discard_idle(self) -> None:
        """Drop every idle connection (after an error that suggests they are dead)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def close(self) -> None:
        self._closed = True
        self.discard_idle()

    def _take(self) -> psycopg.Connection[Any]:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return psycopg.connect(self._url, **self._kwargs)
            if not conn.closed and conn.info.transaction_status == pq.TransactionStatus.IDLE:
                return conn
            conn.close()

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        healthy = (
            not self._closed
            and not conn.closed
            and conn.info.transaction_status == pq.TransactionStatus.IDLE
        )
        if healthy:
            self._idle.put(conn)
        else:
            conn.close()
