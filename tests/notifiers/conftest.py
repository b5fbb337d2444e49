from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.standins.slack import SlackStandIn
from tests.standins.smtp import SmtpStandIn

SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "smtp-pa55word-that-must-not-leak"


@pytest.fixture(scope="session")
def slack_server() -> Iterator[SlackStandIn]:
    with SlackStandIn() as server:
        yield server


@pytest.fixture
def slack(slack_server: SlackStandIn) -> SlackStandIn:
    """The session's Slack stand-in, emptied for this test."""
    slack_server.reset()
    return slack_server


@pytest.fixture(scope="session")
def smtp_servers() -> Iterator[dict[str, SmtpStandIn]]:
    servers = {
        "none": SmtpStandIn(),
        "starttls": SmtpStandIn(tls="starttls", username=SMTP_USER, password=SMTP_PASSWORD),
        "tls": SmtpStandIn(tls="tls", username=SMTP_USER, password=SMTP_PASSWORD),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def smtp(smtp_servers: dict[str, SmtpStandIn], settle: None) -> dict[str, SmtpStandIn]:
    """SMTP stand-ins by TLS mode (STARTTLS and TLS with AUTH), emptied for this test."""
    for server in smtp_servers.values():
        server.reset()
    return smtp_servers


@pytest.fixture
async def settle() -> AsyncIterator[None]:
    """Lets the test's event loop finish closing its TLS connections before it stops.

    A TLS transport closes a few loop iterations after `close()` (close_notify goes
    out first); the anyio plugin's per-test loop stops at once, and the socket left
    open would warn (ResourceWarning) in whichever test runs the garbage collector next.
    """
    yield
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    # Nothing signals "socket closed" for a transport: poll (bounded).
    while _open_transports(loop) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _open_transports(loop: asyncio.AbstractEventLoop) -> list[asyncio.BaseTransport]:
    return [
        item
        for item in gc.get_objects()
        if isinstance(item, asyncio.Transport)
        and getattr(item, "_loop", None) is loop
        and getattr(item, "_sock", None) is not None
    ]
