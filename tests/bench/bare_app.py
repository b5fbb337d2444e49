"""The benchmark's baseline: a Starlette endpoint that only parses the JSON body.

It is served with `failwatch serve`'s own uvicorn settings (`receiver.cli.main.server_config`),
so the ratio to it measures what failwatch adds, not a difference in server setup.
Run: `python -m tests.bench.bare_app --port N`.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from receiver.cli.main import server_config
from tests.bench.payloads import WEBHOOK_PATH


async def parse_only(request: Request) -> Response:
    try:
        json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "body is not valid JSON"}, status_code=400)
    return JSONResponse({"status": "accepted"}, status_code=202)


app = Starlette(routes=[Route(WEBHOOK_PATH, parse_only, methods=["POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.Server(server_config(app, host=args.host, port=args.port)).run()


if __name__ == "__main__":
    main()
