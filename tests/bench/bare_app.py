"""The benchmark's baseline: a Starlette endpoint that only parses the JSON body.

With `--state FILE` it is the *durable floor* instead: it also stores each body in SQLite
through failwatch's own writer thread (group commit, `synchronous=FULL`) and answers after
the commit — what any endpoint that answers only once a webhook is durable pays, before
doing anything with it. failwatch's distance to this floor is its own work; the floor's
distance to the bare endpoint is durability's.

It is served with `failwatch serve`'s own uvicorn settings (`receiver.cli.main.server_config`),
so the ratio to it measures what failwatch adds, not a difference in server setup.
Run: `python -m tests.bench.bare_app --port N [--state FILE]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.cli.main import server_config
from receiver.store.sqlite_conn import Writer
from tests.bench.payloads import WEBHOOK_PATH


async def parse_only(request: Request) -> Response:
    try:
        json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "body is not valid JSON"}, status_code=400)
    return JSONResponse({"status": "accepted"}, status_code=202)


app = Starlette(routes=[Route(WEBHOOK_PATH, parse_only, methods=["POST"])])


def durable_app(path: str) -> Starlette:
    writer = Writer(path)

    def insert(conn: sqlite3.Connection, key: str, body: bytes) -> None:
        conn.execute("INSERT INTO received VALUES (?, ?) ON CONFLICT DO NOTHING", (key, body))

    async def parse_and_commit(request: Request) -> Response:
        body = await request.body()
        try:
            record = json.loads(body)["record"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "not a webhook payload"}, status_code=400)
        await writer.submit(lambda conn: insert(conn, str(record.get("id")), body))
        return JSONResponse({"status": "accepted"}, status_code=202)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        writer.start()
        await writer.submit(
            lambda conn: conn.execute(
                "CREATE TABLE IF NOT EXISTS received (id TEXT PRIMARY KEY, body BLOB NOT NULL)"
            )
        )
        yield
        writer.stop()

    route = Route(WEBHOOK_PATH, parse_and_commit, methods=["POST"])
    return Starlette(routes=[route], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", help="store each body durably in this SQLite file first")
    args = parser.parse_args()
    served = app if args.state is None else durable_app(args.state)
    uvicorn.Server(server_config(served, host=args.host, port=args.port)).run()


if __name__ == "__main__":
    main()
