"""Sleeping until there is work: woken early by an event, or by shutdown."""

from __future__ import annotations

import asyncio


async def nap(wake: asyncio.Event, stop: asyncio.Event, *, seconds: float) -> None:
    """Return after `seconds`, or as soon as `wake` or `stop` is set (clearing `wake`)."""
    wake.clear()
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
