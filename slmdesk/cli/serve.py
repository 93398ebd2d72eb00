"""``slmdesk serve``: the local OpenAI-compatible server, in the foreground until Ctrl+C.

Once it listens it prints the base URL and ``token: <the token>``, the two things an OpenAI
client needs. Each request is printed too (time, model, tokens, duration; never the text).
"""

from __future__ import annotations

import argparse
import sys

from slmdesk.core.library.store import ModelLibrary
from slmdesk.core.server.request_log import RequestRecord
from slmdesk.core.server.server import (
    DEFAULT_HOST,
    DEFAULT_MAX_WAITING,
    DEFAULT_PORT,
    LocalServer,
    ServerConfig,
)
from slmdesk.core.server.token import ServerToken
from slmdesk.paths import app_paths


def add_serve_parser(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="serve the library's models to OpenAI clients (loopback, with a token)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"the port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"the address to listen on (default {DEFAULT_HOST}, this computer "
                            "only; any other needs --allow-network)")
    serve.add_argument("--allow-network", action="store_true",
                       help="allow a --host that other computers can reach")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let web pages from this origin call the server (CORS), e.g. "
                            "http://localhost:3000 (repeatable; none by default)")
    serve.add_argument("--max-waiting", type=int, default=DEFAULT_MAX_WAITING, metavar="N",
                       help="requests that may wait for the model; beyond that the answer is "
                            f"503 (default {DEFAULT_MAX_WAITING})")
    serve.add_argument("--rotate-token", action="store_true",
                       help="make a new token first (the old one stops working)")
    serve.add_argument("--quiet", action="store_true", help="do not print each request")


def _print_record(record: RequestRecord) -> None:
    tokens = f"{record.prompt_tokens}+{record.completion_tokens} tokens"
    print(f"{record.time}  {record.status}  {record.endpoint}  {record.model or '-'}  "
          f"{tokens}  {record.seconds:.2f} s  {record.outcome}", file=sys.stderr, flush=True)


def run_serve(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    library = ModelLibrary.open(paths)
    try:
        library.ensure_starter()  # the starters are served from the first start, like Chat
    finally:
        library.close()
    if args.rotate_token:
        ServerToken.for_paths(paths).rotate()
    server = LocalServer(paths, ServerConfig(
        host=args.host, port=args.port, allow_network=args.allow_network,
        allow_origins=tuple(args.allow_origin), max_waiting=max(0, args.max_waiting)))
    if server.warning:
        print(server.warning, file=sys.stderr)
    if not args.quiet:
        server.log.subscribe(_print_record)
    print(f"SLM Desk is serving the OpenAI API at {server.base_url}", flush=True)
    print(f"token: {server.token.current()}", flush=True)
    print("Stop it with Ctrl+C.", file=sys.stderr, flush=True)
    server.run()
    return 0
